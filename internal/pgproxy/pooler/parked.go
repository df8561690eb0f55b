package pooler

import (
	"encoding/binary"
	"unsafe"

	"github.com/db9/db9/internal/pgproxy/pooler/park"
	"github.com/db9/db9/internal/pgproxy/pooler/sqlscan"
	"github.com/db9/db9/internal/pgproxy/wire"
)

// The pooler's side of package park's seam: a pooled client is a
// park.Client as a parkClient (the same struct, with the methods the
// parker calls, kept apart from the client's own), a backend a
// park.Backend. The parker's loop calls these on its own goroutine
// (Cancel excepted), and none blocks.

// parkClient is a pooled client as package park sees it.
type parkClient pooledClient

var (
	_ park.Client  = (*parkClient)(nil)
	_ park.Backend = (*backend)(nil)
)

// Loop implements park.Backend: nil while statements of departed clients
// are to be closed first (stmtgc.go; the goroutine path does that).
func (b *backend) Loop() *park.Conn {
	if b.ndead.Load() > 0 {
		return nil
	}
	return &b.lc
}

// Loopable implements park.Client.
func (c *parkClient) Loopable(msg []byte) bool {
	if len(msg) < 6 || msg[0] != 'Q' || int(binary.BigEndian.Uint32(msg[1:]))+1 != len(msg) || msg[len(msg)-1] != 0 {
		return false
	}
	if c.skipToSync || c.out != nil {
		return false
	}
	// The SQL read in place, without a copy: the effect is not kept.
	effect := sqlscan.Scan(unsafe.String(&msg[5], len(msg)-6))
	return effect.Session == "" && !effect.NamesStatements()
}

// Acquire implements park.Client (pool.getOrQueue).
func (c *parkClient) Acquire() (park.Backend, bool) {
	b, queued := c.pool.getOrQueue((*pooledClient)(c))
	if b == nil { // a typed nil would be no nil Backend
		return nil, queued
	}
	return b, false
}

// Dequeue implements park.Client.
func (c *parkClient) Dequeue() bool { return c.pool.dequeue((*pooledClient)(c)) }

// Begin implements park.Client.
func (c *parkClient) Begin(pb park.Backend) {
	b := pb.(*backend)
	c.mu.Lock()
	c.stmts.unnamed, b.unnamed = nil, nil // a simple query drops the unnamed statement
	c.mu.Unlock()
	c.p.cancels.Set(c.key, wire.CancelTarget{EP: b.ep, PID: b.pid, Secret: b.secret})
}

// Done implements park.Client.
func (c *parkClient) Done(b park.Backend, reusable bool) {
	c.p.cancels.Set(c.key, wire.CancelTarget{})
	c.pool.put(b.(*backend), reusable)
}

// Release implements park.Client.
func (c *parkClient) Release(b park.Backend, reusable bool) { c.pool.put(b.(*backend), reusable) }

// Cancel implements park.Client.
func (c *parkClient) Cancel() { c.p.cancels.Cancel(c.key) }

// Finish implements park.Client.
func (c *parkClient) Finish() { (*pooledClient)(c).finish() }

// Resume implements park.Client: the backend the loop hands over becomes
// the client's attachment, whose relay starts once the client runs.
func (c *parkClient) Resume(fd int, prefix []byte, pb park.Backend, a park.Answer) {
	var att *attachment
	if pb != nil {
		b := pb.(*backend)
		if a.Ending {
			b.conn.Close()
		}
		att = &attachment{b: b, done: make(chan struct{})}
		if a.Answered {
			att.sent = 1
			if a.Ready {
				att.recv = 1
			} else {
				att.inflight = 1 // a COPY: its ReadyForQuery is to come
			}
		}
		c.mu.Lock()
		c.att = att
		if a.Setting && c.pinned == "" {
			c.pinned = "a change of a reported setting"
			c.pool.mu.Lock()
			c.pool.pinned++
			c.pool.mu.Unlock()
		}
		c.mu.Unlock()
		c.p.cancels.Set(c.key, wire.CancelTarget{EP: b.ep, PID: b.pid, Secret: b.secret})
	}
	go (*pooledClient)(c).resume(fd, prefix, att)
}
