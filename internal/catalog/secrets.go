package catalog

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
)

// Secrets is the database_secrets table: the sealed values functions
// read. A branch gets its parent's copies (Branches.FinishClone).
type Secrets struct{ *poolRef }

// Secret is a database secret's record; ValueEnc is sealed.
type Secret struct {
	Name      string
	ValueEnc  []byte
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Put creates or replaces a secret.
func (c *Secrets) Put(ctx context.Context, databaseID, name string, enc []byte) (Secret, error) {
	s := Secret{Name: name}
	err := c.pool.QueryRow(ctx, `INSERT INTO database_secrets (database_id, name, value_enc) VALUES ($1, $2, $3)
		ON CONFLICT (database_id, name) DO UPDATE SET value_enc = excluded.value_enc, updated_at = now()
		RETURNING created_at, updated_at`, databaseID, name, enc).Scan(&s.CreatedAt, &s.UpdatedAt)
	return s, err
}

// List lists a database's secrets by name, values included (sealed).
func (c *Secrets) List(ctx context.Context, databaseID string) ([]Secret, error) {
	rows, err := c.pool.Query(ctx, `SELECT name, value_enc, created_at, updated_at FROM database_secrets WHERE database_id = $1 ORDER BY name`, databaseID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (Secret, error) {
		var s Secret
		err := r.Scan(&s.Name, &s.ValueEnc, &s.CreatedAt, &s.UpdatedAt)
		return s, err
	})
}

// Delete removes a secret; ErrNotFound.
func (c *Secrets) Delete(ctx context.Context, databaseID, name string) error {
	tag, err := c.pool.Exec(ctx, `DELETE FROM database_secrets WHERE database_id = $1 AND name = $2`, databaseID, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}
