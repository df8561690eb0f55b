package platformsql_test

import (
	"context"
	"errors"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/platformsql"
)

func connect(t *testing.T, c *pgtest.Cluster, user string) *pgconn.PgConn {
	t.Helper()
	conn, err := pgconn.Connect(context.Background(), c.ConnString(user))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func exec(t *testing.T, conn *pgconn.PgConn, sql string) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql).ReadAll(); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func TestSet_Ensure_AppliesOnceAndUpgrades(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	conn := connect(t, c, pgtest.Superuser)

	v1 := platformsql.New(platformsql.Part{Name: "a", SQL: `CREATE TABLE IF NOT EXISTS _db9.a (x int)`})
	if got, err := platformsql.Installed(ctx, conn); err != nil || got != "" {
		t.Fatalf("Installed on a fresh database = %q, %v; want empty", got, err)
	}
	applied, err := v1.Ensure(ctx, conn)
	if err != nil || !applied {
		t.Fatalf("first Ensure = %v, %v; want applied", applied, err)
	}
	if got, _ := platformsql.Installed(ctx, conn); got != v1.Version() {
		t.Fatalf("Installed = %q, want %q", got, v1.Version())
	}
	// Applied again only when the set changes.
	exec(t, conn, `INSERT INTO _db9.a VALUES (1)`)
	if applied, err := v1.Ensure(ctx, conn); err != nil || applied {
		t.Fatalf("second Ensure = %v, %v; want nothing to do", applied, err)
	}
	v2 := platformsql.New(
		platformsql.Part{Name: "a", SQL: `CREATE TABLE IF NOT EXISTS _db9.a (x int)`},
		platformsql.Part{Name: "b", SQL: `CREATE TABLE IF NOT EXISTS _db9.b (y int)`})
	if v2.Version() == v1.Version() {
		t.Fatal("adding a part kept the version")
	}
	if applied, err := v2.Ensure(ctx, conn); err != nil || !applied {
		t.Fatalf("Ensure of a new version = %v, %v; want applied", applied, err)
	}
	var n int
	if err := c.QueryRowInt(t, `SELECT count(*) FROM _db9.a`, &n); err != nil || n != 1 {
		t.Fatalf("rows kept across the upgrade = %d, %v; want 1", n, err)
	}
	if err := c.QueryRowInt(t, `SELECT count(*) FROM _db9.b`, &n); err != nil {
		t.Fatalf("new part's table missing: %v", err)
	}
}

// A failing part leaves nothing of the version behind: all or nothing.
func TestSet_Apply_AllOrNothing(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	conn := connect(t, c, pgtest.Superuser)
	bad := platformsql.New(
		platformsql.Part{Name: "ok", SQL: `CREATE TABLE _db9.half (x int)`},
		platformsql.Part{Name: "broken", SQL: `SELECT no_such_function()`})
	if err := bad.Apply(ctx, conn); err == nil {
		t.Fatal("Apply of a broken part succeeded")
	}
	if got, _ := platformsql.Installed(ctx, conn); got != "" {
		t.Fatalf("version recorded after a failed apply: %q", got)
	}
	var n int
	if err := c.QueryRowInt(t, `SELECT count(*) FROM pg_catalog.pg_class WHERE relname = 'half'`, &n); err != nil || n != 0 {
		t.Fatalf("a failed apply left a table behind (%d, %v)", n, err)
	}
}

// A schema _db9 made by someone else is refused, not trusted.
func TestSet_Apply_ReservedSchema(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	conn := connect(t, c, pgtest.Superuser)
	exec(t, conn, `CREATE ROLE tenant LOGIN; CREATE SCHEMA _db9 AUTHORIZATION tenant`)
	err := platformsql.New().Apply(ctx, conn)
	if !errors.Is(err, platformsql.ErrReserved) {
		t.Fatalf("Apply over a tenant's _db9 = %v, want ErrReserved", err)
	}
	if got, _ := platformsql.Installed(ctx, conn); got != "" {
		t.Fatalf("Installed reads a tenant's comment: %q", got)
	}
}
