package e2e

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// db9 fs through the real CLI binary and server: a few MiB up and down
// with matching SHA-256, stdin and stdout, directories, the other commands.
func TestCLI_FS(t *testing.T) {
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "files")
	dir := t.TempDir()
	big := randomBytes(t, 5<<20+123)
	if err := os.WriteFile(filepath.Join(dir, "big.bin"), big, 0o644); err != nil {
		t.Fatal(err)
	}
	u.ok("fs", "cp", filepath.Join(dir, "big.bin"), "files:/up/")
	down := filepath.Join(dir, "down.bin")
	u.ok("fs", "cp", "files:/up/big.bin", down)
	got, err := os.ReadFile(down)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(got) != sha256.Sum256(big) {
		t.Fatalf("round trip: %d bytes with another SHA-256 than the %d sent", len(got), len(big))
	}

	// stdin and stdout; the cat shortcut.
	out, errOut, code := u.run("line one\nline two\n", "fs", "cp", "-", "files:/notes/a.txt")
	if code != 0 {
		t.Fatalf("cp from stdin: %d %s %s", code, out, errOut)
	}
	if out := u.ok("cat", "files:/notes/a.txt"); out != "line one\nline two\n" {
		t.Errorf("db9 cat = %q", out)
	}
	if out := u.ok("fs", "cp", "files:/notes/a.txt", "-"); out != "line one\nline two\n" {
		t.Errorf("cp to stdout = %q", out)
	}

	// Directories both ways.
	tree := filepath.Join(dir, "tree")
	for name, body := range map[string]string{"a.txt": "A", "sub/b.txt": "BB", "sub/deeper/c.txt": "CCC"} {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	u.fails("", "fs", "cp", tree, "files:/tree")
	u.ok("fs", "cp", "-r", tree, "files:/tree")
	if out := u.ok("fs", "ls", "-R", "files:/tree"); !strings.Contains(out, "/tree/sub/deeper/c.txt") {
		t.Errorf("ls -R:\n%s", out)
	}
	back := filepath.Join(dir, "back")
	u.ok("fs", "cp", "-r", "files:/tree", back)
	if b, err := os.ReadFile(filepath.Join(back, "sub", "deeper", "c.txt")); err != nil || string(b) != "CCC" {
		t.Errorf("copied back: %q, %v", b, err)
	}

	// stat, mv, mkdir, rm.
	var st struct {
		Type string `json:"type"`
		Size int64  `json:"size"`
	}
	u.okJSON(&st, "fs", "stat", "files:/up/big.bin")
	if st.Type != "file" || st.Size != int64(len(big)) {
		t.Errorf("stat = %+v", st)
	}
	u.ok("mv", "files:/notes/a.txt", "files:/notes/b.txt")
	u.ok("fs", "mkdir", "-p", "files:/x/y/z")
	var ls []struct {
		Path string `json:"path"`
	}
	u.okJSON(&ls, "fs", "ls", "files:/notes")
	if b, _ := json.Marshal(ls); !bytes.Contains(b, []byte("/notes/b.txt")) || bytes.Contains(b, []byte("/notes/a.txt")) {
		t.Errorf("ls after mv: %s", b)
	}
	line := u.fails("", "fs", "rm", "files:/tree")
	if !strings.Contains(line, "ENOTEMPTY") {
		t.Errorf("rm of a non-empty directory: %s", line)
	}
	u.ok("fs", "rm", "-r", "files:/tree")
	if line := u.fails("", "fs", "cat", "files:/tree/a.txt"); !strings.Contains(line, "ENOENT") {
		t.Errorf("cat of a removed file: %s", line)
	}
}
