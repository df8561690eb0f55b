package catalog

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/platform"
)

// ErrNotFound is returned when a row does not exist.
var ErrNotFound = errors.New("not found")

// ErrNameTaken is returned when a customer already has a live database of that name.
var ErrNameTaken = errors.New("database name taken")

// ErrQuota is returned when a customer is at its database limit.
var ErrQuota = errors.New("database quota reached")

// Databases is the databases table: a database's row from create to
// delete, found by its customer or (Find) by the front door. Branch rows
// are made by Branches.
type Databases struct{ *poolRef }

// DatabaseRow is a database plus its sealed admin password.
type DatabaseRow struct {
	platform.Database
	AdminPasswordEnc []byte
}

const dbColumns = `id, customer_id, name, state, state_reason, region, admin_password_enc, coalesce(parent_database_id, ''), snapshot_at, created_at`

func scanDB(row pgx.Row) (DatabaseRow, error) {
	var d DatabaseRow
	var state string
	err := row.Scan(&d.ID, &d.CustomerID, &d.Name, &state, &d.StateReason, &d.Region, &d.AdminPasswordEnc, &d.ParentDatabaseID, &d.SnapshotAt, &d.CreatedAt)
	d.State = platform.DatabaseState(state)
	return d, err
}

// CreateChecks returns, in one round trip, how many live databases a
// customer has and whether one of them is named name.
func (c *Databases) CreateChecks(ctx context.Context, customerID, name string) (live int, nameTaken bool, err error) {
	err = c.pool.QueryRow(ctx, `SELECT count(*) FILTER (WHERE state NOT IN ('DISABLING', 'DISABLED')),
			coalesce(bool_or(name = $2 AND state <> 'DISABLED'), false)
		FROM databases WHERE customer_id = $1 AND state <> 'DISABLED'`, customerID, name).Scan(&live, &nameTaken)
	return live, nameTaken, err
}

// Insert records a database, enforcing name uniqueness and, when
// limit > 0, the customer's quota, atomically: the customer row is locked
// so concurrent creates cannot both pass the count. Lock and conditional
// insert travel in one round trip to keep the time the lock is held short.
func (c *Databases) Insert(ctx context.Context, d DatabaseRow, limit int) (DatabaseRow, error) {
	var snap any
	if d.SnapshotAt != nil {
		snap = *d.SnapshotAt
	}
	var parent any
	if d.ParentDatabaseID != "" {
		parent = d.ParentDatabaseID
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		b := &pgx.Batch{}
		if limit > 0 {
			b.Queue(`SELECT 1 FROM customers WHERE id = $1 FOR UPDATE`, d.CustomerID)
		}
		b.Queue(`INSERT INTO databases (id, customer_id, name, state, state_reason, region, admin_password_enc, parent_database_id, snapshot_at)
			SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
			WHERE $10 <= 0 OR (SELECT count(*) FROM databases WHERE customer_id = $2 AND state NOT IN ('DISABLING', 'DISABLED')) < $10
			RETURNING `+dbColumns,
			d.ID, d.CustomerID, d.Name, string(d.State), d.StateReason, d.Region, d.AdminPasswordEnc, parent, snap, limit)
		br := tx.SendBatch(ctx, b)
		defer br.Close()
		if limit > 0 {
			if _, err := br.Exec(); err != nil {
				return err
			}
		}
		var err error
		d, err = scanDB(br.QueryRow())
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrQuota
		}
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23505" && pe.ConstraintName == "databases_customer_name" {
		return DatabaseRow{}, ErrNameTaken
	}
	return d, err
}

// Get finds a customer's database by id, or else by name. Deleted
// and deleting databases are not found.
func (c *Databases) Get(ctx context.Context, customerID, idOrName string) (DatabaseRow, error) {
	d, err := scanDB(c.pool.QueryRow(ctx, `SELECT `+dbColumns+` FROM databases
		WHERE customer_id = $1 AND (id = $2 OR name = $2) AND state NOT IN ('DISABLING', 'DISABLED')
		ORDER BY (id = $2) DESC LIMIT 1`, customerID, idOrName))
	if errors.Is(err, pgx.ErrNoRows) {
		return DatabaseRow{}, ErrNotFound
	}
	return d, err
}

// List lists a customer's databases newest first; failed ones only with all.
func (c *Databases) List(ctx context.Context, customerID string, all bool) ([]DatabaseRow, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+dbColumns+` FROM databases
		WHERE customer_id = $1 AND state NOT IN ('DISABLING', 'DISABLED') AND ($2 OR state <> 'CREATE_FAILED')
		ORDER BY created_at DESC, id`, customerID, all)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DatabaseRow, error) { return scanDB(r) })
}

// BeginDelete moves a live database to DISABLING. Only one caller wins;
// the others get ErrNotFound.
func (c *Databases) BeginDelete(ctx context.Context, customerID, id string) error {
	tag, err := c.pool.Exec(ctx, `UPDATE databases SET state = 'DISABLING' WHERE customer_id = $1 AND id = $2 AND state NOT IN ('DISABLING', 'DISABLED')`, customerID, id)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// FinishDelete marks a database DISABLED once its files are gone.
func (c *Databases) FinishDelete(ctx context.Context, id string) error {
	_, err := c.pool.Exec(ctx, `UPDATE databases SET state = 'DISABLED', deleted_at = now(), admin_password_enc = NULL WHERE id = $1`, id)
	return err
}

// SetAdminPassword stores a new sealed admin password.
func (c *Databases) SetAdminPassword(ctx context.Context, id string, enc []byte) error {
	_, err := c.pool.Exec(ctx, `UPDATE databases SET admin_password_enc = $2 WHERE id = $1`, id, enc)
	return err
}

// SetState changes a database's state and reason.
func (c *Databases) SetState(ctx context.Context, id string, state platform.DatabaseState, reason string) error {
	_, err := c.pool.Exec(ctx, `UPDATE databases SET state = $2, state_reason = $3 WHERE id = $1`, id, string(state), reason)
	return err
}

// InStates lists every customer's databases in the given states
// (for reconciliation at start).
func (c *Databases) InStates(ctx context.Context, states ...platform.DatabaseState) ([]DatabaseRow, error) {
	ss := make([]string, len(states))
	for i, s := range states {
		ss[i] = string(s)
	}
	rows, err := c.pool.Query(ctx, `SELECT `+dbColumns+` FROM databases WHERE state = ANY($1) ORDER BY created_at`, ss)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DatabaseRow, error) { return scanDB(r) })
}

// DeleteRow removes a database row outright (a create that never finished).
func (c *Databases) DeleteRow(ctx context.Context, id string) error {
	_, err := c.pool.Exec(ctx, `DELETE FROM databases WHERE id = $1`, id)
	return err
}

// ErrAmbiguous is returned when a database name matches live databases of
// several customers.
var ErrAmbiguous = errors.New("database name is ambiguous")

// Find finds a live database of any customer by id, or else by a
// name that exactly one customer uses (the PostgreSQL front door, where no
// customer is known before the password is checked). A name that several
// customers use is ErrAmbiguous.
func (c *Databases) Find(ctx context.Context, idOrName string) (DatabaseRow, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+dbColumns+` FROM databases
		WHERE (id = $1 OR name = $1) AND state NOT IN ('DISABLING', 'DISABLED')
		ORDER BY (id = $1) DESC LIMIT 2`, idOrName)
	if err != nil {
		return DatabaseRow{}, err
	}
	found, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (DatabaseRow, error) { return scanDB(r) })
	switch {
	case err != nil:
		return DatabaseRow{}, err
	case len(found) == 0:
		return DatabaseRow{}, ErrNotFound
	case found[0].ID == idOrName || len(found) == 1:
		return found[0], nil
	}
	return DatabaseRow{}, ErrAmbiguous
}
