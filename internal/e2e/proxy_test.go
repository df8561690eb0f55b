package e2e

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/layout"
)

// pgURL is a connection URL to the server's PostgreSQL front door.
func (s *Server) pgURL(user, password, sslmode string) string {
	host, port, _ := net.SplitHostPort(s.PGAddr)
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: net.JoinHostPort(host, port), Path: "/postgres"}
	q := url.Values{"sslmode": {sslmode}, "connect_timeout": {"15"}}
	u.RawQuery = q.Encode()
	return u.String()
}

// pgConnect opens a pgx connection through the front door.
func (s *Server) pgConnect(t testing.TB, user, password, sslmode string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	return pgx.Connect(ctx, s.pgURL(user, password, sslmode))
}

// mustPG connects or fails the test, and closes the connection at the end.
func (s *Server) mustPG(t testing.TB, user, password, sslmode string) *pgx.Conn {
	t.Helper()
	c, err := s.pgConnect(t, user, password, sslmode)
	if err != nil {
		t.Fatalf("connect %s (sslmode=%s): %v", user, sslmode, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// pgxConnectURL connects pgx to a URL with a 30-second bound.
func pgxConnectURL(ctx context.Context, url string) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	return pgx.Connect(ctx, url)
}

// wantSQLState checks that err is a PostgreSQL error with code.
func wantSQLState(t testing.TB, what string, err error, code string) {
	t.Helper()
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		t.Errorf("%s: error %v, want SQLSTATE %s", what, err, code)
		return
	}
	if pe.Code != code {
		t.Errorf("%s: SQLSTATE %s (%s), want %s", what, pe.Code, pe.Message, code)
	}
}

// superConn connects to a database's instance directly over its private
// socket as the platform superuser (the test runs as root, as the server
// does), for setup and for looking behind the proxy.
func (s *Server) superConn(t testing.TB, id string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, fmt.Sprintf("host=%s port=%d user=_db9_super dbname=postgres sslmode=disable", (layout.Layout{DataDir: s.DataDir}).DB(id).SocketDir, layout.Port))
	if err != nil {
		t.Fatalf("superuser connection to %s: %v", id, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// createLoginRole makes a role with a password in a database: through the
// users API when the server has it, else over the private socket.
func (s *Server) createLoginRole(t testing.TB, c *Client, db, role, password string) {
	t.Helper()
	code, body := c.Do("POST", "/customer/databases/"+db+"/users", map[string]any{"username": role, "password": password})
	if code == 201 {
		return
	}
	if code != 404 && code != 405 {
		t.Fatalf("create user %s: %d %s", role, code, body)
	}
	c.MustSQL(db, "select 1") // wake the instance
	sc := s.superConn(t, db)
	if _, err := sc.Exec(context.Background(), fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD '%s'`, role, auth.SCRAMVerifier(password))); err != nil {
		t.Fatalf("create role %s: %v", role, err)
	}
}

// creds are the four kinds of login a database offers.
type creds struct {
	name, user, password string
}

// proxyFixture is a server with one database reachable with every kind of
// credential.
type proxyFixture struct {
	s     *Server
	c     *Client
	db    Database
	creds []creds
	keyID string
}

func newProxyFixture(t *testing.T, extra ...string) *proxyFixture {
	t.Helper()
	s := StartServer(t, append([]string{"--warm-pool", "1", "--spare-pool", "1"}, extra...)...)
	c := s.Anonymous()
	db := c.CreateDB("front")
	s.createLoginRole(t, c, db.ID, "app_user", "user-secret-pw-1")
	c.MustSQL(db.ID, "GRANT CREATE ON SCHEMA public TO app_user")
	var tok struct {
		Token, User string
	}
	c.MustDo("POST", "/customer/databases/"+db.ID+"/connect-token", map[string]any{}, 200, &tok)
	var key struct {
		ID         string `json:"id"`
		ConnectKey string `json:"connect_key"`
	}
	c.MustDo("POST", "/customer/databases/"+db.ID+"/connect-keys", map[string]any{"name": "ci"}, 201, &key)
	if !strings.HasPrefix(key.ConnectKey, "db9ck_") || tok.User != db.ID+".admin" {
		t.Fatalf("connect key %q, token user %q", key.ConnectKey, tok.User)
	}
	return &proxyFixture{s: s, c: c, db: db, keyID: key.ID, creds: []creds{
		{"admin password", db.ID + ".admin", db.AdminPassword},
		{"user password", "front.app_user", "user-secret-pw-1"},
		{"connect token", db.ID + ".admin", tok.Token},
		{"connect key", "front.admin", key.ConnectKey},
	}}
}

var sslModes = []string{"require", "disable"}

// TestProxy_Clients connects psql, pg_dump, pg_restore, pgbench, pgx and
// node-postgres through the front door with each kind of credential, with
// and without TLS.
func TestProxy_Clients(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	needTool(t, "psql")
	nodeDir := nodePG(t)
	if out, err := exec.Command("pgbench", "-i", "-s", "1", f.s.pgURL(f.creds[0].user, f.creds[0].password, "require")).CombinedOutput(); err != nil {
		t.Fatalf("pgbench -i through the proxy: %v\n%s", err, out)
	}
	for i, cr := range f.creds {
		for _, mode := range sslModes {
			t.Run(strings.ReplaceAll(cr.name, " ", "_")+"/"+mode, func(t *testing.T) {
				url := f.s.pgURL(cr.user, cr.password, mode)
				role := cr.user[strings.IndexByte(cr.user, '.')+1:]
				// pgx, with TLS as asked
				conn := f.s.mustPG(t, cr.user, cr.password, mode)
				var who string
				var ssl bool
				if err := conn.QueryRow(context.Background(), "select current_user").Scan(&who); err != nil || who != role {
					t.Fatalf("pgx: current_user %q (%v), want %q", who, err, role)
				}
				ssl = conn.PgConn().Conn() != nil && isTLS(conn.PgConn().Conn())
				if ssl != (mode == "require") {
					t.Errorf("pgx: TLS %v with sslmode=%s", ssl, mode)
				}
				// psql
				if out := runTool(t, "psql", url, "-Atc", "select current_user"); strings.TrimSpace(out) != role {
					t.Errorf("psql: %q, want %q", out, role)
				}
				// pg_dump / pg_restore of a table of the role's own
				table := fmt.Sprintf("t_%d_%s", i, mode)
				runTool(t, "psql", url, "-v", "ON_ERROR_STOP=1", "-c", fmt.Sprintf("create table %s as select g as n from generate_series(1, 1000) g", table))
				dump := filepath.Join(t.TempDir(), "dump")
				runTool(t, "pg_dump", "-Fc", "-t", table, "-f", dump, url)
				runTool(t, "psql", url, "-v", "ON_ERROR_STOP=1", "-c", "drop table "+table)
				runTool(t, "pg_restore", "--no-owner", "-d", url, dump)
				if out := runTool(t, "psql", url, "-Atc", "select count(*) from "+table); strings.TrimSpace(out) != "1000" {
					t.Errorf("after pg_restore: %q rows, want 1000", out)
				}
				// pgbench, a short run of its own script
				script := filepath.Join(t.TempDir(), "q.sql")
				os.WriteFile(script, []byte("select 1;\n"), 0o644)
				runTool(t, "pgbench", "-n", "-f", script, "-c", "2", "-t", "20", url)
				// node-postgres
				if nodeDir != "" {
					cmd := exec.Command("node", "client.js")
					cmd.Dir = nodeDir
					cmd.Env = append(os.Environ(), "PGURL="+url, "SSL="+fmt.Sprint(mode == "require"))
					out, err := cmd.CombinedOutput()
					if err != nil || strings.TrimSpace(string(out)) != role {
						t.Errorf("node-postgres: %v: %s", err, out)
					}
				}
			})
		}
	}
}

func isTLS(c net.Conn) bool {
	_, ok := c.(*tls.Conn)
	return ok
}

func needTool(t testing.TB, name string) {
	t.Helper()
	if _, err := exec.LookPath(name); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI=true", name)
		}
		t.Skipf("skipping: %s not installed", name)
	}
}

// runTool runs a PostgreSQL client program and fails the test on error.
func runTool(t testing.TB, name string, args ...string) string {
	t.Helper()
	needTool(t, name)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(redact(args), " "), err, out)
	}
	return string(out)
}

func redact(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if u, err := url.Parse(a); err == nil && u.User != nil {
			u.User = url.User(u.User.Username())
			a = u.String()
		}
		out[i] = a
	}
	return out
}

// nodePG installs node-postgres (npm "pg") into a temporary copy of
// testdata/nodepg and returns its directory; "" (test continues without
// node) when node is missing outside CI.
func nodePG(t testing.TB) string {
	t.Helper()
	if _, err := exec.LookPath("node"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("node is required under CI=true")
		}
		t.Log("node not installed: node-postgres not tested")
		return ""
	}
	dir := t.TempDir()
	for _, f := range []string{"package.json", "client.js"} {
		b, err := os.ReadFile(filepath.Join("testdata", "nodepg", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "install", "--no-audit", "--no-fund", "--loglevel=error")
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm install pg: %v\n%s", err, out)
	}
	return dir
}
