package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/platform"
)

// Accounts is the customers table: sign-up, anonymous secrets, claiming
// an OIDC identity, and adopting another customer's databases (adopt.go).
type Accounts struct{ *poolRef }

// ErrIdentityTaken is returned when an OIDC identity or its email already
// belongs to another customer.
var ErrIdentityTaken = errors.New("identity linked to another customer")

// ErrConflictState is returned when a row is not in the state an operation needs.
var ErrConflictState = errors.New("conflicting state")

// Create inserts a customer and its first API token in one transaction.
func (c *Accounts) Create(ctx context.Context, cust platform.Customer, secretHash []byte, tokenID, tokenName string, tokenHash []byte, tokenExpires time.Time) (platform.Customer, error) {
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		var email any
		if cust.Email != "" {
			email = cust.Email
		}
		err := tx.QueryRow(ctx, `INSERT INTO customers (id, email, is_anonymous, anonymous_secret_hash)
			VALUES ($1, $2, $3, $4) RETURNING created_at`, cust.ID, email, cust.IsAnonymous, secretHash).Scan(&cust.CreatedAt)
		if err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return fmt.Errorf("customer email %s: %w", cust.Email, ErrNameTaken)
			}
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO api_tokens (id, customer_id, name, token_hash, expires_at) VALUES ($1, $2, $3, $4, $5)`,
			tokenID, cust.ID, tokenName, tokenHash, tokenExpires)
		return err
	})
	return cust, err
}

// AnonymousSecretHash returns the stored secret hash of an anonymous customer.
func (c *Accounts) AnonymousSecretHash(ctx context.Context, customerID string) ([]byte, error) {
	var h []byte
	err := c.pool.QueryRow(ctx, `SELECT anonymous_secret_hash FROM customers WHERE id = $1 AND is_anonymous AND status = 'active'`, customerID).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return h, err
}

// Identity is a verified OIDC identity.
type Identity struct {
	Issuer  string
	Subject string
	Email   string // may be empty
}

// Claim turns an anonymous customer into a full one linked to an
// identity. Claiming again with the identity already linked to this
// customer succeeds and changes nothing. ErrIdentityTaken: the identity
// (or its email) belongs to another customer; ErrConflictState: this
// customer is already linked to another identity.
func (c *Accounts) Claim(ctx context.Context, customerID string, id Identity) error {
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

// Get reads a customer.
func (c *Accounts) Get(ctx context.Context, id string) (email *string, anonymous bool, createdAt time.Time, err error) {
	err = c.pool.QueryRow(ctx, `SELECT email, is_anonymous, created_at FROM customers WHERE id = $1`, id).Scan(&email, &anonymous, &createdAt)
	if errors.Is(err, pgx.ErrNoRows) {
		err = fmt.Errorf("customer %s: %w", id, ErrNotFound)
	}
	return email, anonymous, createdAt, err
}
