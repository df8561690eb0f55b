package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/platform"
)

// Tokens is the api_tokens table: the tokens customers authenticate
// with, stored by the hash of their secret.
type Tokens struct{ *poolRef }

// Token is an API token row as seen by authentication.
type Token struct {
	ID         string
	CustomerID string
	Scope      []byte // raw JSON, nil = full access
	ExpiresAt  time.Time
	Customer   platform.Customer
}

// TokenInfo is an API token as its owner lists it.
type TokenInfo struct {
	ID         string
	Name       string
	Scope      []byte // raw JSON, nil = full access
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time
}

// Insert records a new API token with an optional scope (raw JSON).
func (c *Tokens) Insert(ctx context.Context, customerID, id, name string, hash []byte, scope []byte, expires time.Time) (TokenInfo, error) {
	t := TokenInfo{ID: id, Name: name, Scope: scope, ExpiresAt: expires}
	err := c.pool.QueryRow(ctx, `INSERT INTO api_tokens (id, customer_id, name, token_hash, scope, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`, id, customerID, name, hash, scope, expires).Scan(&t.CreatedAt)
	return t, err
}

// List lists a customer's tokens that are not revoked (expired ones
// included), newest first.
func (c *Tokens) List(ctx context.Context, customerID string) ([]TokenInfo, error) {
	rows, err := c.pool.Query(ctx, `SELECT id, name, scope, created_at, expires_at, last_used_at FROM api_tokens
		WHERE customer_id = $1 AND revoked_at IS NULL ORDER BY created_at DESC, id`, customerID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (TokenInfo, error) {
		var t TokenInfo
		err := r.Scan(&t.ID, &t.Name, &t.Scope, &t.CreatedAt, &t.ExpiresAt, &t.LastUsedAt)
		return t, err
	})
}

// Revoke revokes a customer's token; ErrNotFound when the customer
// has no such unrevoked token.
func (c *Tokens) Revoke(ctx context.Context, customerID, id string) error {
	tag, err := c.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND customer_id = $2 AND revoked_at IS NULL`, id, customerID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// Touch sets a token's last_used_at to now.
func (c *Tokens) Touch(ctx context.Context, id string) error {
	_, err := c.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, id)
	return err
}

// Add records a new API token of a customer.
func (c *Tokens) Add(ctx context.Context, customerID, tokenID, name string, hash []byte, expires time.Time) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO api_tokens (id, customer_id, name, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
		tokenID, customerID, name, hash, expires)
	return err
}

// Lookup finds a live (unrevoked, unexpired) token by its hash.
func (c *Tokens) Lookup(ctx context.Context, hash []byte) (Token, error) {
	var t Token
	var email *string
	err := c.pool.QueryRow(ctx, `SELECT t.id, t.customer_id, t.scope, t.expires_at, c.email, c.is_anonymous, c.created_at
		FROM api_tokens t JOIN customers c ON c.id = t.customer_id
		WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND t.expires_at > now() AND c.status = 'active'`, hash).
		Scan(&t.ID, &t.CustomerID, &t.Scope, &t.ExpiresAt, &email, &t.Customer.IsAnonymous, &t.Customer.CreatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	if err != nil {
		return Token{}, err
	}
	t.Customer.ID = t.CustomerID
	if email != nil {
		t.Customer.Email = *email
	}
	return t, nil
}
