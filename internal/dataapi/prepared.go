package dataapi

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/dataapi/schema"
)

// Prepared statements. A request's statements are made of a fixed text per
// request shape (every value is a $n parameter), so each connection keeps
// the texts it has seen prepared: a request of a known shape then costs
// PostgreSQL no parse, analysis or (after its first executions) planning,
// and the client no RowDescription. This is what PostgREST does too
// (db-prepared-statements).
//
// Why it stays correct:
//   - Names are resolved again whenever the search_path in effect differs
//     from the one at preparation, and RLS policies whenever the role
//     differs (PostgreSQL's plan cache re-analyses then), so a statement
//     prepared outside the request's transaction means the same as when
//     sent with it.
//   - A statement whose preparation fails (a name only the request's
//     profile resolves, an error the request must answer anyway) is sent
//     unprepared, as before, and its error is the request's.
//   - Statements are kept per schema version: after DDL the first request
//     drops the connection's statements and prepares what it needs again,
//     so a parameter type inferred from an old column type is never reused.
//   - The main statement always returns the same four columns (finalSQL),
//     so a re-planned statement cannot change its result type.

// preparedKey is where a connection's statements live in
// pgconn.PgConn.CustomData (a connection serves one request at a time).
const preparedKey = "db9.dataapi.prepared"

// maxPrepared bounds the statements one connection keeps (backend memory):
// past it they are all dropped and the shapes in use prepared again.
const maxPrepared = 256

// preparedSet is what one connection has prepared for one schema version.
// A nil description records a text that failed to prepare.
type preparedSet struct {
	version int64
	stmts   map[string]*pgconn.StatementDescription
	seq     int
}

func preparedOf(pc *pgconn.PgConn) *preparedSet {
	m := pc.CustomData()
	ps, _ := m[preparedKey].(*preparedSet)
	if ps == nil {
		ps = &preparedSet{version: schema.Unversioned, stmts: map[string]*pgconn.StatementDescription{}}
		m[preparedKey] = ps
	}
	return ps
}

// forgetPrepared drops the connection's statements after the server lost
// some of them (lostStatement): the rest are deallocated too, so that the
// set and the session agree again. Names are never reused (seq goes on).
func forgetPrepared(ctx context.Context, pc *pgconn.PgConn) error {
	return preparedOf(pc).reset(ctx, pc)
}

// statement returns the prepared statement for sql, preparing it (one
// round trip, once per connection and shape) when new; nil means "send it
// unprepared". Only a connection failure is an error.
func (ps *preparedSet) statement(ctx context.Context, pc *pgconn.PgConn, version int64, sql string) (*pgconn.StatementDescription, error) {
	if version == schema.Unversioned {
		return nil, nil
	}
	if version != ps.version || len(ps.stmts) >= maxPrepared {
		if err := ps.reset(ctx, pc); err != nil {
			return nil, err
		}
		ps.version = version
	}
	if sd, ok := ps.stmts[sql]; ok {
		return sd, nil
	}
	ps.seq++
	name := "db9_dataapi_" + strconv.Itoa(ps.seq)
	sd, err := pc.Prepare(ctx, name, sql, nil)
	if err != nil {
		var pg *pgconn.PgError
		if !errors.As(err, &pg) || pc.IsClosed() {
			return nil, fmt.Errorf("prepare statement: %w", err)
		}
		sd = nil
	}
	ps.stmts[sql] = sd
	return sd, nil
}

// reset deallocates every statement of the set in one round trip.
func (ps *preparedSet) reset(ctx context.Context, pc *pgconn.PgConn) error {
	if len(ps.stmts) == 0 {
		return nil
	}
	pl := pc.StartPipeline(ctx)
	for _, sd := range ps.stmts {
		if sd != nil {
			pl.SendDeallocate(sd.Name)
		}
	}
	pl.SendPipelineSync()
	err := pl.Flush()
	if cerr := pl.Close(); err == nil {
		err = cerr
	}
	clear(ps.stmts)
	if err != nil {
		return fmt.Errorf("deallocate statements: %w", err)
	}
	return nil
}

// lostStatement reports the error of a Bind naming a statement the session
// no longer has (invalid_sql_statement_name from FetchPreparedStatement,
// not the same code raised by a tenant's function).
func lostStatement(pg *pgconn.PgError) bool {
	return pg.Code == "26000" && pg.Routine == "FetchPreparedStatement"
}
