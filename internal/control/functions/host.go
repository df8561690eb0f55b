package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/store"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
)

// fnHost is the database side of ctx.db and ctx.fs9 (hostcall.DB and
// hostcall.FS).
//
// ctx.db never runs on a superuser session, and never on one that could
// become more than run_as. Per run_as the platform keeps a login role
// _db9_fn_<role> (NOINHERIT, member only of run_as): sessions log in as
// it with role=<run_as> as a startup option, so the SQL runs as run_as,
// and what RESET ROLE or SET ROLE NONE fall back to is a role with no
// privileges of its own. bypass_rls uses _db9_fnb_<role> (INHERIT,
// BYPASSRLS, member of run_as): run_as's privileges without row security.
// The front door refuses every _db9 role, so these are never logged into
// from outside.
//
// ctx.fs9 acts as admin: the dispatcher has already checked fs9_scope.
type fnHost struct {
	inst placement.Connector
	lim  sqlexec.Limits
	log  *slog.Logger

	mu     sync.Mutex
	pools  map[poolKey]*pgxpool.Pool
	types  map[string]*sqlexec.TypeCache
	roles  map[poolKey]bool // roles made (or found) in this process
	closed bool
}

type poolKey struct {
	db, role string
	bypass   bool
	endpoint string // a new instance address gets new pools
}

func newFnHost(inst placement.Connector, lim sqlexec.Limits, log *slog.Logger) *fnHost {
	return &fnHost{inst: inst, lim: lim, log: log, pools: map[poolKey]*pgxpool.Pool{}, types: map[string]*sqlexec.TypeCache{},
		roles: map[poolKey]bool{}}
}

// platformRole is the login role of run_as (bypass: its BYPASSRLS twin).
// run_as is at most 55 bytes (roleName), so the name fits in 63.
func platformRole(runAs string, bypass bool) string {
	if bypass {
		return "_db9_fnb_" + runAs
	}
	return "_db9_fn_" + runAs
}

// deniedRunAs reports why a role may not be run_as ("" if it may).
func deniedRunAs(role string) string {
	switch {
	case !roleName.MatchString(role):
		return "must be 1-55 letters, digits or '_', not starting with a digit"
	case tenancy.ReservedRole(role):
		return "is reserved by the platform"
	case role == placement.ReadOnlyRole, role == "postgres":
		// postgres is the platform's NOLOGIN compatibility role (pgcompat).
		return "is reserved by the platform"
	}
	return ""
}

// prepareRole checks run_as in the database (it exists, is neither
// superuser nor replication) and makes its platform login role.
func (h *fnHost) prepareRole(ctx context.Context, dbID, runAs string, bypass bool) error {
	if why := deniedRunAs(runAs); why != "" {
		return unprocessable("run_as: %q %s", runAs, why)
	}
	lease, err := h.inst.Acquire(ctx, dbID)
	if err != nil {
		return platform.Wrap(platform.CodeUnavailable, err, "database could not be started; try again")
	}
	defer lease.Release()
	key := poolKey{db: dbID, role: runAs, bypass: bypass, endpoint: lease.Endpoint().Address}
	conn, err := lease.Connect(ctx, placement.Superuser)
	if err != nil {
		return platform.Wrap(platform.CodeUnavailable, err, "could not connect to the database; try again")
	}
	defer conn.Close(context.Background())
	rr := conn.ExecParams(ctx, `SELECT rolsuper, rolreplication FROM pg_roles WHERE rolname = $1`, [][]byte{[]byte(runAs)}, nil, nil, nil).Read()
	if rr.Err != nil {
		return fmt.Errorf("check run_as: %w", rr.Err)
	}
	if len(rr.Rows) == 0 {
		return unprocessable("run_as: role %q does not exist in the database", runAs)
	}
	if string(rr.Rows[0][0]) == "t" || string(rr.Rows[0][1]) == "t" {
		return unprocessable("run_as: %q is a superuser or replication role", runAs)
	}
	login := pgx.Identifier{platformRole(runAs, bypass)}.Sanitize()
	attrs := "LOGIN NOINHERIT"
	if bypass {
		attrs = "LOGIN INHERIT BYPASSRLS"
	}
	// Two deploys may race to make the role: duplicate_object is success.
	sql := fmt.Sprintf(`DO $$ BEGIN CREATE ROLE %s %s; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$;
		GRANT %s TO %s`, login, attrs, pgx.Identifier{runAs}.Sanitize(), login)
	if _, err := conn.Exec(ctx, sql).ReadAll(); err != nil {
		return fmt.Errorf("create the platform role of run_as %s: %w", runAs, err)
	}
	h.mu.Lock()
	h.roles[key] = true
	h.mu.Unlock()
	return nil
}

// pool returns the pool of (database, run_as, bypass) on lease's instance.
func (h *fnHost) pool(ctx context.Context, lease placement.Lease, runAs string, bypass bool) (*pgxpool.Pool, *sqlexec.TypeCache, error) {
	ep := lease.Endpoint()
	key := poolKey{db: lease.ID(), role: runAs, bypass: bypass, endpoint: ep.Address}
	h.mu.Lock()
	p, tc, made := h.pools[key], h.types[key.db], h.roles[key]
	h.mu.Unlock()
	if p != nil {
		return p, tc, nil
	}
	if !made {
		// A branch, a restart or another server made the database: the
		// role may exist already; prepareRole is idempotent.
		if err := h.prepareRole(ctx, key.db, runAs, bypass); err != nil {
			return nil, nil, err
		}
	}
	host, port := ep.HostPort()
	conn := fmt.Sprintf("host=%s port=%s user=%s dbname=postgres sslmode=disable application_name=db9-function", host, port, platformRole(runAs, bypass))
	if !bypass {
		conn += " options='-c role=" + runAs + "'"
	}
	cfg, err := pgxpool.ParseConfig(conn)
	if err != nil {
		return nil, nil, err
	}
	cfg.MaxConns = 4
	cfg.MaxConnIdleTime = 30 * time.Second
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec
	np, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, nil, err
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		np.Close()
		return nil, nil, errors.New("the functions host is closed")
	}
	if p := h.pools[key]; p != nil {
		np.Close()
		return p, h.types[key.db], nil
	}
	// Pools of an instance address that changed are of no further use.
	for k, old := range h.pools {
		if k.db == key.db && k.endpoint != key.endpoint {
			old.Close()
			delete(h.pools, k)
		}
	}
	h.pools[key] = np
	if h.types[key.db] == nil {
		h.types[key.db] = sqlexec.NewTypeCache()
	}
	return np, h.types[key.db], nil
}

// Query runs ctx.db.query as run_as (hostcall.DB).
func (h *fnHost) Query(ctx context.Context, dbID, role string, bypass bool, req sqlexec.Request) (*sqlexec.Result, error) {
	lease, err := h.inst.Acquire(ctx, dbID)
	if err != nil {
		return nil, fmt.Errorf("acquire database %s: %w", dbID, err)
	}
	defer lease.Release()
	p, tc, err := h.pool(ctx, lease, role, bypass)
	if err != nil {
		return nil, err
	}
	for attempt := 0; ; attempt++ {
		c, err := p.Acquire(ctx)
		if err != nil {
			return nil, fmt.Errorf("connect as %s: %w", role, err)
		}
		// DISCARD ALL ahead of the SQL: the previous run's session state
		// goes, and the role falls back to the startup option's run_as.
		res, err := sqlexec.ExecFresh(ctx, c.Conn().PgConn(), tc, req, h.lim)
		c.Release()
		if err == nil || attempt > 0 || !pgconn.SafeToRetry(err) || ctx.Err() != nil {
			return res, err
		}
	}
}

func fsErr(err error) error {
	var fe *fs9.Error
	if errors.As(err, &fe) {
		return &hostcall.FSError{Code: string(fe.Code), Message: fe.Message}
	}
	return err
}

// withFS runs fn on the database's fs9 as admin.
func (h *fnHost) withFS(ctx context.Context, dbID string, fn func(*store.Store) error) error {
	lease, err := h.inst.Acquire(ctx, dbID)
	if err != nil {
		return fmt.Errorf("acquire database %s: %w", dbID, err)
	}
	defer lease.Release()
	p, err := lease.Pool(placement.AdminRole)
	if err != nil {
		return err
	}
	return fsErr(fn(store.New(p)))
}

// Read implements hostcall.FS.
func (h *fnHost) Read(ctx context.Context, dbID, p string) (b []byte, err error) {
	err = h.withFS(ctx, dbID, func(s *store.Store) error { b, err = s.Read(ctx, p); return err })
	return b, err
}

// Write implements hostcall.FS.
func (h *fnHost) Write(ctx context.Context, dbID, p string, data []byte) (n int64, err error) {
	err = h.withFS(ctx, dbID, func(s *store.Store) error { n, err = s.Write(ctx, p, data, -1); return err })
	return n, err
}

// List implements hostcall.FS.
func (h *fnHost) List(ctx context.Context, dbID, p string) (out []hostcall.FileInfo, err error) {
	err = h.withFS(ctx, dbID, func(s *store.Store) error {
		es, err := s.ReadDir(ctx, p)
		for _, e := range es {
			out = append(out, hostcall.FileInfo{Path: e.Path, Type: e.Type, Size: e.Size, Mode: uint32(e.Mode), Mtime: e.MTime})
		}
		return err
	})
	return out, err
}

// Exists implements hostcall.FS.
func (h *fnHost) Exists(ctx context.Context, dbID, p string) (ok bool, err error) {
	err = h.withFS(ctx, dbID, func(s *store.Store) error { ok, err = s.Exists(ctx, p); return err })
	return ok, err
}

// Remove implements hostcall.FS.
func (h *fnHost) Remove(ctx context.Context, dbID, p string, recursive bool) (n int64, err error) {
	err = h.withFS(ctx, dbID, func(s *store.Store) error { n, err = s.Remove(ctx, p, recursive); return err })
	return n, err
}

// forget closes a deleted database's pools.
func (h *fnHost) forget(dbID string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for k, p := range h.pools {
		if k.db == dbID {
			p.Close()
			delete(h.pools, k)
		}
	}
	for k := range h.roles {
		if k.db == dbID {
			delete(h.roles, k)
		}
	}
	delete(h.types, dbID)
}

func (h *fnHost) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for k, p := range h.pools {
		p.Close()
		delete(h.pools, k)
	}
}
