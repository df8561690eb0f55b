package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/db9/db9/internal/client"
)

func TestCLI_Migrations(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "mig")
	dir := filepath.Join(t.TempDir(), "migrations")
	for _, name := range []string{"create users", "add email"} {
		u.ok("migration", "new", name, "--dir", dir)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.sql"))
	if len(files) != 2 || filepath.Base(files[0]) != "0001_create_users.sql" || filepath.Base(files[1]) != "0002_add_email.sql" {
		t.Fatalf("migration new made %v", files)
	}
	os.WriteFile(files[0], []byte("create table users (id int primary key);\n"), 0o644)
	os.WriteFile(files[1], []byte("alter table users add column email text;\n"), 0o644)

	var states []map[string]any
	u.okJSON(&states, "migration", "status", "mig", "--dir", dir)
	if len(states) != 2 || states[0]["status"] != "pending" || states[1]["status"] != "pending" {
		t.Fatalf("status before up: %v", states)
	}
	if out := u.ok("migration", "up", "mig", "--dir", dir); out != "applied 0001_create_users\napplied 0002_add_email\n" {
		t.Errorf("up:\n%s", out)
	}
	third := filepath.Join(dir, "0003_add_name.sql")
	os.WriteFile(third, []byte("alter table users add column name text;\n"), 0o644)
	out := u.ok("migration", "status", "mig", "--dir", dir)
	if !regexp.MustCompile(`0001_create_users\s+applied`).MatchString(out) || !regexp.MustCompile(`0003_add_name\s+pending`).MatchString(out) {
		t.Errorf("status:\n%s", out)
	}
	if out := u.ok("migration", "up", "mig", "--dir", dir); out != "applied 0003_add_name\n" {
		t.Errorf("second up:\n%s", out)
	}
	if out := u.ok("sql", "mig", "-q", "select column_name from information_schema.columns where table_schema = 'public' and table_name = 'users' order by ordinal_position"); !strings.Contains(out, "id\n email\n name\n(3 rows)") {
		t.Errorf("columns after migrations:\n%s", out)
	}
	var applied []client.Migration
	u.okJSON(&applied, "migration", "list", "mig")
	if len(applied) != 3 || applied[0].Name != "0001_create_users" {
		t.Errorf("migration list: %+v", applied)
	}
	// A changed applied file stops `up` before anything runs.
	os.WriteFile(files[0], []byte("create table users (id bigint primary key);\n"), 0o644)
	if line := u.fails("", "migration", "up", "mig", "--dir", dir); !strings.Contains(line, "0001_create_users changed") {
		t.Errorf("up with a modified file: %s", line)
	}
	// A failing migration is reported and nothing of it is applied.
	os.WriteFile(files[0], []byte("create table users (id int primary key);\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "0004_bad.sql"), []byte("create table ok (x int);\nselect nope;\n"), 0o644)
	if line := u.fails("", "migration", "up", "mig", "--dir", dir); !strings.Contains(line, "0004_bad failed") {
		t.Errorf("failing migration: %s", line)
	}
	if out := u.ok("sql", "mig", "-q", "select to_regclass('public.ok') is null as absent"); !strings.Contains(out, " true\n") {
		t.Errorf("a failed migration left a table behind:\n%s", out)
	}
}

func TestCLI_BranchWaitsForActive(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "parent")
	u.ok("sql", "parent", "-q", "create table t (x int); insert into t values (42)")
	var b client.Database
	u.okJSON(&b, "branch", "create", "parent", "--name", "child")
	if b.State != "ACTIVE" || b.Name != "child" || b.ParentDatabaseID == nil {
		t.Fatalf("branch create --json: %+v", b)
	}
	if out := u.ok("sql", "child", "-q", "select x from t"); !strings.Contains(out, "42") {
		t.Errorf("branch data:\n%s", out)
	}
	var list []client.Database
	u.okJSON(&list, "branch", "list", "parent")
	if len(list) < 1 {
		t.Errorf("branch list: %+v", list)
	}
	u.ok("branch", "delete", "child", "--yes")
}

func TestCLI_TokensUsersSchemaDumpConnect(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "app")
	u.ok("sql", "app", "-q", "create table items (id int primary key, name text not null); insert into items values (1, 'x')")

	t.Run("tokens", func(t *testing.T) {
		v := *u
		v.t = t
		var tok client.Token
		v.okJSON(&tok, "token", "create", "--name", "reader", "--scope", "app:ro")
		if len(tok.Token) != 128 || tok.ID == "" {
			t.Fatalf("token create: %+v", tok)
		}
		if out := v.ok("token", "list"); !strings.Contains(out, "reader") || strings.Contains(out, tok.Token) {
			t.Errorf("token list:\n%s", out)
		}
		r := v
		r.Env = []string{"DB9_API_KEY=" + tok.Token}
		if out := r.ok("sql", "app", "-q", "select name from items"); !strings.Contains(out, "x") {
			t.Errorf("scoped read:\n%s", out)
		}
		r.fails("", "sql", "app", "-q", "insert into items values (2, 'y')")
		v.ok("token", "revoke", tok.ID)
		if line := r.fails("", "list"); !strings.Contains(line, "DB9_API_KEY was rejected") {
			t.Errorf("revoked token: %s", line)
		}
	})
	t.Run("users", func(t *testing.T) {
		v := *u
		v.t = t
		var nu client.NewUser
		v.okJSON(&nu, "db", "users", "create", "app", "--username", "worker")
		if nu.Username != "worker" || nu.Password == "" {
			t.Errorf("users create: %+v", nu)
		}
		if out := v.ok("db", "users", "list", "app"); !strings.Contains(out, "worker") {
			t.Errorf("users list:\n%s", out)
		}
		v.ok("db", "users", "delete", "app", "--username", "worker")
		v.fails("", "db", "users", "delete", "app", "--username", "worker")
	})
	t.Run("inspect", func(t *testing.T) {
		v := *u
		v.t = t
		if out := v.ok("db", "inspect", "tables", "app"); !regexp.MustCompile(`public\s+items\s+table\s+2\s+id`).MatchString(out) {
			t.Errorf("inspect tables:\n%s", out)
		}
		if out := v.ok("db", "inspect", "schemas", "app"); !regexp.MustCompile(`public\s+1\s+0`).MatchString(out) {
			t.Errorf("inspect schemas:\n%s", out)
		}
	})
	t.Run("dump", func(t *testing.T) {
		v := *u
		v.t = t
		file := filepath.Join(t.TempDir(), "app.sql")
		v.ok("db", "dump", "app", "-o", file)
		b, _ := os.ReadFile(file)
		if !strings.Contains(string(b), "items") {
			t.Errorf("dump:\n%s", b)
		}
		if out := v.ok("db", "dump", "app", "--ddl-only"); !strings.Contains(out, "CREATE TABLE") {
			t.Errorf("dump --ddl-only:\n%s", out)
		}
		v.ok("create", "--name", "copy")
		v.ok("sql", "copy", "-f", file)
		if out := v.ok("sql", "copy", "-q", "select name from items"); !strings.Contains(out, " x\n") {
			t.Errorf("restored dump:\n%s", out)
		}
	})
	t.Run("connect-token and psql", func(t *testing.T) {
		v := *u
		v.t = t
		var ct client.ConnectToken
		v.okJSON(&ct, "db", "connect-token", "app")
		if ct.Token == "" || !strings.HasSuffix(ct.User, ".admin") {
			t.Errorf("connect-token: %+v", ct)
		}
		if _, err := exec.LookPath("psql"); err != nil {
			t.Skip("psql is not on PATH")
		}
		out, errOut, code := v.run("", "sql", "app", "--psql", "-q", "select 40 + 2 as answer")
		if code != 0 || !strings.Contains(out, "42") {
			t.Errorf("sql --psql: exit %d\n%s%s", code, out, errOut)
		}
	})
}
