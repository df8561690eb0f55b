package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// DataPlane is what the browser data API keeps per database: its
// auth-config and its publishable and service keys.
type DataPlane struct{ *poolRef }

// AuthConfig is a database's stored auth-config. BYOJWT is the byo_jwt
// object as JSON (nil with mode "none").
type AuthConfig struct {
	DatabaseID string
	Mode       string
	BYOJWT     []byte
	// Version grows by one with every PUT.
	Version   int64
	UpdatedAt time.Time
}

// AuthConfig reads a database's auth-config; ErrNotFound when it was
// never set.
func (c *DataPlane) AuthConfig(ctx context.Context, databaseID string) (AuthConfig, error) {
	a := AuthConfig{DatabaseID: databaseID}
	err := c.pool.QueryRow(ctx, `SELECT auth_mode, byo_jwt, version, updated_at FROM auth_configs WHERE database_id = $1`, databaseID).
		Scan(&a.Mode, &a.BYOJWT, &a.Version, &a.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return a, ErrNotFound
	}
	return a, err
}

// PutAuthConfig stores a database's auth-config (insert or replace) and
// returns it with its new version.
func (c *DataPlane) PutAuthConfig(ctx context.Context, databaseID, mode string, byoJWT []byte) (AuthConfig, error) {
	a := AuthConfig{DatabaseID: databaseID, Mode: mode, BYOJWT: byoJWT}
	err := c.pool.QueryRow(ctx, `INSERT INTO auth_configs (database_id, auth_mode, byo_jwt) VALUES ($1, $2, $3)
		ON CONFLICT (database_id) DO UPDATE SET auth_mode = excluded.auth_mode, byo_jwt = excluded.byo_jwt,
			version = auth_configs.version + 1, updated_at = now()
		RETURNING version, updated_at`, databaseID, mode, byoJWT).Scan(&a.Version, &a.UpdatedAt)
	return a, err
}

// DataKey is a publishable or service key row (never its secret).
type DataKey struct {
	ID             string
	DatabaseID     string
	CustomerID     string
	Kind           string // "publishable" or "service"
	Name           string
	AllowedOrigins []string
	ExposedSchemas []string
	ExposedTables  []string
	RateRPS        *float64 // nil: no rate limit
	RateBurst      *int
	CreatedAt      time.Time
	ExpiresAt      *time.Time
	LastUsedAt     *time.Time
}

const dataKeyColumns = `k.id, k.database_id, k.customer_id, k.kind, k.name, k.allowed_origins, k.exposed_schemas, k.exposed_tables,
	k.rate_rps, k.rate_burst, k.created_at, k.expires_at, k.last_used_at`

func dataKeyDest(k *DataKey) []any {
	return []any{&k.ID, &k.DatabaseID, &k.CustomerID, &k.Kind, &k.Name, &k.AllowedOrigins, &k.ExposedSchemas, &k.ExposedTables,
		&k.RateRPS, &k.RateBurst, &k.CreatedAt, &k.ExpiresAt, &k.LastUsedAt}
}

// InsertKey records a new key by the hash of its secret; CreatedAt and
// LastUsedAt of k are ignored.
func (c *DataPlane) InsertKey(ctx context.Context, k DataKey, hash []byte) (DataKey, error) {
	var out DataKey
	err := c.pool.QueryRow(ctx, `INSERT INTO data_keys AS k (id, database_id, customer_id, kind, name, key_hash,
			allowed_origins, exposed_schemas, exposed_tables, rate_rps, rate_burst, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING `+dataKeyColumns,
		k.ID, k.DatabaseID, k.CustomerID, k.Kind, k.Name, hash, k.AllowedOrigins, k.ExposedSchemas, k.ExposedTables,
		k.RateRPS, k.RateBurst, k.ExpiresAt).Scan(dataKeyDest(&out)...)
	return out, err
}

// ListKeys lists a database's unrevoked keys of one kind (expired ones
// included), newest first.
func (c *DataPlane) ListKeys(ctx context.Context, databaseID, kind string) ([]DataKey, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+dataKeyColumns+` FROM data_keys k
		WHERE k.database_id = $1 AND k.kind = $2 AND k.revoked_at IS NULL ORDER BY k.created_at DESC, k.id`, databaseID, kind)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (DataKey, error) {
		var k DataKey
		err := r.Scan(dataKeyDest(&k)...)
		return k, err
	})
}

// RevokeKey revokes a database's key of one kind; ErrNotFound when
// there is no such unrevoked key.
func (c *DataPlane) RevokeKey(ctx context.Context, databaseID, kind, id string) error {
	tag, err := c.pool.Exec(ctx, `UPDATE data_keys SET revoked_at = now()
		WHERE id = $1 AND database_id = $2 AND kind = $3 AND revoked_at IS NULL`, id, databaseID, kind)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// LookupKey finds a live key (unrevoked, unexpired, of a database that
// is not being deleted) by its hash, with its database's name.
func (c *DataPlane) LookupKey(ctx context.Context, hash []byte) (DataKey, string, error) {
	var k DataKey
	var dbName string
	err := c.pool.QueryRow(ctx, `SELECT `+dataKeyColumns+`, d.name FROM data_keys k JOIN databases d ON d.id = k.database_id
		WHERE k.key_hash = $1 AND k.revoked_at IS NULL AND (k.expires_at IS NULL OR k.expires_at > now())
			AND d.state NOT IN ('DISABLING', 'DISABLED')`, hash).Scan(append(dataKeyDest(&k), &dbName)...)
	if errors.Is(err, pgx.ErrNoRows) {
		return k, "", ErrNotFound
	}
	return k, dbName, err
}

// TouchKey sets a key's last_used_at to now.
func (c *DataPlane) TouchKey(ctx context.Context, id string) error {
	_, err := c.pool.Exec(ctx, `UPDATE data_keys SET last_used_at = now() WHERE id = $1`, id)
	return err
}
