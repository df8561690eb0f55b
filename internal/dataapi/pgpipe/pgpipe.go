package pgpipe

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Stmt is one statement of a pipeline: a prepared statement's Name, or ""
// for SQL sent with Parse (the unnamed statement); Args are text values.
type Stmt struct {
	Name string
	SQL  string
	Args [][]byte
}

// wireKey is where a connection's reusable messages live in
// pgconn.PgConn.CustomData.
const wireKey = "db9.dataapi.pgpipe"

// wire holds the messages a pipeline is encoded from, reused by every
// request on the connection (one at a time).
type wire struct {
	parse pgproto3.Parse
	bind  pgproto3.Bind
	exec  pgproto3.Execute
	sync  pgproto3.Sync
}

func wireOf(pc *pgconn.PgConn) *wire {
	m := pc.CustomData()
	w, _ := m[wireKey].(*wire)
	if w == nil {
		w = &wire{}
		m[wireKey] = w
	}
	return w
}

// largePipeline is the size past which the pipeline is written while its
// answers are read (roundTrip).
const largePipeline = 64 << 10

// Exchange sends stmts as one pipeline and reads the answers, keeping the
// rows of the statements at mainAt and preAt (-1: none). A nil result was
// not reached (an earlier statement failed). An error from the server is
// the first *pgconn.PgError of the pipeline, the connection still usable;
// after any other error the connection is closed.
func Exchange(ctx context.Context, pc *pgconn.PgConn, stmts []Stmt, mainAt, preAt int) (mainRows, preRows *[][][]byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if pc.IsClosed() || pc.IsBusy() {
		return nil, nil, errors.New("run statement: connection is not ready")
	}
	// A request that ends (client gone, server shutting down) breaks
	// the connection as pgconn does: a past deadline on the socket.
	var stop func() bool
	if ctx.Done() != nil {
		conn := pc.Conn()
		stop = context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Now()) })
	}
	mainRows, preRows, err = roundTrip(pc, wireOf(pc), stmts, mainAt, preAt)
	if stop != nil && !stop() {
		// The deadline is set or about to be: the connection is not lent
		// again. An answer read in full before it still stands.
		closeConn(pc)
		if err != nil {
			return nil, nil, fmt.Errorf("run statement: %w", ctx.Err())
		}
	}
	var pg *pgconn.PgError
	if err != nil && !errors.As(err, &pg) {
		closeConn(pc)
	}
	return mainRows, preRows, err
}

func roundTrip(pc *pgconn.PgConn, w *wire, stmts []Stmt, mainAt, preAt int) (mainRows, preRows *[][][]byte, err error) {
	fe := pc.Frontend()
	size := 0
	for i := range stmts {
		st := &stmts[i]
		if st.Name == "" {
			w.parse = pgproto3.Parse{Query: st.SQL}
			fe.SendParse(&w.parse)
			size += len(st.SQL)
		}
		w.bind = pgproto3.Bind{PreparedStatement: st.Name, Parameters: st.Args}
		fe.SendBind(&w.bind)
		fe.SendExecute(&w.exec)
		for _, a := range st.Args {
			size += len(a)
		}
	}
	fe.SendSync(&w.sync)
	w.parse, w.bind = pgproto3.Parse{}, pgproto3.Bind{} // hold no request's values
	var flushed chan error                              // set when a goroutine writes
	if size < largePipeline {
		if err := fe.Flush(); err != nil {
			return nil, nil, fmt.Errorf("send statements: %w", err)
		}
	} else {
		// A large pipeline (a bulk insert's body) is written by another
		// goroutine while the answers are read: the server may answer its
		// first statements before it has read the last ones, and neither
		// side may wait on a full socket for the other (pgconn's reason
		// for the same).
		flushed = make(chan error, 1)
		go func() { flushed <- fe.Flush() }()
	}
	sent := func() error {
		if flushed == nil {
			return nil
		}
		if err := <-flushed; err != nil {
			return fmt.Errorf("send statements: %w", err)
		}
		return nil
	}
	var serverErr *pgconn.PgError
	for i := 0; ; {
		msg, rerr := pc.ReceiveMessage(context.Background())
		if rerr != nil {
			if flushed != nil {
				_ = pc.Conn().Close() // unblocks the writer
			}
			if err := sent(); err != nil {
				return nil, nil, err
			}
			return nil, nil, fmt.Errorf("read results: %w", rerr)
		}
		switch m := msg.(type) {
		case *pgproto3.DataRow:
			switch i {
			case mainAt:
				if mainRows == nil {
					mainRows = &[][][]byte{}
				}
				*mainRows = append(*mainRows, copyRow(m.Values))
			case preAt:
				if preRows == nil {
					preRows = &[][][]byte{}
				}
				*preRows = append(*preRows, copyRow(m.Values))
			}
		case *pgproto3.CommandComplete, *pgproto3.EmptyQueryResponse:
			if i == mainAt && mainRows == nil {
				mainRows = &[][][]byte{}
			}
			if i == preAt && preRows == nil {
				preRows = &[][][]byte{}
			}
			i++
		case *pgproto3.ErrorResponse:
			if serverErr == nil {
				serverErr = pgconn.ErrorResponseToPgError(m)
			}
		case *pgproto3.ReadyForQuery:
			if err := sent(); err != nil {
				return nil, nil, err
			}
			if serverErr != nil {
				return nil, nil, serverErr
			}
			return mainRows, preRows, nil
		}
	}
}

// copyRow copies a row's values into one allocation (pgconn reuses its
// buffer for the next message); NULL stays nil.
func copyRow(vals [][]byte) [][]byte {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	buf := make([]byte, 0, n)
	row := make([][]byte, len(vals))
	for i, v := range vals {
		if v != nil {
			start := len(buf)
			buf = append(buf, v...)
			row[i] = buf[start:len(buf):len(buf)]
		}
	}
	return row
}

func closeConn(pc *pgconn.PgConn) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = pc.Close(ctx)
}
