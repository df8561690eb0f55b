package dataplane

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/dataapi"
	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/placement"
)

// backend is dataapi.Backend over placement: each Acquire leases the
// database (starting it when stopped) and takes a connection of the
// instance's authenticator pool; Release gives both back.
type backend struct {
	pc placement.Connector
}

// errGone answers a request for a database that went away after its key
// was resolved (deleted meanwhile): the key no longer works.
var errGone = &pgrst.Error{Status: 401, Code: "PGRST301", Message: keyMessage,
	Headers: map[string]string{"WWW-Authenticate": "Bearer"}}

func (b backend) Acquire(ctx context.Context, db string) (dataapi.Conn, error) {
	lease, err := b.pc.Acquire(ctx, db)
	if errors.Is(err, placement.ErrNotFound) {
		return nil, errGone
	}
	if err != nil {
		return nil, fmt.Errorf("start database %s: %w", db, err)
	}
	pool, err := lease.Pool(dataapi.AuthenticatorRole)
	if err != nil {
		lease.Release()
		return nil, fmt.Errorf("pool of database %s: %w", db, err)
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		lease.Release()
		return nil, fmt.Errorf("connect to database %s: %w", db, err)
	}
	return &conn{c: c, lease: lease}, nil
}

// conn is one pooled connection and the lease that keeps its instance up.
type conn struct {
	c     *pgxpool.Conn
	lease placement.Lease
}

func (c *conn) PgConn() *pgconn.PgConn { return c.c.Conn().PgConn() }

// Release gives the connection back to the pool, which discards it
// rather than lend it again when it is closed, busy or was left inside a
// transaction (a request cut short, a failed ROLLBACK); then the lease.
// Session settings a tenant's function may have changed are reset by the
// request itself (dataapi's RESET ALL before it commits); every request
// sets role, claims and search_path for its own transaction first, or
// finds them at the authenticator's own values (dataapi.PlatformSQL).
func (c *conn) Release() {
	c.c.Release()
	c.lease.Release()
}
