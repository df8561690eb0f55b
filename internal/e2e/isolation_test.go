package e2e

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/db9/db9/internal/layout"
)

// bindClient returns a copy of c that reports failures to t, so that
// subtests fail themselves and not their parent.
func bindClient(t testing.TB, c *Client) *Client {
	return &Client{t: t, base: c.base, Token: c.Token}
}

// escapePath is a path on the host that a tenant tries to write; it must
// still not exist afterwards.
func escapePath(t testing.TB) string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	p := filepath.Join(os.TempDir(), "db9-escape-"+hex.EncodeToString(b))
	t.Cleanup(func() { os.Remove(p) })
	return p
}

// sqlBool runs a query answering one boolean and returns it.
func sqlBool(t testing.TB, c *Client, db, query string, params ...any) bool {
	t.Helper()
	r := bindClient(t, c).MustSQL(db, query, params...)
	if len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
		t.Fatalf("%q: rows %v, want one boolean", query, r.Rows)
	}
	b, ok := r.Rows[0][0].(bool)
	if !ok {
		t.Fatalf("%q: value %#v, want a boolean", query, r.Rows[0][0])
	}
	return b
}

// sqlValue runs a query answering one value and returns it.
func sqlValue(t testing.TB, c *Client, db, query string, params ...any) any {
	t.Helper()
	r := bindClient(t, c).MustSQL(db, query, params...)
	if len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
		t.Fatalf("%q: rows %v, want one value", query, r.Rows)
	}
	return r.Rows[0][0]
}

// TestIsolation_Tenant checks that the tenant role admin cannot leave its
// instance (host files, programs, libraries, superuser powers), that it can
// still do what a database owner does, and that customers cannot see or
// touch each other's databases through the API.
func TestIsolation_Tenant(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	a := s.Anonymous()
	b := s.Anonymous()
	dbA := a.CreateDB("alpha")
	dbB := b.CreateDB("bravo")
	a.MustSQL(dbA.ID, "CREATE TABLE t (line text); CREATE TABLE marker (v text); INSERT INTO marker VALUES ('alpha-data')")

	t.Run("AdminRole", func(t *testing.T) { testAdminRoleAttributes(t, a, dbA.ID) })
	t.Run("Forbidden", func(t *testing.T) { testAdminForbidden(t, a, dbA.ID) })
	t.Run("OwnerPowers", func(t *testing.T) { testAdminOwnerPowers(t, a, dbA.ID) })
	t.Run("NoWayToOtherInstances", func(t *testing.T) { testNoWayOut(t, s, a, dbA.ID, dbB.ID) })
	t.Run("CrossTenantAPI", func(t *testing.T) { testCrossTenantAPI(t, s, a, b, dbA) })
	t.Run("Tokens", func(t *testing.T) { testBadTokens(t, s, a, dbA.ID) })
	t.Run("DatabaseDefaultsDoNotBindPlatform", func(t *testing.T) { testDatabaseDefaults(t, s) })

	// Whatever was tried above, A's database is intact.
	if got := sqlValue(t, a, dbA.ID, "SELECT string_agg(v, ',') FROM marker"); got != "alpha-data" {
		t.Errorf("marker of A after the tests: %v, want alpha-data", got)
	}
	if got := sqlValue(t, b, dbB.ID, "SELECT current_user"); got != "admin" {
		t.Errorf("B's current_user: %v", got)
	}
}

func testAdminRoleAttributes(t *testing.T, c *Client, db string) {
	c = bindClient(t, c)
	r := c.MustSQL(db, `SELECT current_user, session_user, current_setting('is_superuser'),
		rolsuper, rolcreaterole, rolcreatedb, rolreplication, rolbypassrls, rolcanlogin
		FROM pg_roles WHERE rolname = current_user`)
	want := []any{"admin", "admin", "off", false, false, false, false, true, true}
	if len(r.Rows) != 1 || !slices.Equal(r.Rows[0], want) {
		t.Fatalf("admin's attributes (user, session_user, is_superuser, super, createrole, createdb, replication, bypassrls, login) = %v, want %v", r.Rows, want)
	}

	// Every role admin is a member of, directly or not: none may be a
	// superuser, a built-in pg_* role or a platform role.
	// pg_database_owner is implicit: admin owns database postgres.
	r = c.MustSQL(db, `SELECT rolname, rolsuper FROM pg_roles
		WHERE pg_has_role('admin', oid, 'MEMBER') AND rolname NOT IN ('admin', 'pg_database_owner') ORDER BY rolname`)
	for _, row := range r.Rows {
		name, _ := row[0].(string)
		if row[1] == true || strings.HasPrefix(name, "pg_") || strings.HasPrefix(name, "_db9") {
			t.Errorf("admin is a member of %v", row)
		}
	}
	for _, role := range []string{"pg_execute_server_program", "pg_read_server_files", "pg_write_server_files", "_db9_super"} {
		if sqlBool(t, c, db, `SELECT pg_has_role('admin', $1, 'MEMBER') OR pg_has_role('admin', $1, 'USAGE')
			OR EXISTS (SELECT FROM pg_auth_members m WHERE m.roleid = $1::regrole AND m.member = 'admin'::regrole)`, role) {
			t.Errorf("admin is a member of %s", role)
		}
	}
}

// forbiddenCase is a statement admin must not be able to run.
type forbiddenCase struct {
	name  string
	sql   string
	codes []string // acceptable SQLSTATEs of the failure
	check string   // query that must answer true afterwards (no side effect)
	file  string   // host path that must not exist afterwards
}

func testAdminForbidden(t *testing.T, c *Client, db string) {
	out1, out2, out3 := escapePath(t), escapePath(t), escapePath(t)
	denied := []string{"42501"} // insufficient_privilege
	// Refused, or not installed on this host (0A000 "extension is not
	// available", 58P01 missing file): either way it did not run.
	deniedOrMissing := []string{"42501", "0A000", "58P01"}
	cases := []forbiddenCase{
		{name: "AlterRoleSuperuser", sql: "ALTER ROLE admin SUPERUSER", codes: denied,
			check: "SELECT NOT rolsuper FROM pg_roles WHERE rolname = 'admin'"},
		{name: "AlterRoleCreateRole", sql: "ALTER ROLE admin CREATEROLE", codes: denied,
			check: "SELECT NOT rolcreaterole FROM pg_roles WHERE rolname = 'admin'"},
		{name: "AlterRoleCreateDB", sql: "ALTER ROLE admin CREATEDB", codes: denied,
			check: "SELECT NOT rolcreatedb FROM pg_roles WHERE rolname = 'admin'"},
		{name: "AlterRoleReplication", sql: "ALTER ROLE admin REPLICATION", codes: denied,
			check: "SELECT NOT rolreplication FROM pg_roles WHERE rolname = 'admin'"},
		{name: "AlterPlatformSuperuser", sql: "ALTER ROLE _db9_super PASSWORD 'owned-by-tenant'", codes: denied,
			check: "SELECT true"},
		{name: "CreateRole", sql: "CREATE ROLE db9_escape LOGIN", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'db9_escape')"},
		{name: "SetRoleSuperuser", sql: "SET ROLE _db9_super", codes: denied},
		{name: "SetSessionAuthorization", sql: "SET SESSION AUTHORIZATION _db9_super", codes: denied},
		{name: "SetRoleReadOnly", sql: "SET ROLE _db9_sys_readonly", codes: denied},
		{name: "SetRoleAuthenticator", sql: "SET ROLE _db9_authenticator", codes: denied},
		{name: "SetRoleServiceRole", sql: "SET ROLE service_role", codes: denied},
		{name: "GrantAuthenticator", sql: "GRANT _db9_authenticator TO admin", codes: denied,
			check: "SELECT NOT pg_has_role('admin', '_db9_authenticator', 'MEMBER')"},
		{name: "GrantSuperuser", sql: "GRANT _db9_super TO admin", codes: denied,
			check: "SELECT NOT pg_has_role('admin', '_db9_super', 'MEMBER')"},
		{name: "GrantExecuteServerProgram", sql: "GRANT pg_execute_server_program TO admin", codes: denied,
			check: "SELECT NOT pg_has_role('admin', 'pg_execute_server_program', 'MEMBER')"},
		{name: "GrantReadServerFiles", sql: "GRANT pg_read_server_files TO admin", codes: denied,
			check: "SELECT NOT pg_has_role('admin', 'pg_read_server_files', 'MEMBER')"},
		{name: "GrantWriteServerFiles", sql: "GRANT pg_write_server_files TO admin", codes: denied,
			check: "SELECT NOT pg_has_role('admin', 'pg_write_server_files', 'MEMBER')"},
		{name: "GrantReadAllSettings", sql: "GRANT pg_read_all_settings TO admin", codes: denied,
			check: "SELECT NOT pg_has_role('admin', 'pg_read_all_settings', 'MEMBER')"},
		{name: "CopyFromProgram", sql: "COPY t FROM PROGRAM 'id'", codes: denied,
			check: "SELECT count(*) = 0 FROM t"},
		{name: "CopyToProgram", sql: "COPY (SELECT 1) TO PROGRAM 'touch " + out1 + "'", codes: denied, file: out1},
		{name: "CopyFromFile", sql: "COPY t FROM '/etc/passwd'", codes: denied,
			check: "SELECT count(*) = 0 FROM t"},
		{name: "CopyToFile", sql: "COPY (SELECT 'x') TO '" + out2 + "'", codes: denied, file: out2},
		{name: "PgReadFile", sql: "SELECT pg_read_file('/etc/passwd')", codes: denied},
		{name: "PgReadFileRelative", sql: "SELECT pg_read_file('postgresql.conf')", codes: denied},
		{name: "PgReadBinaryFile", sql: "SELECT pg_read_binary_file('/etc/passwd')", codes: denied},
		{name: "PgLsDir", sql: "SELECT pg_ls_dir('.')", codes: denied},
		{name: "PgLsWalDir", sql: "SELECT * FROM pg_ls_waldir()", codes: denied},
		{name: "PgStatFile", sql: "SELECT pg_stat_file('postgresql.conf')", codes: denied},
		{name: "LoImport", sql: "SELECT lo_import('/etc/passwd')", codes: denied,
			check: "SELECT count(*) = 0 FROM pg_largeobject_metadata"},
		{name: "LoExport", sql: "SELECT lo_export(lo_from_bytea(0, 'x'::bytea), '" + out3 + "')", codes: denied, file: out3,
			check: "SELECT count(*) = 0 FROM pg_largeobject_metadata"},
		{name: "CreateLanguageUntrusted", sql: "CREATE LANGUAGE plperlu", codes: deniedOrMissing,
			check: "SELECT NOT EXISTS (SELECT FROM pg_language WHERE lanname = 'plperlu')"},
		{name: "CreateLanguageWithHandler", sql: "CREATE LANGUAGE db9_escape HANDLER plpgsql_call_handler", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_language WHERE lanname = 'db9_escape')"},
		{name: "CreateFunctionC", sql: "CREATE FUNCTION db9_getpid() RETURNS int LANGUAGE c AS 'libc.so.6', 'getpid'", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_proc WHERE proname = 'db9_getpid')"},
		{name: "CreateFunctionInternal", sql: "CREATE FUNCTION db9_internal() RETURNS text LANGUAGE internal AS 'pg_read_file_all'", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_proc WHERE proname = 'db9_internal')"},
		{name: "AlterSystem", sql: "ALTER SYSTEM SET work_mem = '512MB'", codes: denied},
		{name: "ReloadConf", sql: "SELECT pg_reload_conf()", codes: denied},
		{name: "CreateTablespace", sql: "CREATE TABLESPACE db9_escape LOCATION '/tmp'", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_tablespace WHERE spcname = 'db9_escape')"},
		{name: "LoadAbsolutePath", sql: "LOAD '/usr/lib/postgresql/15/lib/auto_explain.so'", codes: denied},
		{name: "LoadLibraryName", sql: "LOAD 'auto_explain'", codes: deniedOrMissing},
		{name: "SetSessionPreloadLibraries", sql: "SET session_preload_libraries = 'auto_explain'", codes: denied},
		{name: "SetSharedPreloadLibraries", sql: "SET shared_preload_libraries = 'auto_explain'", codes: []string{"42501", "55P02"}},
		{name: "AlterRoleSetPreload", sql: "ALTER ROLE admin SET session_preload_libraries = 'auto_explain'", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%preload%')"},
		{name: "AlterDatabaseSetPreload", sql: "ALTER DATABASE postgres SET session_preload_libraries = 'auto_explain'", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_db_role_setting WHERE array_to_string(setconfig, ',') LIKE '%preload%')"},
		{name: "CreateDatabase", sql: "CREATE DATABASE db9_escape", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_database WHERE datname = 'db9_escape')"},
		{name: "CreateEventTrigger", sql: `CREATE FUNCTION db9_evt() RETURNS event_trigger LANGUAGE plpgsql AS $$ BEGIN END $$;
			CREATE EVENT TRIGGER db9_evt ON ddl_command_start EXECUTE FUNCTION db9_evt()`, codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_event_trigger WHERE evtname = 'db9_evt')"},
		{name: "CreateForeignDataWrapper", sql: "CREATE FOREIGN DATA WRAPPER db9_escape", codes: denied,
			check: "SELECT NOT EXISTS (SELECT FROM pg_foreign_data_wrapper)"},
		{name: "ReadPgAuthid", sql: "SELECT rolpassword FROM pg_authid", codes: denied},
		{name: "ReadPgShadow", sql: "SELECT passwd FROM pg_shadow", codes: denied},
		{name: "ReplacePlatformFunction", sql: "CREATE OR REPLACE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql AS 'SELECT NULL::uuid'", codes: denied},
	}
	for _, ext := range []string{"adminpack", "file_fdw", "dblink", "postgres_fdw"} {
		cases = append(cases, forbiddenCase{name: "CreateExtension_" + ext, sql: "CREATE EXTENSION " + ext,
			codes: deniedOrMissing,
			check: fmt.Sprintf("SELECT NOT EXISTS (SELECT FROM pg_extension WHERE extname = '%s')", ext)})
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := bindClient(t, c)
			r := c.SQL(db, tc.sql)
			if r.Error == nil {
				t.Fatalf("%s: succeeded as admin (rows %v); want SQLSTATE %v", tc.sql, r.Rows, tc.codes)
			}
			if !slices.Contains(tc.codes, r.Error.Code) {
				t.Errorf("%s: failed with %s %q, want SQLSTATE %v", tc.sql, r.Error.Code, r.Error.Message, tc.codes)
			}
			if tc.check != "" && !sqlBool(t, c, db, tc.check) {
				t.Errorf("%s: side effect left behind (%s is false)", tc.sql, tc.check)
			}
			if tc.file != "" {
				if _, err := os.Stat(tc.file); !os.IsNotExist(err) {
					t.Errorf("%s: %s exists on the host (stat: %v)", tc.sql, tc.file, err)
				}
			}
		})
	}
	if got := sqlValue(t, c, db, "SELECT current_setting('is_superuser')"); got != "off" {
		t.Errorf("is_superuser after the attempts: %v", got)
	}
}

// testAdminOwnerPowers checks what admin must be able to do: without it the
// role would be safe but useless, and the forbidden tests would pass for the
// wrong reason.
func testAdminOwnerPowers(t *testing.T, c *Client, db string) {
	c = bindClient(t, c)
	t.Run("TrustedExtensions", func(t *testing.T) {
		c := bindClient(t, c)
		avail := c.MustSQL(db, "SELECT name FROM pg_available_extensions WHERE name IN ('pgcrypto', 'hstore') ORDER BY name")
		if len(avail.Rows) == 0 {
			t.Skip("neither pgcrypto nor hstore is installed")
		}
		for _, row := range avail.Rows {
			switch row[0] {
			case "pgcrypto":
				c.MustSQL(db, "CREATE EXTENSION pgcrypto")
				if got := sqlValue(t, c, db, "SELECT encode(digest('abc', 'sha256'), 'hex')"); got != "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" {
					t.Errorf("pgcrypto digest: %v", got)
				}
			case "hstore":
				c.MustSQL(db, "CREATE EXTENSION hstore")
				if got := sqlValue(t, c, db, "SELECT ('a=>1'::hstore) -> 'a'"); got != "1" {
					t.Errorf("hstore lookup: %v", got)
				}
			}
		}
	})
	t.Run("TablesAndRLS", func(t *testing.T) {
		c := bindClient(t, c)
		c.MustSQL(db, `CREATE TABLE notes (id int PRIMARY KEY, owner text NOT NULL);
			ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
			ALTER TABLE notes FORCE ROW LEVEL SECURITY;
			CREATE POLICY bob_only ON notes USING (owner = 'bob');
			GRANT SELECT ON notes TO anon;
			INSERT INTO notes VALUES (1, 'alice'), (2, 'bob')`)
		// BYPASSRLS: admin sees every row even of a table that forces RLS.
		if got := sqlValue(t, c, db, "SELECT count(*) FROM notes"); got != float64(2) {
			t.Errorf("admin sees %v rows of notes, want 2 (BYPASSRLS)", got)
		}
		// The policy itself works for roles that do not bypass it.
		if got := sqlValue(t, c, db, "SET ROLE anon; SELECT count(*) FROM notes"); got != float64(1) {
			t.Errorf("anon sees %v rows of notes, want 1 (policy)", got)
		}
		if got := sqlValue(t, c, db, "SELECT current_user"); got != "admin" {
			t.Errorf("SET ROLE leaked into the next call: current_user %v", got)
		}
	})
	t.Run("PlpgsqlFunction", func(t *testing.T) {
		c := bindClient(t, c)
		c.MustSQL(db, "CREATE FUNCTION add_one(i int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN i + 1; END $$")
		if got := sqlValue(t, c, db, "SELECT add_one(41)"); got != float64(42) {
			t.Errorf("add_one(41) = %v", got)
		}
	})
	t.Run("SchemasAndViews", func(t *testing.T) {
		c := bindClient(t, c)
		c.MustSQL(db, "CREATE SCHEMA app; CREATE TABLE app.items (id int); CREATE VIEW app.v AS SELECT * FROM app.items; CREATE TEMP TABLE scratch (x int)")
	})
}

// testNoWayOut checks that from inside A's database nothing names or
// reaches B's instance or the host's layout.
func testNoWayOut(t *testing.T, s *Server, c *Client, db, otherID string) {
	c = bindClient(t, c)
	for _, setting := range []string{"data_directory", "unix_socket_directories", "config_file", "hba_file", "log_directory"} {
		r := c.SQL(db, "SELECT current_setting($1)", setting)
		if r.Error == nil {
			v := fmt.Sprint(r.Rows)
			if strings.Contains(v, otherID) || strings.Contains(v, s.DataDir) {
				t.Errorf("current_setting(%s) leaks a host path: %s", setting, v)
			}
			continue
		}
		if r.Error.Code != "42501" {
			t.Errorf("current_setting(%s): %s %q, want 42501", setting, r.Error.Code, r.Error.Message)
		}
	}
	r := c.MustSQL(db, "SELECT name, setting FROM pg_settings WHERE strpos(setting, $1) > 0 OR strpos(setting, $2) > 0 OR strpos(setting, $3) > 0",
		otherID, s.DataDir, (layout.Layout{DataDir: s.DataDir}).DBs())
	if len(r.Rows) > 0 {
		t.Errorf("settings visible to admin name another database or the data directory: %v", r.Rows)
	}
	// Instances listen on a private Unix socket only: no address to aim at.
	if got := sqlValue(t, c, db, "SELECT inet_server_addr() IS NULL AND inet_server_port() IS NULL AND current_setting('listen_addresses') = ''"); got != true {
		t.Errorf("the instance has a network address: %v", got)
	}
	// No extension or function that opens connections.
	if got := sqlValue(t, c, db, `SELECT count(*) FROM pg_proc WHERE proname IN ('dblink_connect', 'dblink', 'postgres_fdw_handler')`); got != float64(0) {
		t.Errorf("connection functions exist in the tenant database: %v", got)
	}
	for _, ext := range []string{"dblink", "postgres_fdw"} {
		if r := c.SQL(db, "CREATE EXTENSION "+ext); r.Error == nil {
			t.Errorf("CREATE EXTENSION %s succeeded", ext)
		}
	}
	if r := c.SQL(db, "SELECT dblink_connect('host="+(layout.Layout{DataDir: s.DataDir}).DB(otherID).SocketDir+" user=admin')"); r.Error == nil || r.Error.Code != "42883" {
		t.Errorf("dblink_connect: %+v, want 42883 undefined_function", r.Error)
	}
}

// apiError is the JSON error body.
type apiError struct {
	Message *string `json:"message"`
	Code    string  `json:"code"`
}

func testCrossTenantAPI(t *testing.T, s *Server, a, b *Client, dbA Database) {
	a, b = bindClient(t, a), bindClient(t, b)
	credsBefore := map[string]any{}
	a.MustDo("GET", "/customer/databases/"+dbA.ID+"/credentials", nil, 200, &credsBefore)

	type route struct{ method, suffix string }
	routes := []route{
		{"GET", ""},
		{"POST", "/sql"},
		{"GET", "/credentials"},
		{"POST", "/reset-password"},
		{"DELETE", ""}, // last: if it were allowed, the rest would be moot
	}
	body := func(rt route) any {
		if rt.suffix == "/sql" {
			return map[string]any{"query": "INSERT INTO marker VALUES ('written-by-b')"}
		}
		return nil
	}
	for _, rt := range routes {
		// What B gets for a database that exists nowhere.
		code, missing := b.Do(rt.method, "/customer/databases/zzzzzzzzzzzz"+rt.suffix, body(rt))
		if code != 404 {
			t.Fatalf("%s nonexistent%s: status %d: %s", rt.method, rt.suffix, code, missing)
		}
		var e apiError
		if err := json.Unmarshal(missing, &e); err != nil || e.Code != "not_found" || e.Message == nil {
			t.Fatalf("%s nonexistent%s: body %s, want {message, code: not_found}", rt.method, rt.suffix, missing)
		}
		for _, ref := range []string{dbA.ID, dbA.Name} {
			code, got := b.Do(rt.method, "/customer/databases/"+ref+rt.suffix, body(rt))
			if code != 404 || string(got) != string(missing) {
				t.Errorf("B: %s %s%s: %d %s; want 404 with the body of a nonexistent database %s", rt.method, ref, rt.suffix, code, got, missing)
			}
		}
	}
	var list []Database
	b.MustDo("GET", "/customer/databases?all=true", nil, 200, &list)
	for _, d := range list {
		if d.ID == dbA.ID || d.Name == dbA.Name {
			t.Errorf("B's list shows A's database: %+v", d)
		}
	}

	// Names are per customer: B may use A's name, which neither reveals nor
	// touches A's database.
	mine := b.CreateDB(dbA.Name)
	if mine.ID == dbA.ID {
		t.Fatalf("B's %q got A's id", dbA.Name)
	}
	var got Database
	b.MustDo("GET", "/customer/databases/"+dbA.Name, nil, 200, &got)
	if got.ID != mine.ID {
		t.Errorf("B's GET %s resolved to %s, want B's own %s", dbA.Name, got.ID, mine.ID)
	}
	b.MustDo("DELETE", "/customer/databases/"+dbA.Name, nil, 200, nil)

	// A's database is untouched: still there, same password, no writes.
	var d Database
	a.MustDo("GET", "/customer/databases/"+dbA.ID, nil, 200, &d)
	if d.State != "ACTIVE" {
		t.Errorf("A's database is %s", d.State)
	}
	credsAfter := map[string]any{}
	a.MustDo("GET", "/customer/databases/"+dbA.Name+"/credentials", nil, 200, &credsAfter)
	if credsAfter["admin_password"] != credsBefore["admin_password"] {
		t.Errorf("A's admin password changed while B poked at it")
	}
	if got := sqlValue(t, a, dbA.ID, "SELECT string_agg(v, ',') FROM marker"); got != "alpha-data" {
		t.Errorf("A's marker table: %v, want alpha-data only", got)
	}
	var listA []Database
	a.MustDo("GET", "/customer/databases", nil, 200, &listA)
	if len(listA) != 1 || listA[0].ID != dbA.ID {
		t.Errorf("A's list: %+v, want only %s", listA, dbA.ID)
	}
	if s.postmasterOf(dbA.ID) == 0 {
		t.Errorf("A's instance is not running after B's attempts")
	}
}

func testBadTokens(t *testing.T, s *Server, a *Client, db string) {
	rnd := make([]byte, 64)
	_, _ = rand.Read(rnd)
	headers := map[string]string{
		"none":                 "",
		"empty bearer":         "Bearer ",
		"bearer only":          "Bearer",
		"basic":                "Basic YWRtaW46YWRtaW4=",
		"not hex":              "Bearer not-a-token",
		"random 128 hex":       "Bearer " + hex.EncodeToString(rnd),
		"token plus a char":    "Bearer " + a.Token + "0",
		"token uppercased":     "Bearer " + strings.ToUpper(a.Token),
		"token twice space":    "Bearer  " + a.Token,
		"token without scheme": a.Token,
	}
	type req struct{ method, path, body string }
	reqs := []req{
		{"GET", "/customer/me", ""},
		{"GET", "/customer/databases", ""},
		{"POST", "/customer/databases", `{"name":"by-bad-token"}`},
		{"GET", "/customer/databases/" + db, ""},
		{"GET", "/customer/databases/" + db + "/credentials", ""},
		{"POST", "/customer/databases/" + db + "/reset-password", ""},
		{"POST", "/customer/databases/" + db + "/sql", `{"query":"CREATE TABLE by_bad_token ()"}`},
		{"DELETE", "/customer/databases/" + db, ""},
	}
	for name, h := range headers {
		for _, rq := range reqs {
			resp, err := rawAPICall(s, rq.method, rq.path, h, rq.body)
			if err != nil {
				t.Fatalf("%s %s: %v", rq.method, rq.path, err)
			}
			checkErrorResponse(t, fmt.Sprintf("%s %s with %s", rq.method, rq.path, name), resp, 401, "unauthorized", "")
		}
	}
	// Nothing happened.
	a = bindClient(t, a)
	if sqlBool(t, a, db, "SELECT to_regclass('by_bad_token') IS NOT NULL") {
		t.Errorf("SQL ran under an invalid token")
	}
	var list []Database
	a.MustDo("GET", "/customer/databases", nil, 200, &list)
	if len(list) != 1 || list[0].ID != db {
		t.Errorf("databases after invalid-token calls: %+v", list)
	}
}

// testDatabaseDefaults checks that per-database defaults, which admin may
// set as the owner of database postgres, do not reach the platform's own
// superuser sessions: they must not change who those sessions are
// (role), which functions their SQL resolves to (search_path), or stop them
// from working.
func testDatabaseDefaults(t *testing.T, s *Server) {
	c := bindClient(t, s.Anonymous())
	db := c.CreateDB("defaults")
	c.MustSQL(db.ID, `ALTER DATABASE postgres SET role = 'anon';
		ALTER DATABASE postgres SET search_path = public, pg_catalog;
		ALTER DATABASE postgres SET default_transaction_read_only = on;
		ALTER DATABASE postgres SET local_preload_libraries = 'db9_no_such_library'`)
	var creds map[string]any
	c.MustDo("POST", "/customer/databases/"+db.ID+"/reset-password", nil, 200, &creds)
	var after map[string]any
	c.MustDo("GET", "/customer/databases/"+db.ID+"/credentials", nil, 200, &after)
	if after["admin_password"] != creds["admin_password"] {
		t.Errorf("credentials after reset-password do not show the new password")
	}
	c.MustDo("DELETE", "/customer/databases/"+db.ID, nil, 200, nil)
}
