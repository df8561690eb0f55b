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
	"github.com/db9/db9/internal/pgproxy/wire"
)

// Idle clients of the pooled endpoint are parked, PgBouncer's way: a
// client that sends nothing for parkAfter between transactions (no
// backend held) gives up its goroutine, its read buffer and its net.Conn:
// what remains is a descriptor of its socket, waiting in the parker's
// epoll set (park_linux.go), and the client's bookkeeping. When the socket
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

// parkState is a client's parking. never and own are the client
// goroutine's; fd, closing and the client's conn while parked are guarded
// by the parker's lock.
type parkState struct {
	never   bool    // the client cannot be parked (TLS, no parker)
	own     bool    // tracked by the proxy and in its wait group (parked once)
	pk      *parker // the parker, once own
	fd      int     // the socket while parked (conn is nil then); -1 otherwise
	closing bool    // Close was called
	// tx is the parker loop's hold on the parked client (loop_linux.go):
	// while set, the loop has it, and Close leaves its ending to the loop.
	tx *loopTx
}

// parker returns the pooler's parker, started on first use; nil when
// there is none (not Linux, or the pooler stopped).
func (pr *Pooler) parker() *parker {
	pr.pkMu.Lock()
	defer pr.pkMu.Unlock()
	if pr.pk == nil && !pr.pkStopped {
		pk, err := newParker(pr)
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
		pk.stop()
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
	br := c.br
	conn, err := pk.park(c, fd)
	if err != nil {
		syscall.Close(fd)
		c.park.never = true
		if !errors.Is(err, errParkClosing) {
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

// errParkClosing: the client is being closed, it is not parked.
var errParkClosing = errors.New("client closing")

// own makes the client a tracked connection of the proxy and a member of
// its wait group, so that the goroutine that accepted it can end. False
// when the proxy is closing.
func (c *pooledClient) own(pk *parker) bool {
	// Set before the registry holds c: its close (under the lock that
	// TrackServing takes) may call c.Close at once, which reads them.
	// TrackServing adds to the wait group under that lock too: no Add
	// after Wait.
	c.park.own, c.park.pk = true, pk
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
	pk := c.park.pk
	pk.mu.Lock()
	c.park.fd = -1
	closing := c.park.closing
	if err == nil {
		c.conn = conn
	}
	pk.mu.Unlock()
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

// handoff gives b (nil: the pool may open one) to c, queued for a
// backend on the parker's loop.
func (pr *Pooler) handoff(c *pooledClient, b *backend) { c.park.pk.handoff(c, b) }

// Close ends a client the proxy tracks (own; an io.Closer for
// the proxy's Close): a running one by closing its connection, a parked one
// (finish on a goroutine of its own: the proxy's Close holds its lock).
func (c *pooledClient) Close() error {
	pk := c.park.pk
	pk.mu.Lock()
	c.park.closing = true
	conn, fd := c.conn, c.park.fd
	// A client the loop has is the loop's to end (unclaim).
	parked := fd >= 0 && pk.parked[int32(fd)] == c && c.park.tx == nil
	if parked {
		delete(pk.parked, int32(fd))
		c.park.fd = -1
	}
	pk.mu.Unlock()
	if parked {
		syscall.Close(fd) // leaves the epoll set with it
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
