// Package fs9test starts a real PostgreSQL cluster prepared like a tenant
// instance (roles admin and _db9_sys_readonly as the golden directory makes
// them, schema extensions on the search path) with fs9 installed, for the
// tests of the fs9 packages.
package fs9test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/fs9/schema"
	"github.com/db9/db9/internal/pgtest"
)

// Roles a test cluster has.
const (
	Admin    = "admin"
	ReadOnly = "_db9_sys_readonly"
	Other    = "bob" // a role without file access
)

// setupSQL mirrors the golden directory's roles (internal/instance/golden.go).
var setupSQL = []string{
	`CREATE ROLE admin LOGIN BYPASSRLS NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION`,
	`CREATE ROLE _db9_sys_readonly LOGIN`,
	`GRANT pg_read_all_data TO _db9_sys_readonly`,
	`ALTER ROLE _db9_sys_readonly SET default_transaction_read_only = on`,
	`ALTER DATABASE postgres OWNER TO admin`,
	`ALTER SCHEMA public OWNER TO admin`,
	`CREATE SCHEMA extensions`,
	`GRANT USAGE ON SCHEMA extensions TO PUBLIC`,
	`CREATE ROLE bob LOGIN`,
	`ALTER SYSTEM SET search_path = "$user", public, extensions`,
	`SELECT pg_reload_conf()`,
}

// Cluster is a running test database with fs9 installed.
type Cluster struct {
	*pgtest.Cluster
}

// Start starts the cluster and installs fs9; it is stopped at cleanup.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	c := pgtest.Start(tb)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, c.ConnString(pgtest.Superuser))
	if err != nil {
		tb.Fatal(err)
	}
	defer conn.Close(ctx)
	for _, s := range setupSQL {
		if _, err := conn.Exec(ctx, s).ReadAll(); err != nil {
			tb.Fatalf("%s: %v", s, err)
		}
	}
	if _, err := conn.Exec(ctx, schema.InstallSQL()).ReadAll(); err != nil {
		tb.Fatalf("install fs9: %v", err)
	}
	return &Cluster{Cluster: c}
}

// Pool opens a pool of sessions as role, closed at cleanup.
func (c *Cluster) Pool(tb testing.TB, role string) *pgxpool.Pool {
	tb.Helper()
	cfg, err := pgxpool.ParseConfig(c.ConnString(role))
	if err != nil {
		tb.Fatal(err)
	}
	cfg.MaxConns = 12
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(p.Close)
	return p
}

// Conn opens one session as role, closed at cleanup.
func (c *Cluster) Conn(tb testing.TB, role string) *pgx.Conn {
	tb.Helper()
	conn, err := pgx.Connect(context.Background(), c.ConnString(role))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}
