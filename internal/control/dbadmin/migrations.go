package dbadmin

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
)

// Migration is a recorded migration.
type Migration struct {
	Name       string
	Checksum   string
	AppliedAt  time.Time
	SQLPreview string
}

// Migration statuses of POST .../migrations.
const (
	MigrationApplied        = "applied"
	MigrationAlreadyApplied = "already_applied"
)

// MigrationError is a migration whose SQL failed; nothing was applied.
type MigrationError struct {
	SQL *sqlexec.SQLError
}

func (e *MigrationError) Error() string { return "migration failed: " + e.SQL.Message }

func sqlErrorOf(e *pgconn.PgError) *sqlexec.SQLError {
	return &sqlexec.SQLError{Message: e.Message, Code: e.Code, Detail: e.Detail, Hint: e.Hint, Position: int(e.Position)}
}

// previewChars is how much of a migration's SQL the list shows.
const previewChars = 200

// ListMigrations lists the migrations recorded in a database, oldest first.
func (q *SQL) ListMigrations(ctx context.Context, p tenancy.Principal, idOrName string) ([]Migration, error) {
	d, err := q.openDB(ctx, p, idOrName, false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	conn, err := d.superuser(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rr := conn.ExecParams(ctx, `SELECT name, checksum, pg_catalog.date_part('epoch', applied_at), pg_catalog.left(sql, $1)
		FROM _db9.migrations ORDER BY applied_at, name`, [][]byte{[]byte(fmt.Sprint(previewChars))}, nil, nil, nil)
	out := []Migration{}
	for rr.NextRow() {
		v := rr.Values()
		t, err := parsePGTime(string(v[2]))
		if err != nil {
			rr.Close()
			return nil, err
		}
		out = append(out, Migration{Name: string(v[0]), Checksum: string(v[1]), AppliedAt: t, SQLPreview: string(v[3])})
	}
	if _, err := rr.Close(); err != nil {
		return nil, fmt.Errorf("list migrations of %s: %w", d.row.ID, err)
	}
	return out, nil
}

// ApplyMigration runs a migration's SQL as admin and records it, in one
// transaction inside the database: either both happen or neither. A name
// already recorded with the same checksum is not run again; with another
// checksum it is a conflict.
func (q *SQL) ApplyMigration(ctx context.Context, p tenancy.Principal, idOrName, name, sql, checksum string) (Migration, string, error) {
	if name == "" || utf8.RuneCountInString(name) > 255 || strings.ContainsFunc(name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return Migration{}, "", platform.Errorf(platform.CodeInvalid, "name: must be 1 to 255 characters without control characters")
	}
	if strings.TrimSpace(sql) == "" {
		return Migration{}, "", platform.Errorf(platform.CodeInvalid, "sql: required")
	}
	if strings.IndexByte(sql, 0) >= 0 {
		return Migration{}, "", platform.Errorf(platform.CodeInvalid, "sql: must not contain NUL bytes")
	}
	sum := sha256.Sum256([]byte(sql))
	if want := hex.EncodeToString(sum[:]); checksum != want {
		return Migration{}, "", platform.Errorf(platform.CodeInvalid, "checksum: must be the lowercase hex SHA-256 of sql")
	}
	d, err := q.openDB(ctx, p, idOrName, true)
	if err != nil {
		return Migration{}, "", err
	}
	defer d.close()
	pool, err := d.pool(placement.AdminRole)
	if err != nil {
		return Migration{}, "", err
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		return Migration{}, "", unavailable(err)
	}
	defer c.Release()
	// Start from a clean session whatever an earlier user of the pooled
	// connection left (SET ROLE, search_path, temporary objects).
	if _, err := c.Conn().PgConn().Exec(ctx, "DISCARD ALL").ReadAll(); err != nil {
		return Migration{}, "", unavailable(err)
	}
	m := Migration{Name: name, Checksum: checksum, SQLPreview: preview(sql)}
	status := MigrationApplied
	tx, err := c.Begin(ctx)
	if err != nil {
		return Migration{}, "", unavailable(err)
	}
	defer tx.Rollback(context.WithoutCancel(ctx))
	// Migrations of one database run one at a time.
	if _, err := tx.Exec(ctx, `SELECT pg_catalog.pg_advisory_xact_lock(7439004)`); err != nil {
		return Migration{}, "", err
	}
	var prev, prevAt string
	err = tx.QueryRow(ctx, `SELECT checksum, pg_catalog.date_part('epoch', applied_at)::text FROM _db9.migrations WHERE name = $1`, name).Scan(&prev, &prevAt)
	switch {
	case err == nil && prev == checksum:
		m.AppliedAt, err = parsePGTime(prevAt)
		return m, MigrationAlreadyApplied, err
	case err == nil:
		return Migration{}, "", platform.Errorf(platform.CodeConflict, "migration %q was already applied with another checksum", name)
	case !errors.Is(err, pgx.ErrNoRows):
		return Migration{}, "", fmt.Errorf("read migration record: %w", err)
	}
	pg := c.Conn().PgConn()
	// The simple protocol runs the script's statements in order inside the
	// open transaction.
	if _, err := pg.Exec(ctx, sql).ReadAll(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return Migration{}, "", &MigrationError{SQL: sqlErrorOf(pe)}
		}
		return Migration{}, "", unavailable(err)
	}
	if pg.TxStatus() != 'T' {
		return Migration{}, "", platform.Errorf(platform.CodeUnprocessable,
			"migration SQL must not end its transaction (COMMIT, ROLLBACK); what it committed is not recorded")
	}
	var at string
	// The script may have switched to a role admin is a member of.
	if _, err := tx.Exec(ctx, `RESET ROLE`); err != nil {
		return Migration{}, "", &MigrationError{SQL: &sqlexec.SQLError{Message: err.Error()}}
	}
	if err := tx.QueryRow(ctx, `SELECT pg_catalog.date_part('epoch', _db9.record_migration($1, $2, $3))::text`, name, checksum, sql).Scan(&at); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return Migration{}, "", &MigrationError{SQL: sqlErrorOf(pe)}
		}
		return Migration{}, "", err
	}
	if err := tx.Commit(ctx); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) { // deferred constraints
			return Migration{}, "", &MigrationError{SQL: sqlErrorOf(pe)}
		}
		return Migration{}, "", unavailable(err)
	}
	if m.AppliedAt, err = parsePGTime(at); err != nil {
		return Migration{}, "", err
	}
	q.log.Info("migration applied", logkey.DB, d.row.ID)
	return m, status, nil
}

func preview(sql string) string {
	if utf8.RuneCountInString(sql) <= previewChars {
		return sql
	}
	return string([]rune(sql)[:previewChars])
}
