package e2e

import (
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/pgtest"
)

// portableFixture uses what a db9 database offers: auth.uid() in a column
// default, an RLS policy and a view; a function; a grant to a platform
// role.
const portableFixture = `
CREATE TABLE notes (id serial PRIMARY KEY, owner uuid DEFAULT auth.uid(), body text NOT NULL);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own_notes ON notes TO authenticated USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
GRANT SELECT, INSERT ON notes TO authenticated;
GRANT USAGE ON SEQUENCE notes_id_seq TO authenticated;
CREATE VIEW my_notes AS SELECT id, body FROM notes WHERE owner = auth.uid();
CREATE FUNCTION note_count() RETURNS bigint LANGUAGE sql STABLE AS $$ SELECT count(*) FROM notes $$;
INSERT INTO notes (owner, body) VALUES
  ('11111111-1111-1111-1111-111111111111', 'first'), ('22222222-2222-2222-2222-222222222222', 'it''s "second"');
`

// portableCheck reads the user's data back as one line of text.
const portableCheck = `SELECT (SELECT json_agg(n ORDER BY id) FROM notes n)::text || ' ' || note_count()
  || ' ' || (SELECT count(*) FROM my_notes) || ' ' || (SELECT count(*) FROM pg_policy WHERE polname = 'own_notes')
  || ' ' || (SELECT last_value FROM notes_id_seq)`

// TestPGDump_Portable: pg_dump of a db9 database through the front door
// (as admin, the system's pg_dump) leaves the platform's objects out, and
// restores with psql -v ON_ERROR_STOP=1 into another db9 database as it
// is, and into a plain PostgreSQL 15 with --no-owner --no-privileges after
// docs/plain-postgres-auth.sql (without which it fails: the user's
// objects refer to auth.uid()). fs9 files, a cron job and the data API
// are in use in the source; files and jobs are platform storage and are
// not in the dump.
func TestPGDump_Portable(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	src := c.CreateDB("dumpsrc")
	c.MustSQL(src.ID, portableFixture)
	c.MustSQL(src.ID, `SELECT fs9_write('/docs/readme.txt', 'a file')`)
	c.MustSQL(src.ID, `SELECT cron.schedule('nightly', '0 3 * * *', 'SELECT note_count()')`)
	key := c.createKey(src.ID, "service-keys", nil)
	if r := s.dataDo(t, "GET", src.ID, "/notes?select=body", map[string]string{"apikey": key.Key}, ""); r.Status != 200 {
		t.Fatalf("data API on the source: %s", r)
	}
	want := c.MustSQL(src.ID, portableCheck).Rows[0][0].(string)

	full := pgDumpFrontDoor(t, s, c, src)
	for _, line := range strings.Split(full, "\n") {
		if strings.HasPrefix(line, "--") {
			continue
		}
		for _, bad := range []string{"SCHEMA auth", "SCHEMA extensions", "_db9", "EXTENSION", "fs9", "FUNCTION auth.", "EVENT TRIGGER", "cron"} {
			if strings.Contains(line, bad) {
				t.Errorf("the dump has a platform object (%s): %s", bad, line)
			}
		}
	}

	// Into another db9 database, as it is.
	dst := c.CreateDB("dumpdst")
	runPsql(t, s, c, dst, full)
	if got := c.MustSQL(dst.ID, portableCheck).Rows[0][0].(string); got != want {
		t.Errorf("db9 → db9: %s, want %s", got, want)
	}
	if r := c.MustSQL(dst.ID, `SELECT count(*) FROM fs9('/')`); r.Rows[0][0] != float64(0) {
		t.Errorf("fs9 files came along in the dump: %v", r.Rows)
	}
	dkey := c.createKey(dst.ID, "service-keys", nil)
	if r := s.dataDo(t, "GET", dst.ID, "/notes?select=body&order=id", map[string]string{"apikey": dkey.Key}, ""); r.Status != 200 ||
		!sameJSON(r.Body, `[{"body":"first"},{"body":"it's \"second\""}]`) {
		t.Errorf("data API on the restored database: %s", r)
	}

	// Into plain PostgreSQL: the portable form of the dump.
	portable := pgDumpFrontDoor(t, s, c, src, "--no-owner", "--no-privileges")
	plain := pgtest.Start(t)
	if out, err := psqlFile(t, plain.ConnString(pgtest.Superuser), portable); err == nil {
		t.Fatalf("the dump restored into plain PostgreSQL without auth: the test no longer shows why the prelude exists\n%s", out)
	} else if !strings.Contains(out, "auth") {
		t.Fatalf("restore without the prelude failed for another reason: %s", out)
	}
	exec1(t, plain, "CREATE DATABASE target")
	target := strings.Replace(plain.ConnString(pgtest.Superuser), "dbname=postgres", "dbname=target", 1)
	prelude, err := os.ReadFile(filepath.Join("..", "..", "docs", "plain-postgres-auth.sql"))
	if err != nil {
		t.Fatal(err)
	}
	if out, err := psqlFile(t, target, string(prelude)+"\n"+portable); err != nil {
		t.Fatalf("restore into plain PostgreSQL: %v\n%s", err, out)
	}
	out, err := exec.Command(pgBinPath(t, "psql"), "-X", "-At", "-d", target, "-c", portableCheck).CombinedOutput()
	if err != nil {
		t.Fatalf("read back from plain PostgreSQL: %v\n%s", err, out)
	}
	if got := strings.TrimSpace(string(out)); got != want {
		t.Errorf("db9 → plain PostgreSQL: %s, want %s", got, want)
	}
}

func pgBinPath(t *testing.T, name string) string {
	t.Helper()
	bin, err := pgbin.Find()
	if err != nil {
		t.Fatal(err)
	}
	return bin.Path(name)
}

// pgDumpFrontDoor runs pg_dump through the front door as the database's admin.
func pgDumpFrontDoor(t *testing.T, s *Server, c *Client, db Database, args ...string) string {
	t.Helper()
	var creds struct {
		AdminPassword string `json:"admin_password"`
	}
	c.MustDo("GET", "/customer/databases/"+db.ID+"/credentials", nil, 200, &creds)
	host, port, _ := net.SplitHostPort(s.PGAddr)
	cmd := exec.Command(pgBinPath(t, "pg_dump"), append([]string{"-h", host, "-p", port, "-U", db.ID + ".admin", "-d", "postgres"}, args...)...)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+creds.AdminPassword, "PGSSLMODE=disable")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("pg_dump through the front door: %v\n%s", err, stderr.String())
	}
	return string(out)
}

// psqlFile applies sql with psql -v ON_ERROR_STOP=1 to the database conninfo names.
func psqlFile(t *testing.T, conninfo, sql string) (string, error) {
	t.Helper()
	f := filepath.Join(t.TempDir(), "restore.sql")
	if err := os.WriteFile(f, []byte(sql), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(pgBinPath(t, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", conninfo, "-f", f).CombinedOutput()
	return string(out), err
}

func exec1(t *testing.T, c *pgtest.Cluster, sql string) {
	t.Helper()
	if out, err := exec.Command(pgBinPath(t, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", c.ConnString(pgtest.Superuser), "-c", sql).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", sql, err, out)
	}
}
