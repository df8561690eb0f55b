package e2e

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// routeConnect connects pgx as a plain role to host (resolved to the
// front door's address whatever its name, so a TLS server name
// "<db>.localhost" can be sent), with the given options.
func routeConnect(t *testing.T, s *Server, host, user, password, sslmode, options string) (*pgx.Conn, error) {
	t.Helper()
	addr, port, _ := net.SplitHostPort(s.PGAddr)
	cs := fmt.Sprintf("host=%s port=%s user=%s password=%s dbname=postgres sslmode=%s connect_timeout=15", host, port, user, password, sslmode)
	if options != "" {
		cs += " options='" + strings.ReplaceAll(options, `\`, `\\`) + "'"
	}
	cfg, err := pgx.ParseConfig(cs)
	if err != nil {
		t.Fatal(err)
	}
	cfg.LookupFunc = func(context.Context, string) ([]string, error) { return []string{addr}, nil }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.ConnectConfig(ctx, cfg)
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

// TestProxy_RouteWithoutDatabaseInUser: the database may be named in the
// options (endpoint=, Neon's convention) or in the TLS server name
// (<db>.<public host>) with the plain role as the user; current_user is
// then exactly the user the driver connected as. Conflicts and unknown
// databases are refused with their SQLSTATE.
func TestProxy_RouteWithoutDatabaseInUser(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "--public-host", "localhost")
	other := f.c.CreateDB("other")
	f.c.MustSQL(f.db.ID, "create table marker as select 'front'::text as db; grant select on marker to app_user")
	f.c.MustSQL(other.ID, "create table marker as select 'other'::text as db")
	ctx := context.Background()
	check := func(what string, c *pgx.Conn, err error, role, db string) {
		t.Helper()
		if err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		var user, sessUser, marker string
		if err := c.QueryRow(ctx, "select current_user, session_user, (select db from marker)").Scan(&user, &sessUser, &marker); err != nil {
			t.Errorf("%s: %v", what, err)
			return
		}
		if user != role || sessUser != role || marker != db {
			t.Errorf("%s: current_user %q, session_user %q, database %q; want %q in %q", what, user, sessUser, marker, role, db)
		}
	}
	token := f.creds[2].password
	for _, mode := range sslModes {
		for _, ref := range []string{f.db.ID, "front"} {
			c, err := routeConnect(t, f.s, "127.0.0.1", "admin", f.db.AdminPassword, mode, "endpoint="+ref)
			check("admin, options endpoint="+ref+" sslmode="+mode, c, err, "admin", "front")
		}
		c, err := routeConnect(t, f.s, "127.0.0.1", "app_user", "user-secret-pw-1", mode, "--endpoint=front")
		check("app_user, options --endpoint= sslmode="+mode, c, err, "app_user", "front")
		c, err = routeConnect(t, f.s, "127.0.0.1", "admin", token, mode, "endpoint="+f.db.ID)
		check("connect token, options endpoint= sslmode="+mode, c, err, "admin", "front")
		c, err = routeConnect(t, f.s, "127.0.0.1", "admin", other.AdminPassword, mode, `-c search_path=public,pg_temp endpoint=other -c application_name=routed\ here`)
		check("endpoint among other options sslmode="+mode, c, err, "admin", "other")
		if err == nil {
			var sp, app string
			c.QueryRow(ctx, "select current_setting('search_path'), current_setting('application_name')").Scan(&sp, &app)
			if sp != "public,pg_temp" || app != "routed here" {
				t.Errorf("the other options did not reach the backend: search_path %q, application_name %q", sp, app)
			}
		}
	}

	// SNI: <database id or name>.<public host>.
	for _, ref := range []string{f.db.ID, "front"} {
		c, err := routeConnect(t, f.s, ref+".localhost", "admin", f.db.AdminPassword, "require", "")
		check("admin, host "+ref+".localhost", c, err, "admin", "front")
	}
	c, err := routeConnect(t, f.s, "other.localhost", "admin", other.AdminPassword, "require", "")
	check("admin, host other.localhost", c, err, "admin", "other")
	c, err = routeConnect(t, f.s, "front.localhost", "app_user", "user-secret-pw-1", "require", "")
	check("app_user, host front.localhost", c, err, "app_user", "front")
	c, err = routeConnect(t, f.s, "front.localhost", "front.admin", f.db.AdminPassword, "require", "")
	check("front.admin, host front.localhost", c, err, "admin", "front")
	c, err = routeConnect(t, f.s, f.db.ID+".localhost", "admin", f.db.AdminPassword, "require", "endpoint="+f.db.ID)
	check("host and endpoint naming the same database", c, err, "admin", "front")

	// The password: endpoint=<db>$<password> (Neon's form for clients
	// that set neither options nor SNI), with any credential.
	for _, mode := range sslModes {
		c, err := routeConnect(t, f.s, "127.0.0.1", "admin", "endpoint=front$"+f.db.AdminPassword, mode, "")
		check("admin, password endpoint=front$ sslmode="+mode, c, err, "admin", "front")
		c, err = routeConnect(t, f.s, "127.0.0.1", "app_user", "endpoint="+f.db.ID+";user-secret-pw-1", mode, "")
		check("app_user, password endpoint=<id>; sslmode="+mode, c, err, "app_user", "front")
		c, err = routeConnect(t, f.s, "127.0.0.1", "admin", "project=front$"+f.creds[3].password, mode, "")
		check("connect key, password project=front$ sslmode="+mode, c, err, "admin", "front")
	}

	// psql (libpq sends SNI for host names; hostaddr only says where to connect).
	needTool(t, "psql")
	host, port, _ := net.SplitHostPort(f.s.PGAddr)
	for _, tc := range []struct{ what, conninfo, password string }{
		{"psql, options endpoint=", fmt.Sprintf("host=%s port=%s user=admin dbname=postgres sslmode=disable options=endpoint=front", host, port), f.db.AdminPassword},
		{"psql, host front.localhost", fmt.Sprintf("host=front.localhost hostaddr=%s port=%s user=admin dbname=postgres sslmode=require", host, port), f.db.AdminPassword},
		{"psql, password endpoint=front$", fmt.Sprintf("host=%s port=%s user=admin dbname=postgres sslmode=disable", host, port), "endpoint=front$" + f.db.AdminPassword},
	} {
		cmd := exec.Command("psql", tc.conninfo, "-Atc", "select current_user || ' ' || (select db from marker)")
		cmd.Env = append(cmd.Environ(), "PGPASSWORD="+tc.password)
		out, err := cmd.CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "admin front" {
			t.Errorf("%s: %v: %s", tc.what, err, out)
		}
	}

	// Refusals.
	for _, tc := range []struct {
		what, host, user, password, mode, options, state string
	}{
		{"plain user, nothing names the database", "127.0.0.1", "admin", f.db.AdminPassword, "require", "", "28000"},
		{"plain user, host of another domain", "front.example.com", "admin", f.db.AdminPassword, "require", "", "28000"},
		{"plain user, SNI without TLS", "127.0.0.1", "admin", f.db.AdminPassword, "disable", "", "28000"},
		{"unknown endpoint", "127.0.0.1", "admin", f.db.AdminPassword, "disable", "endpoint=nosuchdb", "3D000"},
		{"unknown database in the host name", "nosuchdb.localhost", "admin", f.db.AdminPassword, "require", "", "3D000"},
		{"two endpoints", "127.0.0.1", "admin", f.db.AdminPassword, "disable", "endpoint=front endpoint=other", "28000"},
		{"endpoint and host name disagree", "other.localhost", "admin", f.db.AdminPassword, "require", "endpoint=front", "28000"},
		{"password of another database", "127.0.0.1", "admin", f.db.AdminPassword, "disable", "endpoint=other", "28P01"},
		{"password of another database by SNI", "other.localhost", "admin", f.db.AdminPassword, "require", "", "28P01"},
		{"token of another database", "127.0.0.1", "admin", token, "disable", "endpoint=other", "28P01"},
		{"platform role", "127.0.0.1", "_db9_super", f.db.AdminPassword, "disable", "endpoint=front", "28000"},
		{"unknown database in the password", "127.0.0.1", "admin", "endpoint=nosuchdb$" + f.db.AdminPassword, "disable", "", "3D000"},
		{"wrong password after endpoint=", "127.0.0.1", "admin", "endpoint=front$wrong-password", "disable", "", "28P01"},
		{"password of another database after endpoint=", "127.0.0.1", "admin", "endpoint=other$" + f.db.AdminPassword, "disable", "", "28P01"},
	} {
		_, err := routeConnect(t, f.s, tc.host, tc.user, tc.password, tc.mode, tc.options)
		wantSQLState(t, tc.what, err, tc.state)
	}
}
