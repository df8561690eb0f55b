package catalog

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrFunctionNameTaken is returned when a database already has a function
// of that name.
var ErrFunctionNameTaken = errors.New("function name taken")

// Functions is the functions and function_versions tables, with the
// uploaded bundles and the schedules of functions (Due, Scheduled).
type Functions struct{ *poolRef }

// FunctionVersion is one deploy of a function.
type FunctionVersion struct {
	ID               string
	FunctionID       string
	Version          int
	Entrypoint       string
	BundleRef        string
	BundleDigest     string
	Script           string
	Export           string
	RunAs            string
	BypassRLS        bool
	TimeoutMS        int
	MemoryMB         int
	NetworkAllowlist []string
	FS9Read          []string
	FS9Write         []string
	SecretBindings   []string
	CreatedAt        time.Time
}

// Function is a function with its active version.
type Function struct {
	ID           string
	DatabaseID   string
	Name         string
	CronSchedule string // "" without a schedule
	NextRunAt    *time.Time
	CreatedAt    time.Time
	UpdatedAt    time.Time
	Active       FunctionVersion
}

const functionColumns = `f.id, f.database_id, f.name, coalesce(f.cron_schedule, ''), f.next_run_at, f.created_at, f.updated_at,
	v.id, v.function_id, v.version, v.entrypoint, v.bundle_ref, v.bundle_digest, v.script, v.export, v.run_as, v.bypass_rls,
	v.timeout_ms, v.memory_mb, v.network_allowlist, v.fs9_read, v.fs9_write, v.secret_bindings, v.created_at`

// functionHeaderColumns are functionColumns with ” for the script.
var functionHeaderColumns = strings.Replace(functionColumns, "v.script", "''", 1)

const functionFrom = ` FROM functions f JOIN function_versions v ON v.id = f.active_version_id`

func scanFunction(row pgx.Row) (Function, error) {
	var f Function
	v := &f.Active
	err := row.Scan(&f.ID, &f.DatabaseID, &f.Name, &f.CronSchedule, &f.NextRunAt, &f.CreatedAt, &f.UpdatedAt,
		&v.ID, &v.FunctionID, &v.Version, &v.Entrypoint, &v.BundleRef, &v.BundleDigest, &v.Script, &v.Export, &v.RunAs, &v.BypassRLS,
		&v.TimeoutMS, &v.MemoryMB, &v.NetworkAllowlist, &v.FS9Read, &v.FS9Write, &v.SecretBindings, &v.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return f, ErrNotFound
	}
	return f, err
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func insertVersion(ctx context.Context, tx pgx.Tx, v FunctionVersion) error {
	_, err := tx.Exec(ctx, `INSERT INTO function_versions (id, function_id, version, entrypoint, bundle_ref, bundle_digest, script, export,
			run_as, bypass_rls, timeout_ms, memory_mb, network_allowlist, fs9_read, fs9_write, secret_bindings)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
		v.ID, v.FunctionID, v.Version, v.Entrypoint, v.BundleRef, v.BundleDigest, v.Script, v.Export,
		v.RunAs, v.BypassRLS, v.TimeoutMS, v.MemoryMB, v.NetworkAllowlist, v.FS9Read, v.FS9Write, v.SecretBindings)
	return err
}

// Create records a function and its first version (f.Active).
// ErrFunctionNameTaken when the database has a function of that name.
func (c *Functions) Create(ctx context.Context, f Function) (Function, error) {
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO functions (id, database_id, name, active_version_id, version, cron_schedule, next_run_at)
			VALUES ($1, $2, $3, $4, 1, $5, $6)`, f.ID, f.DatabaseID, f.Name, f.Active.ID, nullIfEmpty(f.CronSchedule), f.NextRunAt); err != nil {
			return err
		}
		f.Active.FunctionID, f.Active.Version = f.ID, 1
		return insertVersion(ctx, tx, f.Active)
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "functions_database_name" {
		return Function{}, ErrFunctionNameTaken
	}
	if err != nil {
		return Function{}, fmt.Errorf("insert function: %w", err)
	}
	return c.Get(ctx, f.DatabaseID, f.ID)
}

// Update adds version v to function id and makes it active, with
// the function's schedule set to cron (and nextRun).
func (c *Functions) Update(ctx context.Context, databaseID, id string, v FunctionVersion, cron string, nextRun *time.Time) (Function, error) {
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		err := tx.QueryRow(ctx, `UPDATE functions SET version = version + 1, active_version_id = $3, cron_schedule = $4,
				next_run_at = $5, updated_at = now()
			WHERE database_id = $1 AND id = $2 RETURNING version`, databaseID, id, v.ID, nullIfEmpty(cron), nextRun).Scan(&v.Version)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		v.FunctionID = id
		return insertVersion(ctx, tx, v)
	})
	if err != nil {
		return Function{}, fmt.Errorf("update function: %w", err)
	}
	return c.Get(ctx, databaseID, id)
}

// Get finds a database's function by id or name.
func (c *Functions) Get(ctx context.Context, databaseID, idOrName string) (Function, error) {
	return scanFunction(c.pool.QueryRow(ctx, `SELECT `+functionColumns+functionFrom+`
		WHERE f.database_id = $1 AND (f.id = $2 OR f.name = $2) ORDER BY f.id = $2 DESC LIMIT 1`, databaseID, idOrName))
}

// GetHeader is Get without the version's script (Active.Script is ""):
// what an invoke needs, whose script is in a warm worker already.
func (c *Functions) GetHeader(ctx context.Context, databaseID, idOrName string) (Function, error) {
	return scanFunction(c.pool.QueryRow(ctx, `SELECT `+functionHeaderColumns+functionFrom+`
		WHERE f.database_id = $1 AND (f.id = $2 OR f.name = $2) ORDER BY f.id = $2 DESC LIMIT 1`, databaseID, idOrName))
}

// Script reads the script of version id; ErrNotFound.
func (c *Functions) Script(ctx context.Context, versionID string) (string, error) {
	var s string
	err := c.pool.QueryRow(ctx, `SELECT script FROM function_versions WHERE id = $1`, versionID).Scan(&s)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", ErrNotFound
	}
	return s, err
}

// List lists a database's functions by name.
func (c *Functions) List(ctx context.Context, databaseID string) ([]Function, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+functionColumns+functionFrom+` WHERE f.database_id = $1 ORDER BY f.name`, databaseID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Function, error) { return scanFunction(r) })
}

// Delete removes a function with its versions, runs and logs.
func (c *Functions) Delete(ctx context.Context, databaseID, id string) error {
	tag, err := c.pool.Exec(ctx, `DELETE FROM functions WHERE database_id = $1 AND id = $2`, databaseID, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteForDatabase removes a database's functions (their schedules
// stop), runs and secrets, when the database is deleted.
func (c *Functions) DeleteForDatabase(ctx context.Context, databaseID string) error {
	if _, err := c.pool.Exec(ctx, `DELETE FROM functions WHERE database_id = $1`, databaseID); err != nil {
		return err
	}
	_, err := c.pool.Exec(ctx, `DELETE FROM database_secrets WHERE database_id = $1`, databaseID)
	return err
}

// ScheduledFunction is a function whose schedule is due.
type ScheduledFunction struct {
	DatabaseID   string
	FunctionID   string
	CronSchedule string
	NextRunAt    time.Time
}

// Due lists the scheduled functions of ACTIVE databases whose
// next_run_at is at or before now, oldest first.
func (c *Functions) Due(ctx context.Context, now time.Time, limit int) ([]ScheduledFunction, error) {
	rows, err := c.pool.Query(ctx, `SELECT f.database_id, f.id, f.cron_schedule, f.next_run_at FROM functions f
		JOIN databases d ON d.id = f.database_id AND d.state = 'ACTIVE'
		WHERE f.next_run_at <= $1 ORDER BY f.next_run_at LIMIT $2`, now, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ScheduledFunction, error) {
		var s ScheduledFunction
		err := r.Scan(&s.DatabaseID, &s.FunctionID, &s.CronSchedule, &s.NextRunAt)
		return s, err
	})
}

// PutBundle stores uploaded bundle bytes under their digest (once).
func (c *Functions) PutBundle(ctx context.Context, customerID, digest string, content []byte) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO function_bundles (customer_id, digest, content) VALUES ($1, $2, $3)
		ON CONFLICT (customer_id, digest) DO NOTHING`, customerID, digest, content)
	return err
}

// GetBundle reads a customer's uploaded bundle; ErrNotFound.
func (c *Functions) GetBundle(ctx context.Context, customerID, digest string) ([]byte, error) {
	var b []byte
	err := c.pool.QueryRow(ctx, `SELECT content FROM function_bundles WHERE customer_id = $1 AND digest = $2`, customerID, digest).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

// copyFunctions gives branch child its parent's functions (current
// versions only, as version 1), schedules and secrets; part of the
// transaction that makes the branch ACTIVE. The copies' ids derive from
// the child's and the originals' ids, so running it twice copies nothing
// twice.
func copyFunctions(ctx context.Context, tx pgx.Tx, child string) error {
	stmts := []string{
		`INSERT INTO functions (id, database_id, name, active_version_id, version, cron_schedule, next_run_at)
			SELECT left(md5($1 || '/' || f.id), 16), $1, f.name, left(md5($1 || '/' || f.active_version_id), 16), 1, f.cron_schedule, f.next_run_at
			FROM databases d JOIN functions f ON f.database_id = d.parent_database_id
			WHERE d.id = $1
			ON CONFLICT DO NOTHING`,
		`INSERT INTO function_versions (id, function_id, version, entrypoint, bundle_ref, bundle_digest, script, export,
				run_as, bypass_rls, timeout_ms, memory_mb, network_allowlist, fs9_read, fs9_write, secret_bindings)
			SELECT left(md5($1 || '/' || v.id), 16), left(md5($1 || '/' || f.id), 16), 1, v.entrypoint, v.bundle_ref, v.bundle_digest, v.script, v.export,
				v.run_as, v.bypass_rls, v.timeout_ms, v.memory_mb, v.network_allowlist, v.fs9_read, v.fs9_write, v.secret_bindings
			FROM databases d JOIN functions f ON f.database_id = d.parent_database_id
			JOIN function_versions v ON v.id = f.active_version_id
			WHERE d.id = $1
			ON CONFLICT DO NOTHING`,
		`INSERT INTO database_secrets (database_id, name, value_enc, created_at, updated_at)
			SELECT $1, s.name, s.value_enc, s.created_at, s.updated_at
			FROM databases d JOIN database_secrets s ON s.database_id = d.parent_database_id WHERE d.id = $1
			ON CONFLICT DO NOTHING`,
	}
	for _, q := range stmts {
		if _, err := tx.Exec(ctx, q, child); err != nil {
			return fmt.Errorf("copy functions to branch %s: %w", child, err)
		}
	}
	return nil
}

// Scheduled lists every function with a cron_schedule in an
// ACTIVE database (the scheduler matches the schedules against its ticks).
func (c *Functions) Scheduled(ctx context.Context) ([]ScheduledFunction, error) {
	rows, err := c.pool.Query(ctx, `SELECT f.database_id, f.id, f.cron_schedule, coalesce(f.next_run_at, 'epoch') FROM functions f
		JOIN databases d ON d.id = f.database_id AND d.state = 'ACTIVE'
		WHERE f.cron_schedule IS NOT NULL AND f.cron_schedule <> '' ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list scheduled functions: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ScheduledFunction, error) {
		var s ScheduledFunction
		err := r.Scan(&s.DatabaseID, &s.FunctionID, &s.CronSchedule, &s.NextRunAt)
		return s, err
	})
}
