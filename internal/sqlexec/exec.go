package sqlexec

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// ErrConnBroken is wrapped by errors after which Exec closed the connection:
// it cannot be reused. Exec returns other Go errors with the connection
// still usable.
var ErrConnBroken = errors.New("connection broken")

// cancelGrace is how long a canceled query may take to stop after the
// cancel request before Exec gives up on the connection.
const cancelGrace = 2 * time.Second

// copyInMessage is the reason sent with CopyFail for COPY FROM STDIN: the
// request body carries no separate data stream.
const copyInMessage = "COPY FROM STDIN is not supported here; use INSERT, or COPY FROM a server file"

// Exec runs req on conn and returns the response body. conn must be idle and
// used by nobody else until Exec returns; it is left in whatever session and
// transaction state the SQL put it in. types should be the database's
// shared cache (nil works, with a throwaway one).
//
// An SQL error is a Result holding only Error, with a nil error. Go errors
// are: a *RequestError (req is invalid; nothing ran); the context's error
// when ctx ended before or during the run (the query is canceled with a
// cancel request); and connection failures, which wrap ErrConnBroken. With
// either of the last two, check errors.Is(err, ErrConnBroken) — or
// conn.IsClosed() — before reusing conn.
func Exec(ctx context.Context, conn *pgconn.PgConn, types *TypeCache, req Request, lim Limits) (*Result, error) {
	return exec(ctx, conn, types, req, lim, false)
}

// ExecFresh is Exec on a connection that may carry another request's
// session state: DISCARD ALL is sent ahead of the request in the same write,
// so the SQL runs as in a new session (settings, temporary tables, prepared
// statements, cursors, listeners, advisory locks and sequence state such as
// lastval() all gone) at no extra round trip.
func ExecFresh(ctx context.Context, conn *pgconn.PgConn, types *TypeCache, req Request, lim Limits) (*Result, error) {
	return exec(ctx, conn, types, req, lim, true)
}

func exec(ctx context.Context, conn *pgconn.PgConn, types *TypeCache, req Request, lim Limits, reset bool) (*Result, error) {
	if err := req.Validate(); err != nil {
		return nil, err
	}
	if conn.IsClosed() {
		return nil, fmt.Errorf("execute sql: %w: connection is closed", ErrConnBroken)
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("execute sql: %w", err)
	}
	if types == nil {
		types = NewTypeCache()
	}
	x := &execution{conn: conn, types: types, lim: lim.withDefaults(), reset: reset}
	x.watch.start(ctx, conn)
	res, err := x.run(req)
	if x.watch.stop() && !conn.IsClosed() {
		// The deadline set to unblock us poisoned the connection.
		closeConn(conn)
	}
	if err != nil && !errors.Is(err, ErrConnBroken) && conn.IsClosed() {
		err = fmt.Errorf("%w: %w", ErrConnBroken, err)
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		if conn.IsClosed() {
			return nil, fmt.Errorf("execute sql: %w: %w", ErrConnBroken, ctxErr)
		}
		return nil, fmt.Errorf("execute sql: %w", ctxErr)
	}
	if err != nil {
		return nil, fmt.Errorf("execute sql: %w", err)
	}
	return res, nil
}

// execution is one Exec call. All protocol calls pass context.Background:
// cancellation is the watcher's job, so that it cancels the query instead of
// closing the connection (pgconn's default).
type execution struct {
	conn  *pgconn.PgConn
	types *TypeCache
	lim   Limits

	watch    watcher
	extended bool
	reset    bool        // start with DISCARD ALL (ExecFresh)
	cur      *stmtResult // statement whose rows are arriving
	last     *stmtResult // last completed statement
	pgErr    *pgconn.PgError
}

func (x *execution) run(req Request) (*Result, error) {
	var err error
	if len(req.Params) == 0 {
		err = x.simple(req.sql())
	} else {
		err = x.withParams(*req.Query, req.Params)
	}
	if err != nil {
		return nil, err
	}
	if x.pgErr != nil {
		return &Result{Error: sqlError(x.pgErr)}, nil
	}
	if x.last == nil {
		x.last = newStmtResult(nil)
	}
	if err := x.types.ensure(context.Background(), x.conn, x.last.oids); err != nil {
		if _, ok := asPgError(err); !ok {
			return nil, broken(x.conn, err)
		}
		// The lookup failed in SQL; unknown types come out as strings.
	}
	return x.last.build(x.types, x.lim), nil
}

// simple runs sql with the simple query protocol: any number of statements,
// run by the server in one implicit transaction up to the first error.
func (x *execution) simple(sql string) error {
	x.sendReset()
	x.conn.Frontend().SendQuery(&pgproto3.Query{String: sql})
	if err := x.flush(); err != nil {
		return err
	}
	if err := x.readReset(); err != nil {
		return err
	}
	return x.readUntilReady()
}

// sendReset queues DISCARD ALL ahead of the request's own messages, so a
// pooled connection starts every request like a new session without an
// extra round trip: both travel in one write and the server answers both.
func (x *execution) sendReset() {
	if x.reset {
		x.conn.Frontend().SendQuery(&pgproto3.Query{String: "DISCARD ALL"})
	}
}

// readReset reads the answer to sendReset's DISCARD ALL. It cannot fail
// on a healthy idle connection; if it does, the connection is not trusted.
func (x *execution) readReset() error {
	if !x.reset {
		return nil
	}
	x.reset = false
	var failed *pgconn.PgError
	for {
		msg, err := x.conn.ReceiveMessage(context.Background())
		if err != nil {
			return broken(x.conn, err)
		}
		switch m := msg.(type) {
		case *pgproto3.ErrorResponse:
			failed = pgconn.ErrorResponseToPgError(m)
		case *pgproto3.ReadyForQuery:
			if failed != nil {
				return broken(x.conn, fmt.Errorf("reset session: %w", failed))
			}
			return nil
		}
	}
}

// withParams runs one statement with the extended protocol, params in text
// format with types left to the server. When an array is among the params
// the statement is described first, to learn which params are arrays.
func (x *execution) withParams(sql string, params []json.RawMessage) error {
	x.extended = true
	var oids []uint32
	if hasArray(params) {
		if x.reset { // the describe below is a round trip of its own: reset first
			x.sendReset()
			if err := x.flush(); err != nil {
				return err
			}
			if err := x.readReset(); err != nil {
				return err
			}
		}
		sd, err := x.conn.Prepare(context.Background(), "", sql, nil)
		if err != nil {
			if pgErr, ok := asPgError(err); ok {
				x.pgErr = pgErr
				return nil
			}
			return broken(x.conn, err)
		}
		oids = sd.ParamOIDs
		if err := x.types.ensure(context.Background(), x.conn, oids); err != nil {
			if _, ok := asPgError(err); !ok {
				return broken(x.conn, err)
			}
		}
	}
	values := make([][]byte, len(params))
	for i, raw := range params {
		var p *plan
		if i < len(oids) {
			p = x.types.plan(oids[i])
		}
		v, err := paramText(raw, p)
		if err != nil {
			return &RequestError{Field: "params", Message: fmt.Sprintf("params[%d]: %v", i, err)}
		}
		values[i] = v
	}
	x.sendReset()
	f := x.conn.Frontend()
	// Parsing again with the types described keeps the lookup query above
	// (which reuses the unnamed statement) out of the way.
	f.SendParse(&pgproto3.Parse{Query: sql, ParameterOIDs: oids})
	f.SendBind(&pgproto3.Bind{Parameters: values})
	f.SendDescribe(&pgproto3.Describe{ObjectType: 'P'})
	f.SendExecute(&pgproto3.Execute{})
	f.SendSync(&pgproto3.Sync{})
	if err := x.flush(); err != nil {
		return err
	}
	if err := x.readReset(); err != nil {
		return err
	}
	return x.readUntilReady()
}

func hasArray(params []json.RawMessage) bool {
	for _, p := range params {
		if p = bytes.TrimSpace(p); len(p) > 0 && p[0] == '[' {
			return true
		}
	}
	return false
}

func (x *execution) flush() error {
	err := x.conn.Frontend().Flush()
	if err == nil {
		return nil
	}
	if pgconn.SafeToRetry(err) {
		// Nothing reached the server (the messages could not be encoded).
		return fmt.Errorf("send: %w", err)
	}
	return broken(x.conn, fmt.Errorf("send: %w", err))
}

// readUntilReady reads the responses up to ReadyForQuery, keeping the last
// statement's result and the first error.
func (x *execution) readUntilReady() error {
	for {
		msg, err := x.conn.ReceiveMessage(context.Background())
		if err != nil {
			return broken(x.conn, err)
		}
		switch m := msg.(type) {
		case *pgproto3.RowDescription:
			x.cur = newStmtResult(m)
		case *pgproto3.DataRow:
			if x.cur == nil {
				x.cur = newStmtResult(nil)
			}
			x.cur.addRow(m.Values, x.lim)
		case *pgproto3.CommandComplete:
			if x.cur == nil {
				x.cur = newStmtResult(nil)
			}
			x.cur.tag = string(m.CommandTag)
			x.last, x.cur = x.cur, nil
		case *pgproto3.EmptyQueryResponse:
			x.last, x.cur = newStmtResult(nil), nil
		case *pgproto3.ErrorResponse:
			if x.pgErr == nil {
				x.pgErr = pgconn.ErrorResponseToPgError(m)
			}
			x.cur = nil
		case *pgproto3.CopyInResponse:
			// The server waits for data we do not have; fail the COPY so
			// it answers with an error and the connection stays in sync.
			// In the extended protocol the Sync already sent was ignored
			// during copy-in, so another is needed.
			f := x.conn.Frontend()
			f.Send(&pgproto3.CopyFail{Message: copyInMessage})
			if x.extended {
				f.SendSync(&pgproto3.Sync{})
			}
			if err := x.flush(); err != nil {
				return err
			}
		case *pgproto3.ReadyForQuery:
			return nil
		}
		// CopyOutResponse and CopyData (COPY TO STDOUT) are dropped: the
		// result is the command tag alone. Notices and parameter status
		// changes are handled by pgconn.
	}
}

// broken closes conn after an I/O or protocol failure and wraps err.
func broken(conn *pgconn.PgConn, err error) error {
	closeConn(conn)
	return fmt.Errorf("%w: %w", ErrConnBroken, err)
}

func closeConn(conn *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = conn.Close(ctx)
}

// watcher cancels the running query when ctx ends: first by a cancel
// request, which keeps the connection, then — if the server has not
// answered within cancelGrace — by a past deadline on the socket, which
// breaks it. It is a context.AfterFunc, so a request whose context does
// not end costs no goroutine, and its channel is made only if it fires.
type watcher struct {
	stopAfter func() bool // unregisters the AfterFunc; false once it has started
	running   sync.WaitGroup
	mu        sync.Mutex
	stopCh    chan struct{} // closed by stop; made by whichever needs it first
	killed    atomic.Bool
}

func (w *watcher) start(ctx context.Context, conn *pgconn.PgConn) {
	if ctx.Done() == nil {
		return // ctx never ends: nothing to watch
	}
	w.running.Add(1)
	w.stopAfter = context.AfterFunc(ctx, func() {
		defer w.running.Done()
		stopped := w.stopChan()
		deadline := time.Now().Add(cancelGrace)
		cctx, cancel := context.WithDeadline(context.Background(), deadline)
		_ = conn.CancelRequest(cctx)
		cancel()
		t := time.NewTimer(time.Until(deadline))
		defer t.Stop()
		select {
		case <-stopped:
			// A cancel request may reach the backend after the query it
			// was meant for has ended; give it time to land while the
			// connection is idle (where it is ignored) rather than in the
			// caller's next query.
			time.Sleep(100 * time.Millisecond)
		case <-t.C:
			w.killed.Store(true)
			_ = conn.Conn().SetDeadline(time.Now())
			<-stopped
		}
	})
}

func (w *watcher) stopChan() chan struct{} {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.stopCh == nil {
		w.stopCh = make(chan struct{})
	}
	return w.stopCh
}

// stop ends the watch and reports whether it had to break the connection.
func (w *watcher) stop() bool {
	if w.stopAfter == nil || w.stopAfter() {
		return false // the context did not end during the run
	}
	close(w.stopChan())
	w.running.Wait()
	return w.killed.Load()
}
