package dbadmin

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// PlatformSQL creates (idempotently) the platform schema: a part of the
// platform objects (internal/platformsql) that every database gets. It is also run
// as the superuser the first time this process needs it in a database:
// golden copies made before it existed do not have it. A schema of that
// name made by the tenant is refused rather than trusted.
const PlatformSQL = `
SELECT pg_catalog.pg_advisory_xact_lock(7439003);
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '_db9'
             AND nspowner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) THEN
    RAISE EXCEPTION 'schema _db9 is reserved for the platform' USING ERRCODE = '42501';
  END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS _db9;
REVOKE ALL ON SCHEMA _db9 FROM PUBLIC;
GRANT USAGE ON SCHEMA _db9 TO admin, _db9_sys_readonly;
CREATE TABLE IF NOT EXISTS _db9.migrations (
  name text PRIMARY KEY, checksum text NOT NULL, sql text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT pg_catalog.clock_timestamp());
CREATE TABLE IF NOT EXISTS _db9.users (
  username text PRIMARY KEY, created_at timestamptz NOT NULL DEFAULT pg_catalog.now());
GRANT SELECT ON _db9.migrations, _db9.users TO admin, _db9_sys_readonly;
CREATE OR REPLACE FUNCTION _db9.record_migration(p_name text, p_checksum text, p_sql text) RETURNS timestamptz
  LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp
  AS $f$ INSERT INTO _db9.migrations (name, checksum, sql) VALUES (p_name, p_checksum, p_sql) RETURNING applied_at $f$;
REVOKE ALL ON FUNCTION _db9.record_migration(text, text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION _db9.record_migration(text, text, text) TO admin;
`

// ensurePlatformSchema makes sure the platform schema exists in a running
// instance, once per database per process.
func (q *SQL) ensurePlatformSchema(ctx context.Context, id string, lease placement.Lease) error {
	if _, ok := q.meta.Load(id); ok {
		return nil
	}
	conn, err := lease.Connect(ctx, placement.Superuser)
	if err != nil {
		return unavailable(err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// One simple-protocol message: one implicit transaction.
	if _, err := conn.Exec(ctx, PlatformSQL).ReadAll(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "42501" {
			return platform.Errorf(platform.CodeConflict, "schema %s is reserved for the platform; rename or drop the schema of that name", tenancy.PlatformSchema)
		}
		return fmt.Errorf("create platform schema in %s: %w", id, err)
	}
	q.meta.Store(id, struct{}{})
	return nil
}

// dbSession is what the administration use cases get to work with: the
// database, a lease keeping its instance running, and its platform schema
// in place.
type dbSession struct {
	row   catalog.DatabaseRow
	lease placement.Lease
}

// openDB looks a database up for the caller (write: the token must have
// rw access), starts its instance and prepares the platform schema.
// Release the lease when done.
func (q *SQL) openDB(ctx context.Context, p tenancy.Principal, idOrName string, write bool) (*dbSession, error) {
	row, err := q.dir.ActiveLookup(ctx, p, idOrName)
	if err != nil {
		return nil, err
	}
	if write {
		if err := tenancy.RequireWrite(p, row.ID); err != nil {
			return nil, err
		}
	}
	lease, err := q.inst.Acquire(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	if err := q.ensurePlatformSchema(ctx, row.ID, lease); err != nil {
		lease.Release()
		return nil, err
	}
	return &dbSession{row: row, lease: lease}, nil
}

func (d *dbSession) close() { d.lease.Release() }

// pool returns the instance's pool for role.
func (d *dbSession) pool(role string) (*pgxpool.Pool, error) {
	p, err := d.lease.Pool(role)
	if err != nil {
		return nil, unavailable(err)
	}
	return p, nil
}

// superuser opens a superuser connection; the caller closes it.
func (d *dbSession) superuser(ctx context.Context) (*pgconn.PgConn, error) {
	c, err := d.lease.Connect(ctx, placement.Superuser)
	if err != nil {
		return nil, unavailable(err)
	}
	return c, nil
}

func unavailable(err error) error {
	return platform.Wrap(platform.CodeUnavailable, err, "database is unavailable; try again")
}
