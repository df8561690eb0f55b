package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrIdentityTaken is returned when an OIDC identity or its email already
// belongs to another customer.
var ErrIdentityTaken = errors.New("identity linked to another customer")

// TokenInfo is an API token as its owner lists it.
type TokenInfo struct {
	ID         string
	Name       string
	Scope      []byte // raw JSON, nil = full access
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time
}

// InsertToken records a new API token with an optional scope (raw JSON).
func (c *Catalog) InsertToken(ctx context.Context, customerID, id, name string, hash []byte, scope []byte, expires time.Time) (TokenInfo, error) {
	t := TokenInfo{ID: id, Name: name, Scope: scope, ExpiresAt: expires}
	err := c.pool.QueryRow(ctx, `INSERT INTO api_tokens (id, customer_id, name, token_hash, scope, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6) RETURNING created_at`, id, customerID, name, hash, scope, expires).Scan(&t.CreatedAt)
	return t, err
}

// ListTokens lists a customer's tokens that are not revoked (expired ones
// included), newest first.
func (c *Catalog) ListTokens(ctx context.Context, customerID string) ([]TokenInfo, error) {
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

// RevokeToken revokes a customer's token; ErrNotFound when the customer
// has no such unrevoked token.
func (c *Catalog) RevokeToken(ctx context.Context, customerID, id string) error {
	tag, err := c.pool.Exec(ctx, `UPDATE api_tokens SET revoked_at = now() WHERE id = $1 AND customer_id = $2 AND revoked_at IS NULL`, id, customerID)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchToken sets a token's last_used_at to now.
func (c *Catalog) TouchToken(ctx context.Context, id string) error {
	_, err := c.pool.Exec(ctx, `UPDATE api_tokens SET last_used_at = now() WHERE id = $1`, id)
	return err
}

// Identity is a verified OIDC identity.
type Identity struct {
	Issuer  string
	Subject string
	Email   string // may be empty
}

// ClaimCustomer turns an anonymous customer into a full one linked to an
// identity. Claiming again with the identity already linked to this
// customer succeeds and changes nothing. ErrIdentityTaken: the identity
// (or its email) belongs to another customer; ErrConflictState: this
// customer is already linked to another identity.
func (c *Catalog) ClaimCustomer(ctx context.Context, customerID string, id Identity) error {
	return pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		var anonymous bool
		var iss, sub *string
		err := tx.QueryRow(ctx, `SELECT is_anonymous, oidc_issuer, oidc_subject FROM customers WHERE id = $1 AND status = 'active' FOR UPDATE`,
			customerID).Scan(&anonymous, &iss, &sub)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		var owner string
		err = tx.QueryRow(ctx, `SELECT id FROM customers WHERE oidc_issuer = $1 AND oidc_subject = $2`, id.Issuer, id.Subject).Scan(&owner)
		switch {
		case err == nil && owner != customerID:
			return ErrIdentityTaken
		case err == nil:
			return nil // already linked to this customer
		case !errors.Is(err, pgx.ErrNoRows):
			return err
		}
		if !anonymous || sub != nil {
			return ErrConflictState
		}
		var email any
		if id.Email != "" {
			email = id.Email
		}
		_, err = tx.Exec(ctx, `UPDATE customers SET is_anonymous = false, anonymous_secret_hash = NULL, email = coalesce($2, email),
			oidc_issuer = $3, oidc_subject = $4, claimed_at = now() WHERE id = $1`, customerID, email, id.Issuer, id.Subject)
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == "23505" {
			return ErrIdentityTaken
		}
		return err
	})
}

// ErrConflictState is returned when a row is not in the state an operation needs.
var ErrConflictState = errors.New("conflicting state")

// GetCustomer reads a customer.
func (c *Catalog) GetCustomer(ctx context.Context, id string) (email *string, anonymous bool, createdAt time.Time, err error) {
	err = c.pool.QueryRow(ctx, `SELECT email, is_anonymous, created_at FROM customers WHERE id = $1`, id).Scan(&email, &anonymous, &createdAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("customer %s: %w", id, ErrNotFound)
	}
	return email, anonymous, createdAt, err
}
