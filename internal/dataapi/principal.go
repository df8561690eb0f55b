package dataapi

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5/pgconn"
)

// Principal is who a request runs as, decided by the auth layer.
type Principal struct {
	// Role is the database role the statement runs as (anon,
	// authenticated, service_role or a tenant role granted to the
	// authenticator).
	Role string
	// Claims is the JWT claims object (already filtered by the
	// allowlist); nil or empty means {}.
	Claims json.RawMessage
	// Schemas are the exposed schemas, the first being the default
	// profile. Platform schemas are refused whatever is listed.
	Schemas []string
	// Tables limits the reachable tables, views and functions ("name" or
	// "schema.name"); empty means every one of the exposed schemas.
	Tables []string
	// Service marks a service key (server side, BYPASSRLS role).
	Service bool
	// Anonymous is true when no end-user JWT came with the request: a
	// permission error is then 401 rather than 403, as PostgREST answers.
	Anonymous bool
}

// Conn is a connection lent by a Backend for one request.
type Conn interface {
	// PgConn is the connection, logged in as AuthenticatorRole, idle
	// (not in a transaction).
	PgConn() *pgconn.PgConn
	// Release gives it back; a connection left in a transaction or
	// closed must be discarded by the backend.
	Release()
}

// Backend lends connections to a database, starting it when stopped.
type Backend interface {
	Acquire(ctx context.Context, db string) (Conn, error)
}
