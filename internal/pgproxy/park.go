package pgproxy

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/db9/db9/internal/logkey"
)

// Idle clients of the pooled endpoint are parked, PgBouncer's way: a
// client that sends nothing for parkAfter between transactions (no
// backend held) gives up its goroutine and its read buffer, and its
// socket waits in the parker's epoll set (park_linux.go); when it becomes
// readable (or hangs up), a new goroutine resumes the client where it
// was. A thousand idle clients then cost their sockets and a few hundred
// bytes of bookkeeping each, not a goroutine stack and a buffer.
//
// The first park hands the client a connection of its own (a duplicate
// of the accepted socket): the goroutine that accepted it ends with the
// park, closing the original, and the client is tracked for Proxy.Close
// and counted in its wait group from then on. TLS clients (and
// connections that are no TCP socket) are not parked: their state is not
// the socket's alone.

// parkAfter is how long a client between transactions stays on its
// goroutine before it is parked: long enough that a client running
// transactions back to back never parks, short enough that idle ones
// soon cost little.
const parkAfter = time.Second

// parkState is a client's parking; the client goroutine's, except closing,
// which is guarded by the parker's lock.
type parkState struct {
	never      bool // the client cannot be parked (TLS, no parker)
	own        bool // the connection is the client's own (handed off)
	fd         int  // its descriptor, registered with the parker when registered
	registered bool
	closing    bool // Close was called (parker lock)
}

// parker returns the pooler's parker, started on first use; nil when
// there is none (not Linux, or the pooler stopped).
func (pr *pooler) parker() *parker {
	pr.pkMu.Lock()
	defer pr.pkMu.Unlock()
	if pr.pk == nil && !pr.pkStopped {
		pk, err := newParker()
		if err != nil {
			pr.pkStopped = true
			pr.p.log.Warn("idle pooled clients are not parked", logkey.Err, err)
			return nil
		}
		pr.pk = pk
	}
	return pr.pk
}

// stopParker stops the parker for good (the Proxy is closing: its
// clients were closed, parked ones resumed to end).
func (pr *pooler) stopParker() {
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

func getReader(c net.Conn) *bufio.Reader {
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
	pk := c.p.pool.parker()
	if pk == nil || !c.park.own && !c.handOff() {
		c.park.never = true
		return false
	}
	br := c.br
	c.br = nil
	if err := pk.park(c); err != nil {
		c.br = br
		c.park.never = true
		if !errors.Is(err, errParkClosing) {
			c.log.Warn("park pooled client", logkey.Err, err)
		}
		return false
	}
	putReader(br)
	return true
}

// errParkClosing: the client is being closed, it is not parked.
var errParkClosing = errors.New("client closing")

// handOff makes the client's connection its own, a duplicate of the
// accepted one, and makes the client a tracked connection of the Proxy
// and a member of its wait group, so that the goroutine that accepted it
// can end. False when the connection cannot be handed off (TLS) or the
// Proxy is closing.
func (c *pooledClient) handOff() bool {
	tc, ok := c.conn.(*net.TCPConn)
	if !ok {
		return false
	}
	f, err := tc.File()
	if err != nil {
		return false
	}
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		return false
	}
	fd, err := connFD(conn)
	if err != nil {
		conn.Close()
		return false
	}
	p := c.p
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		conn.Close()
		return false
	}
	p.conns[c] = struct{}{}
	// Under the lock that Close takes before it waits: no Add after Wait.
	p.wg.Add(1)
	p.mu.Unlock()
	c.conn, c.park.own, c.park.fd = conn, true, fd
	c.br.Reset(conn) // nothing buffered: the caller checked
	return true
}

// resume runs a parked client again, on a goroutine of its own.
func (c *pooledClient) resume() {
	c.br = getReader(c.conn)
	c.run()
}

// Close ends a client whose connection is its own (an io.Closer for
// Proxy.Close): its connection is closed, and a parked client is resumed
// to find that and end.
func (c *pooledClient) Close() error {
	// The parker is running: Proxy.Close closes clients before it stops
	// the parker, and a client has its own connection only once a parker
	// ran.
	parked := false
	c.p.pool.pkMu.Lock()
	pk := c.p.pool.pk
	c.p.pool.pkMu.Unlock()
	if pk != nil {
		parked = pk.closing(c)
	}
	err := c.conn.Close()
	if parked {
		go c.resume()
	}
	return err
}

// finish ends the session: the backend it holds (end), its cancel key,
// its place in the pool, and the connection when it is the client's own.
func (c *pooledClient) finish() {
	c.end()
	c.mu.Lock()
	c.dropAll(nil) // its statements die with the session, as on PostgreSQL
	c.mu.Unlock()
	c.p.cancels.remove(c.key)
	c.p.pool.leave(c.pool)
	if c.br != nil {
		putReader(c.br)
		c.br = nil
	}
	c.log.Debug("pooled session ended", logkey.Seconds, int(time.Since(c.start).Seconds()))
	if c.park.own {
		c.p.untrack(c)
		c.conn.Close()
		c.p.wg.Done()
	}
}

// connFD is a connection's descriptor (for the parker's epoll set; the
// connection keeps it).
func connFD(c net.Conn) (int, error) {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return -1, fmt.Errorf("%T has no descriptor", c)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return -1, err
	}
	fd := -1
	if err := raw.Control(func(s uintptr) { fd = int(s) }); err != nil {
		return -1, err
	}
	return fd, nil
}
