package park

import (
	"errors"
	"log/slog"
	"net"
	"syscall"
	"time"
)

// Client is a pooled client as the parker sees it: the pooler's side of
// the seam. The loop calls its methods on its own goroutine; none may
// block (Cancel excepted: the loop calls it on a goroutine of its own).
type Client interface {
	// Loopable reports whether msg, all the parked client sent, is a
	// simple query the loop may run: one whole Query, nothing pending on
	// the client's side, SQL that pins nothing and names no prepared
	// statement.
	Loopable(msg []byte) bool
	// Acquire returns an idle backend of the client's pool; or none and
	// queued (Parker.Handoff brings it, or nil, later); or none and not
	// queued when the pool may open another (the client's goroutine does
	// that).
	Acquire() (b Backend, queued bool)
	// Dequeue takes the client out of its pool's queue; false when it is
	// not there (a backend, or nil, was handed to it just now).
	Dequeue() bool
	// Begin records that the client's Query goes to b: a simple query
	// drops the unnamed statement; a cancel request reaches b.
	Begin(b Backend)
	// Done ends the client's hold on b after Begin: its cancel requests
	// reach nothing, b goes back to the pool (closed unless reusable).
	Done(b Backend, reusable bool)
	// Release gives b back to the pool without Begin (closed unless
	// reusable).
	Release(b Backend, reusable bool)
	// Cancel cancels the query the client runs (it hung up).
	Cancel()
	// Resume runs the client on a goroutine of its own: fd is its socket,
	// out of the set and the client's now; prefix what the loop read of
	// it (read first); b, when not nil, a backend the client holds from
	// now on, a in what state.
	Resume(fd int, prefix []byte, b Backend, a Answer)
	// Finish ends the session (the client hung up, or the proxy closed
	// it); its socket is closed already.
	Finish()
}

// Backend is a backend of a pool, as the loop uses it for a parked
// client's query.
type Backend interface {
	// Loop returns the backend's connection for the loop; nil when the
	// loop may not run a query on it (statements of departed clients to
	// close first): the client's goroutine does.
	Loop() *Conn
}

// Conn is a backend's connection as the loop uses it. A pool's backend
// keeps one (NewConn) and hands it out through Backend.Loop.
type Conn struct {
	rc  syscall.RawConn // the connection's own descriptor
	fd  int             // its number: what the loop's epoll set reports
	reg bool            // in the loop's epoll set; the loop's
}

// NewConn returns the loop's view of a backend's connection. The loop
// runs no query on a connection without a descriptor.
func NewConn(c net.Conn) Conn {
	lc := Conn{fd: -1}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return lc
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return lc
	}
	lc.rc = rc
	_ = rc.Control(func(fd uintptr) { lc.fd = int(fd) })
	return lc
}

// Answer is how far the loop got with a query on a backend it hands to
// the client's goroutine (Client.Resume).
type Answer struct {
	// Answered: the loop sent the client's Query to the backend and
	// relayed its answer, up to a ReadyForQuery (Ready) or to the start
	// of a COPY from the client (its ReadyForQuery is still to come).
	Answered, Ready bool
	// Setting: a reported setting changed (ParameterStatus): the
	// backend's state is the client's now, as on the goroutine path.
	Setting bool
	// Ending: the backend sent more after the answer: it is ending
	// (FATAL). The pooler closes it; the relay reads its end and tells
	// the client.
	Ending bool
}

// Spot is a client's place in a Parker: its socket while parked, and the
// loop's hold on it. The pooler keeps one per client and binds it (Bind)
// before its first Park; the Parker's lock guards it from then on.
type Spot struct {
	client Client
	// conn is the client's own connection field: Park and Resumed change
	// it, and Close reads it, under the Parker's lock, so that Close finds
	// the client either parked or with a connection to close.
	conn    *net.Conn
	fd      int  // the socket while parked; -1 otherwise
	closing bool // Close was called
	// tx is the loop's hold on the parked client (loop_linux.go): while
	// set, the loop has it, and Close leaves its ending to the loop.
	tx *loopTx
}

// Bind makes s the spot of client c, whose connection is *conn.
func (s *Spot) Bind(c Client, conn *net.Conn) {
	s.client, s.conn, s.fd = c, conn, -1
}

// Config configures a Parker.
type Config struct {
	// QueueTimeout bounds the wait of a parked client's query queued for
	// a backend; then it is refused with Busy.
	QueueTimeout time.Duration
	// Busy is the answer to a query refused so: an ErrorResponse and a
	// ReadyForQuery.
	Busy   []byte
	Logger *slog.Logger
}

// ErrClosing refuses to park a client that is being closed.
var ErrClosing = errors.New("client closing")
