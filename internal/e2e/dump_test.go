package e2e

import (
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/pgbin"
)

// dumpFixture has one of everything a dump must carry.
const dumpFixture = `
CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy');
CREATE SCHEMA app;
CREATE TABLE app.people (
  id bigserial PRIMARY KEY,
  name text NOT NULL UNIQUE,
  mood mood DEFAULT 'ok',
  data jsonb,
  photo bytea,
  born date CHECK (born > '1900-01-01'));
CREATE TABLE pets (
  id int GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  owner bigint REFERENCES app.people (id) ON DELETE CASCADE,
  name text,
  tags text[]);
CREATE INDEX pets_lower_name ON pets (lower(name));
COMMENT ON TABLE pets IS 'the pets';
CREATE SEQUENCE counter START 100;
SELECT nextval('counter'), nextval('counter'), nextval('counter');
CREATE VIEW app.cheerful AS SELECT id, name FROM app.people WHERE mood <> 'sad';
CREATE MATERIALIZED VIEW pet_count AS SELECT count(*) AS n FROM pets;
CREATE FUNCTION app.greet(n text) RETURNS text LANGUAGE sql IMMUTABLE AS $$ SELECT 'hi ' || n $$;
CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$;
INSERT INTO app.people (name, mood, data, photo, born) VALUES
  ('ann', 'happy', '{"a": [1, 2, {"b": null}], "s": "it''s \"quoted\""}', '\x00ff10', '1990-05-01'),
  ('bob', 'sad', NULL, NULL, NULL),
  ('zoë ''z''', NULL, '[]', '\x', '2000-01-01');
INSERT INTO pets (owner, name, tags) VALUES (1, 'rex', '{a,"b c"}'), (1, 'tom', NULL), (3, NULL, '{}');
CREATE TRIGGER pets_shout BEFORE INSERT ON pets FOR EACH ROW EXECUTE FUNCTION shout();
REFRESH MATERIALIZED VIEW pet_count;
`

// dumpCheck reads back what the fixture stored, as one JSON value.
const dumpCheck = `SELECT json_build_object(
  'people', (SELECT json_agg(p ORDER BY id) FROM (SELECT id, name, mood, data, encode(photo, 'hex') AS photo, born FROM app.people) p),
  'pets', (SELECT json_agg(p ORDER BY id) FROM pets p),
  'counter', (SELECT last_value FROM counter),
  'people_seq', (SELECT last_value FROM app.people_id_seq),
  'greet', app.greet('x'),
  'cheerful', (SELECT count(*) FROM app.cheerful),
  'pet_count', (SELECT n FROM pet_count),
  'trigger', (SELECT count(*) FROM pg_trigger WHERE tgname = 'pets_shout'),
  'index', (SELECT indexdef FROM pg_indexes WHERE indexname = 'pets_lower_name'),
  'comment', obj_description('pets'::regclass))::text`

type dumpResult struct {
	SQL         string `json:"sql"`
	ObjectCount int    `json:"object_count"`
}

func dumpDB(c *Client, db string, ddlOnly bool) dumpResult {
	c.t.Helper()
	var d dumpResult
	c.MustDo("POST", "/customer/databases/"+db+"/dump", map[string]any{"ddl_only": ddlOnly}, 200, &d)
	return d
}

func TestDump_RoundTrip(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous() // four databases: within the anonymous limit
	src := c.CreateDB("dump-src")
	c.MustDo("POST", "/customer/databases/"+src.ID+"/sql", map[string]any{"file_content": dumpFixture}, 200, nil)
	if r := c.SQL(src.ID, "SELECT 1"); r.Error != nil {
		t.Fatal(r.Error.Message)
	}
	want := sqlValue(t, c, src.ID, dumpCheck)

	d1 := dumpDB(c, src.ID, false)
	if d1.ObjectCount < 20 {
		t.Errorf("object_count = %d for the fixture", d1.ObjectCount)
	}
	for _, good := range []string{"INSERT INTO app.people (id, name, mood, data, photo, born) VALUES", "OVERRIDING SYSTEM VALUE",
		"SELECT pg_catalog.setval('public.counter', 102, true);", "CREATE TYPE public.mood AS ENUM", "CREATE FUNCTION app.greet",
		"CREATE INDEX pets_lower_name", "FOREIGN KEY (owner) REFERENCES app.people(id) ON DELETE CASCADE", "CREATE TRIGGER pets_shout"} {
		if !strings.Contains(d1.SQL, good) {
			t.Errorf("dump lacks %q", good)
		}
	}
	for _, bad := range []string{`\restrict`, "auth.", "extensions.", "_db9", "CREATE ROLE", "OWNER TO", "GRANT ", "COPY "} {
		if strings.Contains(d1.SQL, bad) {
			t.Errorf("dump contains %q", bad)
		}
	}

	// Through POST .../sql file_content.
	viaAPI := c.CreateDB("dump-api")
	var res SQLResult
	c.MustDo("POST", "/customer/databases/"+viaAPI.ID+"/sql", map[string]any{"file_content": d1.SQL}, 200, &res)
	if res.Error != nil {
		t.Fatalf("applying the dump through the SQL endpoint: %s (%s)", res.Error.Message, res.Error.Code)
	}
	if got := sqlValue(t, c, viaAPI.ID, dumpCheck); got != want {
		t.Errorf("restored through the API:\n%s", cmp.Diff(want, got))
	}
	if d2 := dumpDB(c, viaAPI.ID, false); d2.SQL != d1.SQL {
		t.Errorf("dump of the copy differs:\n%s", cmp.Diff(d1.SQL, d2.SQL))
	}

	// Through psql and the PostgreSQL front door.
	viaPsql := c.CreateDB("dump-psql")
	runPsql(t, s, c, viaPsql, d1.SQL)
	if got := sqlValue(t, c, viaPsql.ID, dumpCheck); got != want {
		t.Errorf("restored through psql:\n%s", cmp.Diff(want, got))
	}
	if d3 := dumpDB(c, viaPsql.ID, false); d3.SQL != d1.SQL {
		t.Errorf("dump of the psql copy differs:\n%s", cmp.Diff(d1.SQL, d3.SQL))
	}
	// The restored identity and serial columns go on from where they were.
	c.MustSQL(viaPsql.ID, "INSERT INTO pets (name) VALUES ('new')")
	if id := sqlValue(t, c, viaPsql.ID, "SELECT max(id) FROM pets"); id != float64(4) {
		t.Errorf("next identity after restore = %v, want 4", id)
	}
	if n := sqlValue(t, c, viaPsql.ID, "SELECT nextval('counter')"); n != float64(103) {
		t.Errorf("nextval after restore = %v, want 103", n)
	}

	// ddl_only: the structure without the rows.
	ddl := dumpDB(c, src.ID, true)
	if strings.Contains(ddl.SQL, "INSERT INTO") || !strings.Contains(ddl.SQL, "CREATE TABLE app.people") {
		t.Errorf("ddl_only dump has rows or lacks tables")
	}
	empty := c.CreateDB("dump-ddl")
	c.MustDo("POST", "/customer/databases/"+empty.ID+"/sql", map[string]any{"file_content": ddl.SQL}, 200, &res)
	if res.Error != nil {
		t.Fatalf("applying the ddl_only dump: %s", res.Error.Message)
	}
	if n := sqlValue(t, c, empty.ID, "SELECT count(*) FROM app.people"); n != float64(0) {
		t.Errorf("rows after a ddl_only restore: %v", n)
	}
	c.MustDo("POST", "/customer/databases/"+src.ID+"/dump", `{"ddl_only":"yes"}`, 400, nil)
	c.MustDo("POST", "/customer/databases/"+src.ID+"/dump", "", 200, nil)

	// Schema endpoint on the same database.
	var sch struct {
		Tables []struct {
			Schema, Name string
			Columns      []struct {
				Name, Type string
				Nullable   bool
				Default    *string
				Position   int
			}
			PrimaryKey  []string `json:"primary_key"`
			RowEstimate *int64   `json:"row_estimate"`
		}
		Views []struct {
			Schema, Name string
			Materialized bool
			Columns      []json.RawMessage
		}
	}
	c.MustDo("GET", "/customer/databases/"+src.ID+"/schema", nil, 200, &sch)
	var names []string
	for _, tb := range sch.Tables {
		names = append(names, tb.Schema+"."+tb.Name)
		if tb.RowEstimate == nil {
			t.Errorf("table %s has no row_estimate", tb.Name)
		}
		if tb.Name == "people" {
			if !cmp.Equal(tb.PrimaryKey, []string{"id"}) || len(tb.Columns) != 6 || tb.Columns[1].Name != "name" ||
				tb.Columns[1].Nullable || tb.Columns[1].Type != "text" || tb.Columns[0].Default == nil || tb.Columns[2].Position != 3 {
				t.Errorf("people = %+v", tb)
			}
		}
	}
	if !cmp.Equal(names, []string{"app.people", "public.pets"}) {
		t.Errorf("schema tables = %v", names)
	}
	var views []string
	for _, v := range sch.Views {
		views = append(views, v.Schema+"."+v.Name+map[bool]string{true: " (m)"}[v.Materialized])
	}
	if !cmp.Equal(views, []string{"app.cheerful", "public.pet_count (m)"}) {
		t.Errorf("schema views = %v", views)
	}
}

// runPsql applies sql to a database with psql through the front door.
func runPsql(t *testing.T, s *Server, c *Client, db Database, sql string) {
	t.Helper()
	bin, err := pgbin.Find()
	if err != nil {
		t.Fatal(err)
	}
	var creds struct {
		AdminPassword string `json:"admin_password"`
	}
	c.MustDo("GET", "/customer/databases/"+db.ID+"/credentials", nil, 200, &creds)
	f := filepath.Join(t.TempDir(), "dump.sql")
	if err := os.WriteFile(f, []byte(sql), 0o600); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(s.PGAddr)
	cmd := exec.Command(bin.Path("psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", host, "-p", port, "-U", db.ID+".admin", "-d", "postgres", "-f", f)
	cmd.Env = append(os.Environ(), "PGPASSWORD="+creds.AdminPassword, "PGSSLMODE=disable")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("psql -f dump: %v\n%s", err, out)
	}
}
