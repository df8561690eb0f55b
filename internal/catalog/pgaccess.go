package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/platform"
)

// ConnectKeys is the connect_keys table: the keys the PostgreSQL front
// door accepts as passwords, stored by the hash of their secret.
type ConnectKeys struct{ *poolRef }

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

// Insert records a new connect key by the hash of its secret.
func (c *ConnectKeys) Insert(ctx context.Context, k ConnectKey, hash []byte) (ConnectKey, error) {
	return scanKey(c.pool.QueryRow(ctx, `INSERT INTO connect_keys (id, database_id, customer_id, name, role, scopes, key_hash, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING `+keyColumns,
		k.ID, k.DatabaseID, k.CustomerID, k.Name, k.Role, k.Scopes, hash, k.ExpiresAt))
}

// List lists a database's unrevoked keys (expired ones
// included), newest first.
func (c *ConnectKeys) List(ctx context.Context, databaseID string) ([]ConnectKey, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+keyColumns+` FROM connect_keys
		WHERE database_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id`, databaseID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ConnectKey, error) { return scanKey(r) })
}

// Revoke revokes a database's key; ErrNotFound when there is no
// such unrevoked key.
func (c *ConnectKeys) Revoke(ctx context.Context, databaseID, id string) error {
	tag, err := c.pool.Exec(ctx, `UPDATE connect_keys SET revoked_at = now() WHERE id = $1 AND database_id = $2 AND revoked_at IS NULL`, id, databaseID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Use finds a live (unrevoked, unexpired) key by its hash,
// together with its database, and records the use (at most once a minute,
// so logins do not each write a row). One round trip.
func (c *ConnectKeys) Use(ctx context.Context, hash []byte) (ConnectKey, DatabaseRow, error) {
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
