package instance

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
)

// superPoolKey keys the superuser pool among the per-role pools; it is not
// a valid role name, so it never collides with one.
const superPoolKey = "\x00superuser"

// SuperuserPool returns a small pool of platform-superuser connections into
// the instance (created on first use, closed when the instance stops), for
// frequent catalog reads such as the PostgreSQL front door's password
// checks. Connections carry the same protective options as SuperuserConn.
// Callers run read-only catalog queries on it and leave no session state.
func (l *Lease) SuperuserPool() (*pgxpool.Pool, error) {
	in := l.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm == nil {
		return nil, fmt.Errorf("instance %s is not running", in.id)
	}
	if p := in.pools[superPoolKey]; p != nil {
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(superuserConnString(l.SocketDir()))
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = 2
	cfg.MaxConnIdleTime = time.Minute
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	if in.pools == nil {
		in.pools = map[string]*pgxpool.Pool{}
	}
	in.pools[superPoolKey] = p
	return p, nil
}

// ID is the database id of the leased instance.
func (l *Lease) ID() string { return l.in.id }
