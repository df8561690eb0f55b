package e2e

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/db9/db9/internal/fs9/fusefs"
)

// bgCommand is a db9 command left running while the test works beside it.
type bgCommand struct {
	t      *testing.T
	cmd    *exec.Cmd
	mu     sync.Mutex
	out    bytes.Buffer
	errOut bytes.Buffer
	exited chan struct{}
}

// start runs db9 as this user in the background; a command still running
// at cleanup is killed.
func (u *cliUser) start(args ...string) *bgCommand {
	u.t.Helper()
	b := &bgCommand{t: u.t, exited: make(chan struct{})}
	b.cmd = exec.Command(db9Binary(u.t), args...)
	b.cmd.Env = append(os.Environ(), "HOME="+u.Home, "DB9_API_URL="+u.APIURL, "DB9_API_KEY=", "DB9_DATABASE=",
		"DB9_DATA_DIR=", "DB9_CATALOG_URL=")
	b.cmd.Stdout = lockedWriter{mu: &b.mu, b: &b.out}
	b.cmd.Stderr = lockedWriter{mu: &b.mu, b: &b.errOut}
	if err := b.cmd.Start(); err != nil {
		u.t.Fatal(err)
	}
	go func() {
		_ = b.cmd.Wait()
		close(b.exited)
	}()
	u.t.Cleanup(func() {
		select {
		case <-b.exited:
		default:
			_ = b.cmd.Process.Kill()
			<-b.exited
		}
	})
	return b
}

func (b *bgCommand) output() (stdout, stderr string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.out.String(), b.errOut.String()
}

// waitFor waits until ok holds; it fails the test when the command exits
// first or a minute went by.
func (b *bgCommand) waitFor(what string, ok func() bool) {
	b.t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ok() {
		select {
		case <-b.exited:
			out, errOut := b.output()
			b.t.Fatalf("%s: db9 exited first (%v)\nstdout: %s\nstderr: %s", what, b.cmd.ProcessState, out, errOut)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			out, errOut := b.output()
			b.t.Fatalf("%s: not after a minute\nstdout: %s\nstderr: %s", what, out, errOut)
		}
	}
}

// stop sends sig and returns the exit code.
func (b *bgCommand) stop(sig os.Signal) int {
	b.t.Helper()
	if err := b.cmd.Process.Signal(sig); err != nil {
		b.t.Fatal(err)
	}
	select {
	case <-b.exited:
		return b.cmd.ProcessState.ExitCode()
	case <-time.After(time.Minute):
		out, errOut := b.output()
		b.t.Fatalf("db9 did not exit on %v\nstdout: %s\nstderr: %s", sig, out, errOut)
		return -1
	}
}

// mountedAt reports whether dir is a mount point.
func mountedAt(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// startMount runs db9 fs mount and waits for the mount; it skips when
// this machine has no usable FUSE (skipped with a message,
// also under CI).
func startMount(t *testing.T, u *cliUser, args ...string) (*bgCommand, string) {
	t.Helper()
	dir := t.TempDir()
	p := u.start(append(append([]string{"fs", "mount"}, args...), dir)...)
	deadline := time.Now().Add(time.Minute)
	for !mountedAt(t, dir) {
		select {
		case <-p.exited:
			_, errOut := p.output()
			if strings.Contains(errOut, "FUSE is not available") {
				t.Skipf("db9 fs mount is not tested here: %s", errOut)
			}
			t.Fatalf("db9 fs mount exited: %s", errOut)
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("db9 fs mount did not mount within a minute")
		}
	}
	return p, dir
}

// db9 fs mount through the real binary and server: files written through
// the mount are seen by fs cat and SQL and the reverse; Ctrl-C and
// SIGTERM unmount; --read-only refuses changes.
func TestCLI_FSMount(t *testing.T) {
	t.Parallel()
	if err := fusefs.Check(); err != nil {
		t.Skipf("db9 fs mount is not tested here: %v", err)
	}
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "files")
	if out, errOut, code := u.run("seeded\n", "fs", "cp", "-", "files:/seed.txt"); code != 0 {
		t.Fatalf("seed: %s %s", out, errOut)
	}

	p, dir := startMount(t, u, "files")
	if got, err := os.ReadFile(filepath.Join(dir, "seed.txt")); err != nil || string(got) != "seeded\n" {
		t.Errorf("read through the mount: %q, %v", got, err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "docs"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "docs", "hello.md"), []byte("# hello\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := u.ok("fs", "cat", "files:/docs/hello.md"); out != "# hello\n" {
		t.Errorf("fs cat of a file written through the mount: %q", out)
	}
	if out := u.ok("sql", "files", "-q", "select fs9_read('/docs/hello.md') = E'# hello\\n' as same"); !strings.Contains(out, " true\n") {
		t.Errorf("fs9_read of a file written through the mount:\n%s", out)
	}
	if out, errOut, code := u.run("from the CLI", "fs", "cp", "-", "files:/docs/cli.txt"); code != 0 {
		t.Fatalf("cp: %s %s", out, errOut)
	}
	if got, err := os.ReadFile(filepath.Join(dir, "docs", "cli.txt")); err != nil || string(got) != "from the CLI" {
		t.Errorf("read through the mount of a file copied up: %q, %v", got, err)
	}
	if err := os.Rename(filepath.Join(dir, "docs", "hello.md"), filepath.Join(dir, "docs", "README.md")); err != nil {
		t.Fatal(err)
	}
	var names []string
	es, err := os.ReadDir(filepath.Join(dir, "docs"))
	for _, e := range es {
		names = append(names, e.Name())
	}
	if want := []string{"README.md", "cli.txt"}; err != nil || !slices.Equal(names, want) {
		t.Errorf("readdir after rename = %v, %v; want %v", names, err, want)
	}
	if err := os.Remove(filepath.Join(dir, "docs", "cli.txt")); err != nil {
		t.Fatal(err)
	}
	if line := u.fails("", "fs", "cat", "files:/docs/cli.txt"); !strings.Contains(line, "ENOENT") {
		t.Errorf("cat of a file removed through the mount: %s", line)
	}
	if code := p.stop(os.Interrupt); code != 0 {
		_, errOut := p.output()
		t.Errorf("Ctrl-C: exit %d: %s", code, errOut)
	}
	if mountedAt(t, dir) {
		t.Errorf("%s still mounted after Ctrl-C", dir)
	}

	ro, dir := startMount(t, u, "--read-only", "files")
	if got, err := os.ReadFile(filepath.Join(dir, "docs", "README.md")); err != nil || string(got) != "# hello\n" {
		t.Errorf("read-only mount reads %q, %v", got, err)
	}
	if err := os.WriteFile(filepath.Join(dir, "x.txt"), []byte("x"), 0o644); !errors.Is(err, syscall.EROFS) {
		t.Errorf("write to a read-only mount: %v, want EROFS", err)
	}
	if code := ro.stop(syscall.SIGTERM); code != 0 {
		_, errOut := ro.output()
		t.Errorf("SIGTERM: exit %d: %s", code, errOut)
	}
	if mountedAt(t, dir) {
		t.Errorf("%s still mounted after SIGTERM", dir)
	}

	// A mount point that is not a directory is an error, not a hang.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if line := u.fails("", "fs", "mount", "files", file); !strings.Contains(line, "not a directory") {
		t.Errorf("mount on a file: %s", line)
	}
}
