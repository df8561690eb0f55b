package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrIdempotencyMismatch is returned when an idempotency key comes back
// with a different request.
var ErrIdempotencyMismatch = errors.New("idempotency key reused with another request")

// AdoptRequest moves databases of an anonymous customer to another customer.
type AdoptRequest struct {
	CustomerID  string // the adopter
	FromID      string // the anonymous customer
	IDs         []string
	Key         string
	RequestHash []byte
	Limit       int // the adopter's database limit; 0 = none
}

// AdoptResult is the answer of an adoption: the ids moved by the first
// call with the key, and whether this call only replayed it.
type AdoptResult struct {
	Adopted  []string
	Replayed bool
}

// MissingDatabaseError names a requested database the anonymous customer
// does not own (or that is deleted).
type MissingDatabaseError struct{ ID string }

func (e *MissingDatabaseError) Error() string {
	return fmt.Sprintf("database %s: %v", e.ID, ErrNotFound)
}
func (e *MissingDatabaseError) Unwrap() error { return ErrNotFound }

// Adopt moves the databases in one transaction and records the answer
// under the idempotency key in the same transaction. The adopter's row is
// locked first, so a concurrent retry with the same key waits and then
// finds the recorded answer instead of moving anything.
func (c *Accounts) Adopt(ctx context.Context, req AdoptRequest) (AdoptResult, error) {
	var res AdoptResult
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		res = AdoptResult{}
		rows, err := tx.Query(ctx, `SELECT id, is_anonymous, status FROM customers WHERE id = ANY($1) ORDER BY id FOR UPDATE`,
			[]string{req.CustomerID, req.FromID})
		if err != nil {
			return err
		}
		anon := map[string]bool{}
		for rows.Next() {
			var id, status string
			var a bool
			if err := rows.Scan(&id, &a, &status); err != nil {
				return err
			}
			if status == "active" {
				anon[id] = a
			}
		}
		if err := rows.Err(); err != nil {
			return err
		}
		var hash, stored []byte
		err = tx.QueryRow(ctx, `SELECT request_hash, response FROM adopt_requests WHERE customer_id = $1 AND idempotency_key = $2`,
			req.CustomerID, req.Key).Scan(&hash, &stored)
		if err == nil {
			if !bytes.Equal(hash, req.RequestHash) {
				return ErrIdempotencyMismatch
			}
			res.Replayed = true
			return json.Unmarshal(stored, &res.Adopted)
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return err
		}
		if a, ok := anon[req.FromID]; !ok || !a {
			return ErrConflictState
		}
		rows, err = tx.Query(ctx, `SELECT id FROM databases WHERE customer_id = $1 AND id = ANY($2)
			AND state NOT IN ('DISABLING', 'DISABLED') FOR UPDATE`, req.FromID, req.IDs)
		if err != nil {
			return err
		}
		found, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		have := map[string]bool{}
		for _, id := range found {
			have[id] = true
		}
		for _, id := range req.IDs {
			if !have[id] {
				return &MissingDatabaseError{ID: id}
			}
		}
		if req.Limit > 0 {
			var live int
			if err := tx.QueryRow(ctx, `SELECT count(*) FROM databases WHERE customer_id = $1 AND state NOT IN ('DISABLING', 'DISABLED')`,
				req.CustomerID).Scan(&live); err != nil {
				return err
			}
			if live+len(req.IDs) > req.Limit {
				return ErrQuota
			}
		}
		if _, err := tx.Exec(ctx, `UPDATE databases SET customer_id = $1 WHERE id = ANY($2)`, req.CustomerID, req.IDs); err != nil {
			var pe *pgconn.PgError
			if errors.As(err, &pe) && pe.Code == "23505" {
				return ErrNameTaken
			}
			return err
		}
		res.Adopted = append([]string{}, req.IDs...)
		b, _ := json.Marshal(res.Adopted)
		_, err = tx.Exec(ctx, `INSERT INTO adopt_requests (customer_id, idempotency_key, request_hash, response) VALUES ($1, $2, $3, $4)`,
			req.CustomerID, req.Key, req.RequestHash, b)
		return err
	})
	return res, err
}

// AdoptAnswer returns the recorded answer of an earlier adopt call with
// the key; ErrIdempotencyMismatch when that call's request differed,
// ErrNotFound when there was none.
func (c *Accounts) AdoptAnswer(ctx context.Context, customerID, key string, requestHash []byte) ([]string, error) {
	var hash, stored []byte
	err := c.pool.QueryRow(ctx, `SELECT request_hash, response FROM adopt_requests WHERE customer_id = $1 AND idempotency_key = $2`,
		customerID, key).Scan(&hash, &stored)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(hash, requestHash) {
		return nil, ErrIdempotencyMismatch
	}
	var ids []string
	err = json.Unmarshal(stored, &ids)
	return ids, err
}
