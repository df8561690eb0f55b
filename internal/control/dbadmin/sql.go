package dbadmin

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/control/observability"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
)

// SQL holds the use cases that work inside a database on the customer's
// behalf: SQL over HTTP, the schema, dumps, users and migrations.
type SQL struct {
	limits sqlexec.Limits
	bin    pgbin.Bin // pg_dump
	dir    *tenancy.Directory
	inst   *tenancy.Instances
	log    *slog.Logger

	types sync.Map // database id -> *sqlexec.TypeCache
	meta  sync.Map // database id -> struct{}: platform schema checked
	reqs  observability.RequestObserver
}

// ObserveRequests has every SQL-over-HTTP call told to o (observability);
// call it before serving.
func (q *SQL) ObserveRequests(o observability.RequestObserver) { q.reqs = o }

// New wires the use cases inside databases: limits bound SQL over HTTP,
// bin has pg_dump. It does no I/O.
func New(limits sqlexec.Limits, bin pgbin.Bin, dir *tenancy.Directory, inst *tenancy.Instances, log *slog.Logger) *SQL {
	return &SQL{limits: limits, bin: bin, dir: dir, inst: inst, log: log}
}

// ForgetDatabase drops what is kept of a database being deleted.
func (q *SQL) ForgetDatabase(id string) {
	q.types.Delete(id)
	q.meta.Delete(id)
}

// RunSQL runs a request of POST .../sql on a database as its admin role
// (the read-only role for a token with ro access),
// starting the instance first if it is stopped. A connection that turns
// out dead before the query was sent (the postmaster crashed a moment ago)
// is retried on a fresh one after a short pause.
func (q *SQL) RunSQL(ctx context.Context, p tenancy.Principal, idOrName string, req sqlexec.Request) (*sqlexec.Result, error) {
	row, err := q.dir.ActiveLookup(ctx, p, idOrName)
	if err != nil {
		return nil, err
	}
	role := tenancy.AdminUser
	if p.Scope.Access(row.ID) == tenancy.AccessRO {
		role = placement.ReadOnlyRole
	}
	if q.reqs != nil {
		end := q.reqs.Begin(row.ID)
		res, err := q.runSQL(ctx, row.ID, role, req)
		if err == nil && res != nil && res.Error != nil {
			end(errSQLFailed)
		} else {
			end(err)
		}
		return res, err
	}
	return q.runSQL(ctx, row.ID, role, req)
}

// errSQLFailed tells the request observer that a call's SQL failed (the
// call itself answers 200 with the error in its result).
var errSQLFailed = errors.New("sql failed")

// runSQL runs a request, again on a fresh connection when it failed
// before reaching the database.
func (q *SQL) runSQL(ctx context.Context, id, role string, req sqlexec.Request) (*sqlexec.Result, error) {
	for attempt := 0; ; attempt++ {
		res, err := q.runSQLOnce(ctx, id, role, req)
		if err == nil || attempt >= len(retryDelays) || !retryable(err) || ctx.Err() != nil {
			return res, err
		}
		q.log.Info("retrying SQL on a fresh connection", logkey.DB, id, logkey.Err, err)
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

func (q *SQL) runSQLOnce(ctx context.Context, id, role string, req sqlexec.Request) (*sqlexec.Result, error) {
	lease, err := q.inst.Acquire(ctx, id)
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
	tc, ok := q.types.Load(id)
	if !ok {
		tc, _ = q.types.LoadOrStore(id, sqlexec.NewTypeCache())
	}
	// Pooled connections are not reset on release: the request resets its
	// connection in the same write as its SQL (no extra round trip).
	res, err := sqlexec.ExecFresh(ctx, conn.Conn().PgConn(), tc.(*sqlexec.TypeCache), req, q.limits)
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
