package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/spf13/cobra"
)

// walk calls fn for every command under c, c included.
func walk(c *cobra.Command, fn func(*cobra.Command)) {
	fn(c)
	for _, sub := range c.Commands() {
		walk(sub, fn)
	}
}

func TestNewRoot_EveryCommandHasHelpWithExample(t *testing.T) {
	root := NewRoot(Env{Stdout: &bytes.Buffer{}, Stderr: &bytes.Buffer{}, Getenv: func(string) string { return "" }})
	n := 0
	walk(root, func(c *cobra.Command) {
		if c.Hidden { // plumbing the server runs (wal-archive, ...), not for people
			return
		}
		n++
		if c.Short == "" {
			t.Errorf("%q has no Short", c.CommandPath())
		}
		if strings.TrimSpace(c.Example) == "" {
			t.Errorf("%q has no Example", c.CommandPath())
		}
		var out bytes.Buffer
		args := append(strings.Fields(c.CommandPath())[1:], "--help")
		code := Run(context.Background(), args, Env{Stdout: &out, Stderr: &out, Getenv: func(string) string { return "" }})
		if code != 0 || !strings.Contains(out.String(), "Examples:") {
			t.Errorf("db9 %s: exit %d, output without Examples:\n%s", strings.Join(args, " "), code, out.String())
		}
	})
	if n < 40 {
		t.Errorf("walked %d commands; the tree looks incomplete", n)
	}
}

func TestSQLComplete(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"select 1;", true},
		{"select 1", false},
		{"select 1;  \n", true},
		{"select 1; -- done\n", true},
		{"select ';'", false},
		{"select ';';", true},
		{"select 'it''s;'", false},
		{`select E'a\';'`, false},
		{`select E'a\';';`, true},
		{`select "a;b"`, false},
		{"select $$;$$", false},
		{"select $$;$$;", true},
		{"create function f() returns int as $body$ select 1; $body$", false},
		{"create function f() returns int as $body$ select 1; $body$ language sql;", true},
		{"select $1;", true},
		{"select 1 /* ; */", false},
		{"select 1 /* /* ; */ */;", true},
		{"select 1 -- ;", false},
		{"", false},
		{";", true},
	}
	for _, tt := range tests {
		if got := sqlComplete(tt.in); got != tt.want {
			t.Errorf("sqlComplete(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func FuzzSQLComplete(f *testing.F) {
	for _, s := range []string{"select 1;", "$$;$$", "E'\\';'", "/* /* */ */;", "-- x\n;"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		// Never panics; a statement plus ";\n" after a complete one stays complete.
		if sqlComplete(s) && !sqlComplete(s+"\nselect 1;") {
			t.Errorf("complete %q followed by a statement is not complete", s)
		}
	})
}

func TestStore_Credentials_RoundTripAndModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), ".db9")
	st := store{dir: dir}
	if _, ok, err := st.LoadCredentials(); ok || err != nil {
		t.Fatalf("empty store: ok %v err %v", ok, err)
	}
	want := Credentials{Token: "t\"ok\\en", CustomerID: "c", AnonymousID: "c", AnonymousSecret: "s", IsAnonymous: true}
	if err := st.SaveCredentials(want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := st.LoadCredentials()
	if err != nil || !ok {
		t.Fatalf("load: ok %v err %v", ok, err)
	}
	if diff := cmp.Diff(want, got, cmp.AllowUnexported(Credentials{})); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	for path, mode := range map[string]os.FileMode{dir: 0o700, st.credentialsPath(): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), mode)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
}

func TestParseTOML_KeepsUnknownKeysAndTables(t *testing.T) {
	in := "# written by another tool\ntoken = 'lit' # comment\nregion = \"eu\"\nis_anonymous = false\n\n[profile.x]\ntoken = \"other\"\n"
	d, err := parseTOML(in)
	if err != nil {
		t.Fatal(err)
	}
	if d.str("token") != "lit" || d.str("region") != "eu" || d.str("is_anonymous") != "false" {
		t.Errorf("values: token %q region %q", d.str("token"), d.str("region"))
	}
	d.set("token", quoteTOML("new"))
	out := d.String()
	for _, want := range []string{`token = "new"`, `region = "eu"`, "[profile.x]\ntoken = \"other\""} {
		if !strings.Contains(out, want) {
			t.Errorf("rewritten file lacks %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"token", "token = \"open", "token = 'open"} {
		if _, err := parseTOML(bad); err == nil {
			t.Errorf("parseTOML(%q): no error", bad)
		}
	}
}

func TestRedactPassword(t *testing.T) {
	got := redactPassword("postgresql://abc.admin:s3cr3t@127.0.0.1:5433/postgres")
	if got != "postgresql://abc.admin:****@127.0.0.1:5433/postgres" {
		t.Errorf("got %s", got)
	}
}

func TestParseScopes(t *testing.T) {
	got, err := parseScopes([]string{"app:ro", "other:rw"})
	if err != nil || len(got) != 2 || got[0] != [2]string{"app", "ro"} {
		t.Errorf("got %v, %v", got, err)
	}
	for _, bad := range []string{"app", "app:rx", ":ro"} {
		if _, err := parseScopes([]string{bad}); err == nil {
			t.Errorf("parseScopes(%q): no error", bad)
		}
	}
}
