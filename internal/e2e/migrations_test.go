package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func checksum(sql string) string {
	h := sha256.Sum256([]byte(sql))
	return hex.EncodeToString(h[:])
}

type migrationListed struct {
	Name       string    `json:"name"`
	Checksum   string    `json:"checksum"`
	AppliedAt  time.Time `json:"applied_at"`
	SQLPreview string    `json:"sql_preview"`
}

func TestMigrations_Apply(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("mig")
	path := "/customer/databases/" + db.ID + "/migrations"
	apply := func(name, sql string, want int) map[string]any {
		t.Helper()
		var out map[string]any
		c.MustDo("POST", path, map[string]any{"name": name, "sql": sql, "checksum": checksum(sql)}, want, &out)
		return out
	}
	var empty []migrationListed
	c.MustDo("GET", path, nil, 200, &empty)
	if empty == nil || len(empty) != 0 {
		t.Fatalf("fresh list = %v, want []", empty)
	}

	m1 := "CREATE TABLE users (id serial PRIMARY KEY, email text NOT NULL);\nCREATE INDEX users_email ON users (email);"
	first := apply("001_users", m1, 201)
	if first["status"] != "applied" || first["name"] != "001_users" || first["checksum"] != checksum(m1) || first["applied_at"] == nil {
		t.Fatalf("first apply = %v", first)
	}
	// Same name and checksum: nothing runs (the table would exist otherwise).
	again := apply("001_users", m1, 200)
	if again["status"] != "already_applied" || again["applied_at"] != first["applied_at"] {
		t.Errorf("second apply = %v, want already_applied with the first applied_at", again)
	}
	// Same name, other checksum.
	apply("001_users", m1+"\n-- changed", 409)
	// Wrong checksum.
	for _, sum := range []string{"", "00", strings.ToUpper(checksum(m1)), checksum(m1 + " ")} {
		code, body := c.Do("POST", path, map[string]any{"name": "002", "sql": m1, "checksum": sum})
		if code != 400 {
			t.Errorf("checksum %q: %d %s, want 400", sum, code, body)
		}
	}
	c.MustDo("POST", path, map[string]any{"name": "002", "sql": m1}, 400, nil)

	// A failing migration leaves no table and no record.
	bad := "CREATE TABLE half (v int);\nINSERT INTO nowhere VALUES (1);"
	code, body := c.Do("POST", path, map[string]any{"name": "002_bad", "sql": bad, "checksum": checksum(bad)})
	var fail struct {
		Message, Code string
		Error         struct{ Message, Code string }
	}
	if err := json.Unmarshal(body, &fail); code != 422 || err != nil || fail.Code != "unprocessable" || fail.Error.Code != "42P01" || !strings.Contains(fail.Message, "nowhere") {
		t.Errorf("failing migration: %d %s, want 422 with SQLSTATE 42P01", code, body)
	}
	if sqlBool(t, c, db.ID, "SELECT to_regclass('public.half') IS NOT NULL") {
		t.Errorf("the failing migration's table exists")
	}
	// A migration that tries to end its own transaction is refused as a whole.
	commit := "CREATE TABLE committed_early (v int); COMMIT;"
	if code, body := c.Do("POST", path, map[string]any{"name": "003_commit", "sql": commit, "checksum": checksum(commit)}); code != 422 {
		t.Errorf("migration with COMMIT: %d %s, want 422", code, body)
	}

	m2 := "ALTER TABLE users ADD COLUMN name text;" + strings.Repeat(" ", 300) + "-- long"
	apply("002_name", m2, 201)
	c.MustSQL(db.ID, "INSERT INTO users (email, name) VALUES ('a@b.c', 'a')")

	// The tenant can read the history but not rewrite it.
	if r := c.SQL(db.ID, "DELETE FROM _db9.migrations"); r.Error == nil || r.Error.Code != "42501" {
		t.Errorf("admin DELETE FROM _db9.migrations: %+v, want 42501", r.Error)
	}
	if r := c.SQL(db.ID, "DROP SCHEMA _db9 CASCADE"); r.Error == nil || r.Error.Code != "42501" {
		t.Errorf("admin DROP SCHEMA _db9: %+v, want 42501", r.Error)
	}

	check := func() {
		t.Helper()
		var list []migrationListed
		c.MustDo("GET", path, nil, 200, &list)
		if len(list) != 2 || list[0].Name != "001_users" || list[1].Name != "002_name" {
			t.Fatalf("list = %+v, want 001_users then 002_name", list)
		}
		if list[0].SQLPreview != m1 || list[0].Checksum != checksum(m1) || list[0].AppliedAt.IsZero() {
			t.Errorf("list[0] = %+v", list[0])
		}
		if len([]rune(list[1].SQLPreview)) != 200 || !strings.HasPrefix(m2, list[1].SQLPreview) {
			t.Errorf("preview of a long migration = %q, want its first 200 characters", list[1].SQLPreview)
		}
	}
	check()
	s.Stop()
	s.Start()
	check()
	apply("001_users", m1, 200)
}
