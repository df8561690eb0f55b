package client

import (
	"context"
	"net/url"
	"time"
)

// SecretsService is a database's secrets, which functions bind by name.
// Their values are write-only: no call returns one.
type SecretsService service

// Secret is a secret as the API shows it: never its value.
type Secret struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// List lists a database's secrets (names and times only).
func (s *SecretsService) List(ctx context.Context, db string) ([]Secret, error) {
	var ss []Secret
	err := s.client.call(ctx, "GET", dbPath(db, "secrets"), true, nil, &ss)
	return ss, err
}

// Put creates or replaces a secret.
func (s *SecretsService) Put(ctx context.Context, db, name, value string) (Secret, error) {
	var sec Secret
	err := s.client.call(ctx, "PUT", dbPath(db, "secrets", url.PathEscape(name)), true, map[string]string{"value": value}, &sec)
	return sec, err
}

// Delete deletes a secret.
func (s *SecretsService) Delete(ctx context.Context, db, name string) (Message, error) {
	var m Message
	err := s.client.call(ctx, "DELETE", dbPath(db, "secrets", url.PathEscape(name)), true, nil, &m)
	return m, err
}
