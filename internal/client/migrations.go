package client

import (
	"context"
	"time"
)

// MigrationsService is a database's applied migrations, which the server
// records in the same transaction that runs them.
type MigrationsService service

// Migration is an applied migration (GET .../migrations).
type Migration struct {
	Name       string     `json:"name"`
	Checksum   string     `json:"checksum"`
	AppliedAt  *time.Time `json:"applied_at"`
	SQLPreview string     `json:"sql_preview,omitempty"`
	Status     string     `json:"status,omitempty"`
}

// List lists db's applied migrations, oldest first.
func (s *MigrationsService) List(ctx context.Context, db string) ([]Migration, error) {
	var ms []Migration
	err := s.client.call(ctx, "GET", dbPath(db, "migrations"), true, nil, &ms)
	return ms, err
}

// Apply runs sql and records it under name in one transaction.
// checksum must be the lowercase hex SHA-256 of sql.
func (s *MigrationsService) Apply(ctx context.Context, db, name, sql, checksum string) (Migration, error) {
	var m Migration
	in := map[string]string{"name": name, "sql": sql, "checksum": checksum}
	err := s.client.call(ctx, "POST", dbPath(db, "migrations"), true, in, &m)
	return m, err
}
