package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// db9 fs cp with globs both ways and with progress on a terminal, and db9
// fs tailf following a file as it grows and is replaced by a shorter one.
func TestCLI_FSGlobAndTailf(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "logs")
	put := func(p, body string) {
		t.Helper()
		if out, errOut, code := u.run(body, "fs", "cp", "-", "logs:"+p); code != 0 {
			t.Fatalf("cp - logs:%s: %s %s", p, out, errOut)
		}
	}
	for p, body := range map[string]string{"/logs/a.csv": "a\n", "/logs/b.csv": "b\n", "/logs/c.txt": "c\n", "/logs/2024/d.csv": "d\n"} {
		put(p, body)
	}
	out := t.TempDir()
	read := func(p string) string {
		b, err := os.ReadFile(filepath.Join(out, filepath.FromSlash(p)))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}

	u.ok("fs", "cp", "logs:/logs/*.csv", filepath.Join(out, "flat"))
	if read("flat/a.csv") != "a\n" || read("flat/b.csv") != "b\n" {
		t.Errorf("cp 'logs:/logs/*.csv': a.csv %q, b.csv %q", read("flat/a.csv"), read("flat/b.csv"))
	}
	for _, p := range []string{"flat/c.txt", "flat/2024", "flat/d.csv"} {
		if _, err := os.Stat(filepath.Join(out, p)); err == nil {
			t.Errorf("cp 'logs:/logs/*.csv' copied %s", p)
		}
	}
	u.ok("fs", "cp", "logs:/logs/**/*.csv", filepath.Join(out, "deep"))
	if read("deep/a.csv") != "a\n" || read("deep/2024/d.csv") != "d\n" {
		t.Errorf("cp 'logs:/logs/**/*.csv': a.csv %q, 2024/d.csv %q", read("deep/a.csv"), read("deep/2024/d.csv"))
	}
	if line := u.fails("", "fs", "cp", "logs:/logs/*.json", out); !strings.Contains(line, "ENOENT") || !strings.Contains(line, "no file matches") {
		t.Errorf("cp of a glob without matches: %s", line)
	}
	// A quoted local glob is expanded by db9, not the shell.
	u.ok("fs", "cp", filepath.Join(out, "deep", "*.csv"), "logs:/up/")
	var ls []struct {
		Path string `json:"path"`
	}
	u.okJSON(&ls, "fs", "ls", "logs:/up")
	if len(ls) != 2 || ls[0].Path != "/up/a.csv" || ls[1].Path != "/up/b.csv" {
		t.Errorf("after cp of a local glob, ls logs:/up = %+v", ls)
	}

	// Copies of 1 MiB or more show progress on a terminal, both ways.
	big := filepath.Join(out, "big.bin")
	if err := os.WriteFile(big, randomBytes(t, 3<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"fs", "cp", big, "logs:/big.bin"}, {"fs", "cp", "logs:/big.bin", big + ".back"}} {
		pt := startOnPTY(t, u, args...)
		if err := pt.wait(); err != nil {
			t.Fatalf("db9 %v on a terminal: %v\n%s", args, err, pt.text())
		}
		if !strings.Contains(pt.text(), "3.0 / 3.0 MiB") {
			t.Errorf("db9 %v on a terminal showed no progress:\n%q", args, pt.text())
		}
	}

	var lines strings.Builder
	for i := 1; i <= 15; i++ {
		lines.WriteString("line " + string(rune('a'+i-1)) + "\n")
	}
	put("/logs/app.log", lines.String())
	p := u.start("fs", "tailf", "-n", "3", "logs:/logs/app.log")
	want := "line m\nline n\nline o\n"
	stdoutIs := func(what, want string) {
		t.Helper()
		p.waitFor(what, func() bool { o, _ := p.output(); return o == want })
	}
	stdoutIs("the last 3 lines", want)
	// fs9 replaces files whole: what follows the part shown is printed.
	put("/logs/app.log", lines.String()+"line p\nline q\n")
	want += "line p\nline q\n"
	stdoutIs("the lines written after", want)
	u.ok("sql", "logs", "-q", "select fs9_append('/logs/app.log', E'line r\\n')")
	want += "line r\n"
	stdoutIs("the line appended through SQL", want)
	put("/logs/app.log", "rotated\n")
	want += "rotated\n"
	stdoutIs("a shorter file from its start", want)
	if _, errOut := p.output(); !strings.Contains(errOut, "file truncated") {
		t.Errorf("no truncation note on stderr: %q", errOut)
	}
	if code := p.stop(os.Interrupt); code != 0 {
		t.Errorf("tailf after Ctrl-C: exit %d", code)
	}
	if line := u.fails("", "fs", "tailf", "logs:/logs"); !strings.Contains(line, "EISDIR") {
		t.Errorf("tailf of a directory: %s", line)
	}

	// A file not written yet is waited for, then printed whole.
	p = u.start("fs", "tailf", "logs:/logs/later.log")
	p.waitFor("the waiting note", func() bool { _, e := p.output(); return strings.Contains(e, "no such file yet") })
	put("/logs/later.log", "first\n")
	want = "first\n"
	stdoutIs("the file written after tailf started", want)
	if code := p.stop(os.Interrupt); code != 0 {
		t.Errorf("tailf of a later file after Ctrl-C: exit %d", code)
	}
}
