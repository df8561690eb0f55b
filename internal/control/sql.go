package control

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
)

// RunSQL runs a request of POST .../sql on a database as its admin role
// (the read-only role for a token with ro access),
// starting the instance first if it is stopped. A connection that turns
// out dead before the query was sent (the postmaster crashed a moment ago)
// is retried on a fresh one after a short pause.
func (s *Service) RunSQL(ctx context.Context, p Principal, idOrName string, req sqlexec.Request) (*sqlexec.Result, error) {
	row, err := s.activeLookup(ctx, p, idOrName)
	if err != nil {
		return nil, err
	}
	role := placement.AdminRole
	if p.Scope.access(row.ID) == AccessRO {
		role = placement.ReadOnlyRole
	}
	if o := s.cfg.Requests; o != nil {
		end := o.Begin(row.ID)
		res, err := s.runSQL(ctx, row.ID, role, req)
		if err == nil && res != nil && res.Error != nil {
			end(errSQLFailed)
		} else {
			end(err)
		}
		return res, err
	}
	return s.runSQL(ctx, row.ID, role, req)
}

// errSQLFailed tells the request observer that a call's SQL failed (the
// call itself answers 200 with the error in its result).
var errSQLFailed = errors.New("sql failed")

// runSQL runs a request, again on a fresh connection when it failed
// before reaching the database.
func (s *Service) runSQL(ctx context.Context, id, role string, req sqlexec.Request) (*sqlexec.Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := s.runSQLOnce(ctx, id, role, req)
		if err == nil || attempt >= len(retryDelays) || !retryable(err) || ctx.Err() != nil {
			return res, err
		}
		s.log.Info("retrying SQL on a fresh connection", "component", "control", "db", id, "err", err)
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(retryDelays[attempt]):
		}
	}
}

// retryDelays are the pauses before the retries of a call that failed
// before its query reached the database. A postmaster that died a moment
// ago refuses connections until the supervisor has noticed its exit (a few
// milliseconds) and started it again; an immediate retry would only fail
// the same way.
var retryDelays = []time.Duration{10 * time.Millisecond, 50 * time.Millisecond, 250 * time.Millisecond}

// errRetryable marks failures that happened before the query reached the
// database, so running it again cannot run it twice.
type errRetryable struct{ error }

func (e errRetryable) Unwrap() error { return e.error }

func retryable(err error) bool {
	var r errRetryable
	return errors.As(err, &r)
}

func (s *Service) runSQLOnce(ctx context.Context, id, role string, req sqlexec.Request) (*sqlexec.Result, error) {
	lease, err := s.acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	defer lease.Release()
	pool, err := lease.Pool(role)
	if err != nil {
		return nil, platform.Wrap(platform.CodeUnavailable, err, "database is unavailable; try again")
	}
	conn, err := pool.Acquire(ctx)
	if err != nil {
		return nil, errRetryable{platform.Wrap(platform.CodeUnavailable, err, "could not connect to the database; try again")}
	}
	defer conn.Release()
	tc, ok := s.types.Load(id)
	if !ok {
		tc, _ = s.types.LoadOrStore(id, sqlexec.NewTypeCache())
	}
	// Pooled connections are not reset on release: the request resets its
	// connection in the same write as its SQL (no extra round trip).
	res, err := sqlexec.ExecFresh(ctx, conn.Conn().PgConn(), tc.(*sqlexec.TypeCache), req, s.cfg.SQLLimits)
	if err != nil {
		if ctx.Err() != nil {
			return nil, platform.Wrap(platform.CodeUnavailable, err, "request cancelled")
		}
		perr := platform.Wrap(platform.CodeUnavailable, err, "connection to the database failed; try again")
		if pgconn.SafeToRetry(err) {
			return nil, errRetryable{perr}
		}
		return nil, perr
	}
	return res, nil
}
