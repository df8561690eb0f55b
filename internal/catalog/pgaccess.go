package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/platform"
)

// ErrAmbiguous is returned when a database name matches live databases of
// several customers.
var ErrAmbiguous = errors.New("database name is ambiguous")

// FindDatabase finds a live database of any customer by id, or else by a
// name that exactly one customer uses (the PostgreSQL front door, where no
// customer is known before the password is checked). A name that several
// customers use is ErrAmbiguous.
func (c *Catalog) FindDatabase(ctx context.Context, idOrName string) (DatabaseRow, error) {
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

// ConnectKey is a connect key row (never its secret).
type ConnectKey struct {
	ID         string
	DatabaseID string
	CustomerID string
	Name       string
	Role       string
	Scopes     []string
	CreatedAt  time.Time
	ExpiresAt  *time.Time
	LastUsedAt *time.Time
}

const keyColumns = `id, database_id, customer_id, name, role, scopes, created_at, expires_at, last_used_at`

func scanKey(r pgx.Row) (ConnectKey, error) {
	var k ConnectKey
	err := r.Scan(&k.ID, &k.DatabaseID, &k.CustomerID, &k.Name, &k.Role, &k.Scopes, &k.CreatedAt, &k.ExpiresAt, &k.LastUsedAt)
	return k, err
}

// InsertConnectKey records a new connect key by the hash of its secret.
func (c *Catalog) InsertConnectKey(ctx context.Context, k ConnectKey, hash []byte) (ConnectKey, error) {
	return scanKey(c.pool.QueryRow(ctx, `INSERT INTO connect_keys (id, database_id, customer_id, name, role, scopes, key_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+keyColumns,
		k.ID, k.DatabaseID, k.CustomerID, k.Name, k.Role, k.Scopes, hash, k.ExpiresAt))
}

// ListConnectKeys lists a database's unrevoked keys (expired ones
// included), newest first.
func (c *Catalog) ListConnectKeys(ctx context.Context, databaseID string) ([]ConnectKey, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+keyColumns+` FROM connect_keys
		WHERE database_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id`, databaseID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConnectKey, error) { return scanKey(r) })
}

// RevokeConnectKey revokes a database's key; ErrNotFound when there is no
// such unrevoked key.
func (c *Catalog) RevokeConnectKey(ctx context.Context, databaseID, id string) error {
	tag, err := c.pool.Exec(ctx, `UPDATE connect_keys SET revoked_at = now() WHERE id = $1 AND database_id = $2 AND revoked_at IS NULL`, id, databaseID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// UseConnectKey finds a live (unrevoked, unexpired) key by its hash,
// together with its database, and records the use (at most once a minute,
// so logins do not each write a row). One round trip.
func (c *Catalog) UseConnectKey(ctx context.Context, hash []byte) (ConnectKey, DatabaseRow, error) {
	var k ConnectKey
	var d DatabaseRow
	var state string
	err := c.pool.QueryRow(ctx, `WITH k AS (
			SELECT `+keyColumns+` FROM connect_keys
			WHERE key_hash = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > now())
		), touch AS (
			UPDATE connect_keys SET last_used_at = now()
			WHERE id = (SELECT id FROM k) AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
		)
		SELECT k.id, k.database_id, k.customer_id, k.name, k.role, k.scopes, k.created_at, k.expires_at, k.last_used_at,
			d.id, d.customer_id, d.name, d.state
		FROM k JOIN databases d ON d.id = k.database_id
		WHERE d.state NOT IN ('DISABLING', 'DISABLED')`, hash).
		Scan(&k.ID, &k.DatabaseID, &k.CustomerID, &k.Name, &k.Role, &k.Scopes, &k.CreatedAt, &k.ExpiresAt, &k.LastUsedAt,
			&d.ID, &d.CustomerID, &d.Name, &state)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, d, ErrNotFound
	}
	d.State = platform.DatabaseState(state)
	return k, d, err
}
