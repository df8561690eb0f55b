package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/client"
)

// cliUser is one user of the db9 CLI: a HOME of its own, talking to one server.
type cliUser struct {
	t      *testing.T
	s      *Server
	Home   string
	APIURL string
	Env    []string // extra environment, e.g. DB9_API_KEY=...
}

func newCLIUser(t *testing.T, s *Server) *cliUser {
	return &cliUser{t: t, s: s, Home: t.TempDir(), APIURL: "http://" + s.Addr}
}

// run runs the db9 binary as this user with stdin (may be empty).
func (u *cliUser) run(stdin string, args ...string) (stdout, stderr string, code int) {
	u.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, db9Binary(u.t), args...)
	cmd.Env = append(os.Environ(), "HOME="+u.Home, "DB9_API_URL="+u.APIURL, "DB9_API_KEY=", "DB9_DATABASE=",
		"DB9_DATA_DIR=", "DB9_CATALOG_URL=")
	cmd.Env = append(cmd.Env, u.Env...)
	cmd.Stdin = strings.NewReader(stdin)
	var o, e bytes.Buffer
	cmd.Stdout, cmd.Stderr = &o, &e
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		u.t.Fatalf("run db9 %v: %v", args, err)
	}
	return o.String(), e.String(), cmd.ProcessState.ExitCode()
}

// ok runs a command that must succeed and returns its stdout.
func (u *cliUser) ok(args ...string) string {
	u.t.Helper()
	out, errOut, code := u.run("", args...)
	if code != 0 {
		u.t.Fatalf("db9 %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// okJSON runs a command with --json and decodes its output into v.
func (u *cliUser) okJSON(v any, args ...string) {
	u.t.Helper()
	out := u.ok(append(args, "--json")...)
	if err := json.Unmarshal([]byte(out), v); err != nil {
		u.t.Fatalf("db9 %s --json: output is not JSON (%v):\n%s", strings.Join(args, " "), err, out)
	}
}

// fails runs a command that must fail with exit code 1 and exactly one
// line on stderr, no stack trace; it returns that line.
func (u *cliUser) fails(stdin string, args ...string) string {
	u.t.Helper()
	out, errOut, code := u.run(stdin, args...)
	line := strings.TrimRight(errOut, "\n")
	switch {
	case code != 1:
		u.t.Errorf("db9 %s: exit %d, want 1\nstdout: %s\nstderr: %s", strings.Join(args, " "), code, out, errOut)
	case strings.Count(line, "\n") != 0 || !strings.HasPrefix(line, "error: "):
		u.t.Errorf("db9 %s: stderr is not one \"error: \" line:\n%s", strings.Join(args, " "), errOut)
	case strings.Contains(errOut, "goroutine ") || strings.Contains(errOut, "panic"):
		u.t.Errorf("db9 %s: stack trace on stderr:\n%s", strings.Join(args, " "), errOut)
	case !strings.Contains(line, "(hint: "):
		u.t.Errorf("db9 %s: error without a hint: %s", strings.Join(args, " "), line)
	}
	return line
}

// apiClient returns a Go client of the server with the user's saved token.
func (u *cliUser) apiClient() *client.Client {
	u.t.Helper()
	c, err := client.New(u.APIURL, nil)
	if err != nil {
		u.t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(u.Home, ".db9", "credentials"))
	if err != nil {
		u.t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^token = "([0-9a-f]+)"`).FindSubmatch(b)
	if m == nil {
		u.t.Fatalf("no token in credentials:\n%s", b)
	}
	c.Token = string(m[1])
	return c
}

func TestCLI_FirstCreateRegistersAnonymously(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)

	out, errOut, code := u.run("", "create", "--name", "first")
	if code != 0 {
		t.Fatalf("first create: exit %d\n%s%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "anonymous account") || !strings.Contains(out, "first") || !strings.Contains(out, "ACTIVE") {
		t.Errorf("first create: stdout %q stderr %q", out, errOut)
	}
	if strings.Contains(out, "admin:") && !strings.Contains(out, ":****@") {
		t.Errorf("create printed the password without --show-password:\n%s", out)
	}
	dir := filepath.Join(u.Home, ".db9")
	for path, mode := range map[string]os.FileMode{dir: 0o700, filepath.Join(dir, "credentials"): 0o600} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != mode {
			t.Errorf("%s: mode %o, want %o", path, fi.Mode().Perm(), mode)
		}
	}
	creds, _ := os.ReadFile(filepath.Join(dir, "credentials"))
	for _, re := range []string{`(?m)^token = "[0-9a-f]{32,}"$`, `(?m)^customer_id = "[0-9a-f-]{36}"$`, `(?m)^anonymous_id = "[0-9a-f-]{36}"$`,
		`(?m)^anonymous_secret = "[^"]+"$`, `(?m)^is_anonymous = true$`} {
		if !regexp.MustCompile(re).Match(creds) {
			t.Errorf("credentials lack %s:\n%s", re, creds)
		}
	}

	// A second create reuses the account; no name makes a friendly one.
	var d client.Database
	u.okJSON(&d, "create", "--show-password")
	if !regexp.MustCompile(`^[a-z]+-[a-z]+-\d{2}$`).MatchString(d.Name) || d.State != "ACTIVE" || d.AdminPassword == "" {
		t.Errorf("create without --name: %+v", d)
	}
	var me client.Me
	me, err := u.apiClient().Accounts.Me(context.Background())
	if err != nil || !me.IsAnonymous {
		t.Errorf("me: %+v %v", me, err)
	}
	var dbs []client.Database
	u.okJSON(&dbs, "list")
	if len(dbs) != 2 {
		t.Errorf("list --json: %d databases, want 2", len(dbs))
	}
	if out := u.ok("list"); !strings.Contains(out, "NAME") || !strings.Contains(out, "first") || !strings.Contains(out, d.Name) {
		t.Errorf("list:\n%s", out)
	}

	// sql prints an aligned table; --json and --output json print the API's JSON.
	out = u.ok("sql", "first", "-q", "select 1")
	want := " ?column?\n----------\n        1\n(1 row)\n"
	if out != want {
		t.Errorf("sql select 1:\n%q\nwant\n%q", out, want)
	}
	var res client.SQLResult
	u.okJSON(&res, "sql", "first", "-q", "select 1 as one, 'x' as s")
	if len(res.Rows) != 1 || string(res.Rows[0][0]) != "1" || string(res.Rows[0][1]) != `"x"` || res.Columns[0].Name != "one" {
		t.Errorf("sql --json: %+v", res)
	}
	if out := u.ok("db", "sql", "first", "-q", "select 2 as two", "--output", "json"); !strings.Contains(out, `"two"`) {
		t.Errorf("db sql --output json: %s", out)
	}

	// A script with -f, then the default database from `use`.
	script := filepath.Join(t.TempDir(), "s.sql")
	os.WriteFile(script, []byte("create table t (id int primary key, v text);\ninsert into t values (1, 'a'), (2, 'b');\n"), 0o644)
	if out := u.ok("sql", "first", "-f", script); !strings.Contains(out, "INSERT 0 2") {
		t.Errorf("sql -f: %s", out)
	}
	u.ok("use", "first")
	if out := u.ok("use"); strings.TrimSpace(out) != "first" {
		t.Errorf("use: %q", out)
	}
	if out := u.ok("sql", "-q", "select v from t order by id"); !strings.Contains(out, " a\n b\n(2 rows)") {
		t.Errorf("sql on the default database:\n%s", out)
	}

	// Piped input runs statement by statement; multi-line statements end with ;.
	out, errOut, code = u.run("select 1\n  as a;\nselect 'x;y' as b;\n\\q\n", "sql")
	if code != 0 || !strings.Contains(out, " a\n---\n 1\n(1 row)") || !strings.Contains(out, " x;y\n") {
		t.Errorf("piped session: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	line := u.fails("select 1;\nselec 2;\nselect 3;\n", "sql", "first")
	if !strings.Contains(line, "42601") {
		t.Errorf("piped session error: %s", line)
	}

	var st map[string]any
	u.okJSON(&st, "status")
	if st["authenticated"] != true || st["is_anonymous"] != true || st["default_database"] != "first" {
		t.Errorf("status --json: %v", st)
	}
	var got client.Database
	u.okJSON(&got, "db", "status", "first")
	if got.Name != "first" || got.State != "ACTIVE" {
		t.Errorf("db status --json: %+v", got)
	}
	if out := u.ok("db", "connect", "first", "--env"); !strings.Contains(out, "export PGPASSWORD='") || !strings.Contains(out, "export DATABASE_URL='postgresql://") {
		t.Errorf("db connect --env:\n%s", out)
	}
	var cr client.Credentials
	u.okJSON(&cr, "db", "reset-password", "first")
	if cr.AdminPassword == "" {
		t.Errorf("reset-password: %+v", cr)
	}

	// delete refuses without --yes off a terminal, then deletes.
	if line := u.fails("", "delete", "first"); !strings.Contains(line, "--yes") {
		t.Errorf("delete without --yes: %s", line)
	}
	u.ok("delete", "first", "--yes")
	if line := u.fails("", "sql", "first", "-q", "select 1"); !strings.Contains(line, `"first" not found`) {
		t.Errorf("sql on a deleted database: %s", line)
	}
	if _, err := os.Stat(filepath.Join(dir, "config.toml")); err != nil {
		t.Errorf("settings file: %v", err)
	}
}

func TestCLI_AnonymousSessionRefreshesOnce(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "r")
	path := filepath.Join(u.Home, ".db9", "credentials")
	b, _ := os.ReadFile(path)
	old := regexp.MustCompile(`(?m)^token = .*$`)
	os.WriteFile(path, old.ReplaceAll(b, []byte(`token = "`+strings.Repeat("0", 128)+`"`)), 0o600)

	if out := u.ok("list"); !strings.Contains(out, "r ") {
		t.Errorf("list after a 401 and refresh:\n%s", out)
	}
	nb, _ := os.ReadFile(path)
	if bytes.Contains(nb, []byte(strings.Repeat("0", 128))) {
		t.Errorf("the refreshed token was not saved:\n%s", nb)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode after refresh: %o", fi.Mode().Perm())
	}

	// A secret the server rejects: one clear line, no loop.
	secret := regexp.MustCompile(`(?m)^anonymous_secret = .*$`)
	os.WriteFile(path, secret.ReplaceAll(old.ReplaceAll(nb, []byte(`token = "bad"`)), []byte(`anonymous_secret = "wrong"`)), 0o600)
	if line := u.fails("", "list"); !strings.Contains(line, "refreshed") {
		t.Errorf("refresh with a wrong secret: %s", line)
	}
}

func TestCLI_BadInputIsOneLineAndExit1(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "good")

	tests := []struct {
		name  string
		args  []string
		env   []string
		stdin string
		has   string
	}{
		{"unknown database", []string{"sql", "nosuch", "-q", "select 1"}, nil, "", `database "nosuch" not found`},
		{"unknown database status", []string{"db", "status", "nosuch"}, nil, "", "not found"},
		{"unknown database delete", []string{"delete", "nosuch", "--yes"}, nil, "", "not found"},
		{"unknown flag", []string{"create", "--bogus"}, nil, "", "unknown flag: --bogus"},
		{"missing flag value", []string{"sql", "good", "-q"}, nil, "", "flag needs an argument"},
		{"bad output", []string{"list", "--output", "yaml"}, nil, "", "--output"},
		{"unknown command", []string{"frobnicate"}, nil, "", "unknown command"},
		{"unknown subcommand", []string{"db", "frobnicate"}, nil, "", "unknown command"},
		{"too many args", []string{"delete", "a", "b"}, nil, "", "want"},
		{"q and f", []string{"sql", "good", "-q", "select 1", "-f", "x.sql"}, nil, "", "together"},
		{"missing file", []string{"sql", "good", "-f", "/nonexistent.sql"}, nil, "", "/nonexistent.sql"},
		{"bad snapshot", []string{"branch", "create", "good", "--snapshot-at", "yesterday"}, nil, "", "RFC 3339"},
		{"bad scope", []string{"token", "create", "--scope", "good:admin"}, nil, "", "ro or <db>:rw"},
		{"duplicate name", []string{"create", "--name", "good"}, nil, "", "good"},
		{"sql error", []string{"sql", "good", "-q", "select nope"}, nil, "", "42703"},
		{"no database", []string{"sql", "-q", "select 1"}, nil, "", "no database given"},
		{"server down", []string{"list", "--api-url", "http://" + freePort(t)}, nil, "", "cannot reach"},
		{"bad api url", []string{"list", "--api-url", "ftp://x"}, nil, "", "invalid API URL"},
		{"invalid api key", []string{"list"}, []string{"DB9_API_KEY=" + strings.Repeat("ab", 64)}, "", "DB9_API_KEY was rejected"},
		{"login with a bad key", []string{"login", "--api-key", "nope"}, nil, "", "rejected"},
		{"login without key", []string{"login"}, nil, "", "--api-key"},
		{"sql error in --json", []string{"sql", "good", "-q", "select 1/0", "--json"}, nil, "", "22012"},
		{"claim with a bad id_token", []string{"claim", "--id-token", "not-a-jwt"}, nil, "", ""},
		{"claim without id_token", []string{"claim"}, nil, "", "--id-token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := *u
			v.t, v.Env = t, tt.env
			if line := v.fails(tt.stdin, tt.args...); !strings.Contains(line, tt.has) {
				t.Errorf("db9 %s: %q does not mention %q", strings.Join(tt.args, " "), line, tt.has)
			}
		})
	}

	// An invalid token saved by `login` (not anonymous: no refresh).
	v := newCLIUser(t, s)
	os.MkdirAll(filepath.Join(v.Home, ".db9"), 0o700)
	os.WriteFile(filepath.Join(v.Home, ".db9", "credentials"), []byte("token = \"expired\"\nis_anonymous = false\n"), 0o600)
	if line := v.fails("", "list"); !strings.Contains(line, "saved token was rejected") || !strings.Contains(line, "db9 login") {
		t.Errorf("invalid saved token: %s", line)
	}
	// Not logged in and a command that does not register.
	w := newCLIUser(t, s)
	if line := w.fails("", "db", "status", "good"); !strings.Contains(line, "not logged in") {
		t.Errorf("not logged in: %s", line)
	}
}

func TestCLI_HelpListsTheCommandTree(t *testing.T) {
	t.Parallel()
	out, _, code := runDB9(t, "--help")
	if code != 0 {
		t.Fatalf("db9 --help: exit %d", code)
	}
	for _, want := range []string{"Examples:", "create", "branch", "    create", "migration", "token", "completion", "users", "inspect"} {
		if !strings.Contains(out, want) {
			t.Errorf("db9 --help lacks %q:\n%s", want, out)
		}
	}
	for _, shell := range []string{"bash", "zsh", "fish"} {
		out, _, code := runDB9(t, "completion", shell)
		if code != 0 || !strings.Contains(out, "db9") {
			t.Errorf("completion %s: exit %d", shell, code)
		}
	}
}

func TestCLI_LoginWithAPIKey(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	out, errOut, code := runDB9(t, "admin", "customer", "create", "--email", "cli@example.com", "--data-dir", s.DataDir, "--json")
	if code != 0 {
		t.Fatalf("admin customer create: %d %s", code, errOut)
	}
	var c struct{ Token string }
	json.Unmarshal([]byte(out), &c)
	u := newCLIUser(t, s)
	if _, errOut, code := u.run(c.Token+"\n", "login", "--api-key", "-"); code != 0 {
		t.Fatalf("login: %s", errOut)
	}
	var st map[string]any
	u.okJSON(&st, "status")
	if st["authenticated"] != true || st["is_anonymous"] != false || st["email"] != "cli@example.com" {
		t.Errorf("status after login: %v", st)
	}
	u.ok("create", "--name", "full")
	u.ok("logout")
	if line := u.fails("", "db", "status", "full"); !strings.Contains(line, "not logged in") {
		t.Errorf("after logout: %s", line)
	}
	u.Env = []string{"DB9_API_KEY=" + c.Token}
	if out := u.ok("list"); !strings.Contains(out, "full") {
		t.Errorf("list with DB9_API_KEY:\n%s", out)
	}
}

// Agents run commands in parallel: several first `db9 create`s at once in a
// fresh HOME register one anonymous account between them, and every
// database they made is in it (not in accounts whose credentials the last
// writer of ~/.db9/credentials overwrote).
func TestCLI_ConcurrentFirstCreates_OneAccount(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	const n = 4
	type result struct {
		out  string
		err  error
		name string
	}
	results := make(chan result, n)
	for i := range n {
		name := fmt.Sprintf("par%d", i)
		go func() {
			cmd := exec.Command(db9Binary(t), "create", "--name", name)
			cmd.Env = append(os.Environ(), "HOME="+u.Home, "DB9_API_URL="+u.APIURL, "DB9_API_KEY=", "DB9_DATABASE=")
			out, err := cmd.CombinedOutput()
			results <- result{string(out), err, name}
		}()
	}
	for range n {
		r := <-results
		if r.err != nil {
			t.Errorf("db9 create --name %s: %v\n%s", r.name, r.err, r.out)
		}
	}
	var dbs []struct{ Name string }
	u.okJSON(&dbs, "list")
	var names []string
	for _, d := range dbs {
		names = append(names, d.Name)
	}
	slices.Sort(names)
	if want := []string{"par0", "par1", "par2", "par3"}; !slices.Equal(names, want) {
		t.Errorf("databases of the saved account: %v, want %v", names, want)
	}
}
