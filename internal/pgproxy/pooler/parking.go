package pooler

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgproxy/pooler/park"
	"github.com/db9/db9/internal/pgproxy/wire"
)

// Idle clients of the pooled endpoint are parked, PgBouncer's way: a
// client that sends nothing for parkAfter between transactions (no
// backend held) gives up its goroutine, its read buffer and its net.Conn:
// what remains is a descriptor of its socket, waiting in the parker's
// epoll set (package park), and the client's bookkeeping. When the socket
// becomes readable (or hangs up), a new goroutine wraps it in a net.Conn
// again and resumes the client where it was.
//
// From its first park on, a client is tracked by the proxy itself (for
// Close) and counted in its wait group: the goroutine that accepted it
// ends with that park, closing its own descriptor of the socket. TLS
// clients (and connections that are no TCP socket) are not parked: their
// state is not the socket's alone.

// parkAfter is how long a client between transactions stays on its
// goroutine before it is parked: long enough that a client running
// transactions back to back never parks, short enough that idle ones
// soon cost little.
const parkAfter = time.Second

// parkState is a client's parking. never, own and pk are the client
// goroutine's; spot is the parker's (its lock guards it, and the
// client's conn while it parks and resumes).
type parkState struct {
	never bool         // the client cannot be parked (TLS, no parker)
	own   bool         // tracked by the proxy and in its wait group (parked once)
	pk    *park.Parker // the parker, once own
	spot  park.Spot
}

// parker returns the pooler's parker, started on first use; nil when
// there is none (not Linux, or the pooler stopped).
func (pr *Pooler) parker() *park.Parker {
	pr.pkMu.Lock()
	defer pr.pkMu.Unlock()
	if pr.pk == nil && !pr.pkStopped {
		e := wire.ErrorResponse(errPoolBusy)
		e.Severity, e.SeverityUnlocalized = "ERROR", "ERROR"
		busy, _ := e.Encode(nil)
		busy = append(busy, 'Z', 0, 0, 0, 5, 'I')
		pk, err := park.New(park.Config{QueueTimeout: pr.cfg.StartupTimeout, Busy: busy, Logger: pr.log})
		if err != nil {
			pr.pkStopped = true
			pr.log.Warn("idle pooled clients are not parked", logkey.Err, err)
			return nil
		}
		pr.pk = pk
	}
	return pr.pk
}

// stopParker stops the parker for good (the proxy is closing: its
// clients were closed, parked ones resumed to end).
func (pr *Pooler) stopParker() {
	pr.pkMu.Lock()
	pk := pr.pk
	pr.pk, pr.pkStopped = nil, true
	pr.pkMu.Unlock()
	if pk != nil {
		pk.Stop()
	}
}

// readers recycles the clients' read buffers, so a parked client holds
// none.
var readers = sync.Pool{New: func() any { return bufio.NewReaderSize(nil, 1024) }}

func getReader(c io.Reader) *bufio.Reader {
	r := readers.Get().(*bufio.Reader)
	r.Reset(c)
	return r
}

func putReader(r *bufio.Reader) {
	r.Reset(nil)
	readers.Put(r)
}

// readHeader reads the next message header into hdr. For a client that
// can be parked it waits in steps of parkAfter: when a step passes with
// nothing read while the client holds no backend, idle reports that the
// client is to be parked. (Steps pass while it holds one, too: a
// transaction left open, or a client read while its last answer was
// still on the way, after which the relay gave the backend back.)
func (c *pooledClient) readHeader(hdr []byte) (idle bool, err error) {
	if !c.park.own && !c.park.never {
		if _, ok := c.conn.(*net.TCPConn); !ok {
			c.park.never = true // TLS: its state is not the socket's alone
		}
	}
	if c.park.never || c.br.Buffered() > 0 {
		_, err = io.ReadFull(c.br, hdr)
		return false, err
	}
	n := 0
	for {
		_ = c.conn.SetReadDeadline(time.Now().Add(parkAfter))
		m, err := io.ReadFull(c.br, hdr[n:])
		n += m
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			_ = c.conn.SetReadDeadline(time.Time{})
			return false, err
		}
		if n == 0 && c.detached() {
			_ = c.conn.SetReadDeadline(time.Time{})
			return true, nil
		}
	}
}

// detached reports whether the client holds no backend.
func (c *pooledClient) detached() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.att == nil
}

// parkIdle parks the client; false when it cannot be (it then reads on
// its goroutine as before, and is not tried again). After true the
// client is the parker's: its goroutine must not touch it.
func (c *pooledClient) parkIdle() bool {
	pk := c.park.pk
	if pk == nil {
		pk = c.p.parker()
	}
	if pk == nil {
		c.park.never = true
		return false
	}
	fd, err := wire.DupFD(c.conn)
	if err != nil {
		c.park.never = true
		return false
	}
	if !c.park.own && !c.own(pk) {
		syscall.Close(fd)
		c.park.never = true
		return false
	}
	// The reader goes with the connection: set before Park, after which
	// the client may be resumed at once.
	br := c.br
	c.br = nil
	conn, err := pk.Park(&c.park.spot, fd)
	if err != nil {
		c.br = br
		syscall.Close(fd)
		c.park.never = true
		if !errors.Is(err, park.ErrClosing) {
			c.logAt(slog.LevelWarn, "park pooled client", logkey.Err, err)
		}
		return false
	}
	// The socket lives on in fd; this closes the net.Conn's descriptor
	// (the accepted one on the first park: serve closes it again).
	conn.Close()
	putReader(br)
	return true
}

// own makes the client a tracked connection of the proxy and a member of
// its wait group, so that the goroutine that accepted it can end. False
// when the proxy is closing.
func (c *pooledClient) own(pk *park.Parker) bool {
	// Set before the registry holds c: its close (under the lock that
	// TrackServing takes) may call c.Close at once, which reads them.
	// TrackServing adds to the wait group under that lock too: no Add
	// after Wait.
	c.park.own, c.park.pk = true, pk
	c.park.spot.Bind((*parkClient)(c), &c.conn)
	if !c.p.conns.TrackServing(c, c.p.wg) {
		c.park.own, c.park.pk = false, nil
		return false
	}
	return true
}

// resume runs a parked client again, on a goroutine of its own: fd, taken
// out of the parker's set, becomes a net.Conn again. prefix is what the
// parker's loop read of the client (it is read first), att a backend the
// loop attached to the client (its relay starts here).
func (c *pooledClient) resume(fd int, prefix []byte, att *attachment) {
	f := os.NewFile(uintptr(fd), "pooled client")
	conn, err := net.FileConn(f)
	f.Close()
	closing := c.park.pk.Resumed(&c.park.spot, conn)
	if err != nil {
		c.logAt(slog.LevelWarn, "resume parked pooled client", logkey.Err, err)
		if att != nil {
			c.mu.Lock()
			c.att = nil
			c.mu.Unlock()
			c.p.cancels.Set(c.key, wire.CancelTarget{})
			c.pool.put(att.b, false)
		}
		c.finish()
		return
	}
	if att != nil {
		att.cw = getWriter(conn)
		c.p.wg.Add(1) // the client holds one: no Add after the proxy's Wait
		go c.relay(att)
	}
	if closing { // Close came while this started: it found the client neither parked nor with a conn
		conn.Close()
	}
	if len(prefix) > 0 {
		c.br = getReader(io.MultiReader(bytes.NewReader(prefix), conn))
	} else {
		c.br = getReader(conn)
	}
	c.run()
}

// Close ends a client the proxy tracks (own; an io.Closer for
// the proxy's Close): a running one by closing its connection, a parked one
// (finish on a goroutine of its own: the proxy's Close holds its lock).
func (c *pooledClient) Close() error {
	parked, conn := c.park.pk.Close(&c.park.spot)
	if parked {
		go c.finish()
		return nil
	}
	if conn != nil {
		return conn.Close()
	}
	return nil
}

// finish ends the session: the backend it holds (end), its statements,
// its cancel key, its place in the pool, and the proxy's tracking once it
// was parked.
func (c *pooledClient) finish() {
	c.end()
	c.mu.Lock()
	c.stmts.dropAll(nil) // its statements die with the session, as on PostgreSQL
	c.mu.Unlock()
	c.p.cancels.Remove(c.key)
	c.p.leave(c.pool)
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	c.logAt(slog.LevelDebug, "pooled session ended", logkey.Seconds, int(time.Since(c.start).Seconds()))
	if c.park.own {
		c.p.conns.Untrack(c)
		if c.conn != nil {
			c.conn.Close()
		}
		c.p.wg.Done()
	}
}

// logAt logs a line of the client's, with its database, role and login
// method.
func (c *pooledClient) logAt(level slog.Level, msg string, args ...any) {
	if !c.p.log.Enabled(context.Background(), level) {
		return
	}
	c.p.log.Log(context.Background(), level, msg,
		append([]any{logkey.DB, c.pool.key.db, logkey.Role, c.pool.key.role, logkey.Method, c.method}, args...)...)
}
