package local

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/postgres"
)

// lease is placement.Lease on a local instance.
type lease struct {
	s    *supervisor
	in   *inst
	once sync.Once
	// quiet: held by the driver for a BeforeIdleStop hook, which must
	// not restart the idle clock; Release does nothing.
	quiet bool
	// peek: taken by Driver.Peek; Release ends it without restarting
	// the idle clock.
	peek bool
}

func (l *lease) ID() string { return l.in.id }

func (l *lease) Endpoint() placement.Endpoint { return l.in.ep }

func (l *lease) Release() {
	switch {
	case l.peek:
		l.once.Do(func() { l.in.leases.Add(-1) })
	case !l.quiet:
		l.once.Do(func() { l.s.release(l.in) })
	}
}

// superuserPoolConns bounds the superuser pool: it serves short catalog
// reads such as the front door's password checks.
const superuserPoolConns = 2

func (l *lease) Pool(role string) (*pgxpool.Pool, error) {
	in := l.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm == nil {
		return nil, fmt.Errorf("instance %s is not running", in.id)
	}
	if p := in.pools[role]; p != nil {
		return p, nil
	}
	var cfg *pgxpool.Config
	var err error
	if role == placement.Superuser {
		if cfg, err = pgxpool.ParseConfig(postgres.SuperuserConnString(in.cl.SocketDir)); err != nil {
			return nil, err
		}
		cfg.MaxConns = superuserPoolConns
	} else {
		if cfg, err = pgxpool.ParseConfig(postgres.ConnString(in.cl.SocketDir, role)); err != nil {
			return nil, err
		}
		cfg.MaxConns = l.s.maxConns
		cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	}
	cfg.MaxConnIdleTime = time.Minute
	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	if in.pools == nil {
		in.pools = map[string]*pgxpool.Pool{}
	}
	in.pools[role] = p
	return p, nil
}

func (l *lease) Connect(ctx context.Context, role string) (*pgconn.PgConn, error) {
	return connect(ctx, l.in, role)
}

// connect opens a connection into in as role; as the superuser it carries
// the options that override the tenant's per-database settings.
func connect(ctx context.Context, in *inst, role string) (*pgconn.PgConn, error) {
	if role == placement.Superuser {
		return pgconn.Connect(ctx, postgres.SuperuserConnString(in.cl.SocketDir))
	}
	return pgconn.Connect(ctx, postgres.ConnString(in.cl.SocketDir, role))
}
