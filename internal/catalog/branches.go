package catalog

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/platform"
)

// ErrTooManyClones is returned when a customer already has the most
// branches cloning at once that it may.
var ErrTooManyClones = errors.New("too many branches cloning")

// Branches makes branch rows: CLONING until the copy is done, then
// ACTIVE with the parent's functions, or CREATE_FAILED.
type Branches struct{ *poolRef }

// Insert records a branch as CLONING, atomically with the checks a
// create makes (name, anonymous quota when limit > 0) and the bound on
// branches cloning at once per customer, all under a lock on the customer
// row so concurrent requests cannot both pass a count.
func (c *Branches) Insert(ctx context.Context, d DatabaseRow, limit, maxCloning int) (DatabaseRow, error) {
	if d.State != platform.StateCloning || d.ParentDatabaseID == "" || d.SnapshotAt == nil {
		return DatabaseRow{}, fmt.Errorf("insert branch %s: needs state CLONING, a parent and a snapshot time", d.ID)
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		// The lock is its own statement: the count after it must see (with
		// a new snapshot) the rows of whoever held the lock before.
		if _, err := tx.Exec(ctx, `SELECT 1 FROM customers WHERE id = $1 FOR UPDATE`, d.CustomerID); err != nil {
			return err
		}
		var live, cloning int
		err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state NOT IN ('DISABLING', 'DISABLED')),
			       count(*) FILTER (WHERE state = 'CLONING')
			FROM databases WHERE customer_id = $1 AND state <> 'DISABLED'`, d.CustomerID).Scan(&live, &cloning)
		if err != nil {
			return err
		}
		if limit > 0 && live >= limit {
			return ErrQuota
		}
		if cloning >= maxCloning {
			return ErrTooManyClones
		}
		d, err = scanDB(tx.QueryRow(ctx, `INSERT INTO databases (id, customer_id, name, state, state_reason, region, admin_password_enc, parent_database_id, snapshot_at)
			VALUES ($1, $2, $3, $4, '', $5, $6, $7, $8) RETURNING `+dbColumns,
			d.ID, d.CustomerID, d.Name, string(d.State), d.Region, d.AdminPasswordEnc, d.ParentDatabaseID, *d.SnapshotAt))
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "databases_customer_name" {
		return DatabaseRow{}, ErrNameTaken
	}
	return d, err
}

// FinishClone moves a CLONING row to ACTIVE, or to CREATE_FAILED with a
// reason. It reports false when the row is no longer CLONING (deleted
// meanwhile).
//
// A branch made ACTIVE gets its parent's functions, schedules and secrets
// in the same transaction, so a crash cannot leave it without them.
func (c *Branches) FinishClone(ctx context.Context, id string, state platform.DatabaseState, reason string) (bool, error) {
	var ok bool
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `UPDATE databases SET state = $2, state_reason = $3 WHERE id = $1 AND state = 'CLONING'`, id, string(state), reason)
		if err != nil {
			return err
		}
		if ok = tag.RowsAffected() == 1; ok && state == platform.StateActive {
			return copyFunctions(ctx, tx, id)
		}
		return nil
	})
	return ok, err
}
