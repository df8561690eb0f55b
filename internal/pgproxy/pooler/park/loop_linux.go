//go:build linux

package park

import (
	"bytes"
	"encoding/binary"
	"syscall"
	"time"

	"github.com/db9/db9/internal/pgproxy/wire"
)

// The parker's loop runs a parked client's simple query itself, the way
// PgBouncer serves every client: one read of the Query from the client's
// socket, one write to an idle backend, the answer read from the backend
// and written to the client as it comes (one read and one write for a
// short one), the backend given back at its ReadyForQuery. No goroutine
// wakes for it, and the client stays parked.
//
// Only the plain case runs here: one whole Query message and nothing
// after it, SQL that pins nothing and names no prepared statement, a
// backend idle in the pool or given back by another client, with no
// statements of departed clients to close. Anything else goes to the
// client's goroutine path as before (resumed, the bytes read handed
// over): extended protocol, pipelined messages, a pool that may open a
// backend (or wake the database). So does an answer that leaves the
// backend the client's: a transaction left open ('T', 'E'), a COPY from
// the client, a reported setting changed (the client is then pinned, as
// on the goroutine path); the loop hands the client over with its
// backend attached.

// loopTx is a parked client's query on the loop: queued for a backend,
// or running on one. The client's tx points to it while the loop has the
// client (claimed: a read, a query, a queue).
type loopTx struct {
	pk    *Parker
	s     *Spot
	fd    int     // the client's socket
	b     Backend // nil while queued
	bc    *Conn   // b's connection
	query []byte  // the Query while queued
	since time.Time

	queued    bool
	pendingIn bool // the client sent more meanwhile (read after the answer)
	hangup    bool // the client hung up
	cancelled bool // a cancel was sent for the hang-up
	done      bool // the answer's end is read (written once out is empty)
	stalled   bool // the backend has more, read once out is written
	leftover  bool // the backend sent more after the end: it is given up

	// The answer's framing: the current message's type, the header bytes
	// read of it so far, its body bytes still to come.
	typ      byte
	hdr      [5]byte
	nhdr     int
	rest     int
	first    bool // the next body byte is the current message's first
	status   byte // of the ReadyForQuery
	setting  bool // a ParameterStatus: a setting changed
	bad      bool // a malformed message
	out      []byte
	outSpare []byte // out's buffer, kept for the next transaction
}

// maxMessageLen bounds a backend message the loop relays, as the
// pooler's relay does.
const maxMessageLen = 1 << 30

func (pk *Parker) newTx(s *Spot, fd int) *loopTx {
	var t *loopTx
	if k := len(pk.free); k > 0 {
		t = pk.free[k-1]
		pk.free = pk.free[:k-1]
	} else {
		t = &loopTx{}
	}
	*t = loopTx{pk: pk, s: s, fd: fd, query: t.query[:0], outSpare: t.outSpare}
	return t
}

func (pk *Parker) freeTx(t *loopTx) {
	if cap(t.query) > 8<<10 {
		t.query = nil
	}
	if cap(t.outSpare) > loopBuf {
		t.outSpare = nil
	}
	t.pk, t.s, t.b, t.bc, t.out = nil, nil, nil, nil, nil
	if len(pk.free) < 256 {
		pk.free = append(pk.free, t)
	}
}

// clientEvent serves an event of a parked client's socket.
func (pk *Parker) clientEvent(fd int, ev uint32) {
	pk.mu.Lock()
	s := pk.parked[int32(fd)]
	if s == nil {
		pk.mu.Unlock()
		return
	}
	t := s.tx
	claimed := t == nil
	if claimed {
		t = pk.newTx(s, fd)
		s.tx = t
	}
	pk.mu.Unlock()
	if claimed {
		t.clientReadable(ev)
		return
	}
	// The client is the loop's already.
	if ev&syscall.EPOLLIN != 0 {
		t.pendingIn = true
	}
	if ev&(syscall.EPOLLRDHUP|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		t.hangup = true
	}
	if len(t.out) > 0 && ev&(syscall.EPOLLOUT|syscall.EPOLLHUP|syscall.EPOLLERR) != 0 {
		if !t.flush() {
			t.abort()
			return
		}
		if len(t.out) == 0 {
			if t.done {
				t.finishTx()
				return
			}
			if t.stalled {
				t.stalled = false
				t.readBackend()
				return
			}
		}
	}
	if !t.hangup {
		return
	}
	switch {
	case t.queued:
		if t.s.client.Dequeue() {
			pk.unqueue(t)
			t.drop()
		}
	case t.b != nil && !t.done && !t.cancelled:
		// As on the goroutine path: a client gone in the middle of its
		// query does not leave it running.
		t.cancelled = true
		go t.s.client.Cancel()
	}
}

// clientReadable reads what a claimed client sent and runs it: here, or
// on its goroutine.
func (t *loopTx) clientReadable(ev uint32) {
	n, err := wire.ReadFD(t.fd, t.pk.buf)
	if n <= 0 {
		if (err == syscall.EAGAIN || err == syscall.EINTR) && ev&(syscall.EPOLLHUP|syscall.EPOLLERR) == 0 {
			t.unclaim() // edge-triggered: the next bytes report again
			return
		}
		t.drop() // gone
		return
	}
	msg := t.pk.buf[:n]
	if n == 5 && msg[0] == 'X' {
		t.drop()
		return
	}
	if n == len(t.pk.buf) || !t.s.client.Loopable(msg) {
		t.toGoroutine(bytes.Clone(msg), nil, Answer{})
		return
	}
	b, queued := t.s.client.Acquire()
	switch {
	case queued:
		t.query = append(t.query[:0], msg...)
		t.queued, t.since = true, time.Now()
		t.pk.waiting = append(t.pk.waiting, t)
	case b == nil: // the pool may open one: the goroutine does
		t.toGoroutine(bytes.Clone(msg), nil, Answer{})
	default:
		t.send(b, msg)
	}
}

// handed runs the query of a queued client on the backend given to it.
func (pk *Parker) handed(s *Spot, b Backend) {
	t := s.tx
	if t == nil || !t.queued {
		if b != nil {
			s.client.Release(b, true)
		}
		return
	}
	pk.unqueue(t)
	if b == nil {
		t.toGoroutine(bytes.Clone(t.query), nil, Answer{})
		return
	}
	t.send(b, t.query)
}

// unqueue takes t off the loop's queue.
func (pk *Parker) unqueue(t *loopTx) {
	t.queued = false
	for i, w := range pk.waiting {
		if w == t {
			pk.waiting = append(pk.waiting[:i], pk.waiting[i+1:]...)
			return
		}
	}
}

// sweep refuses the queries queued longer than the startup timeout, as
// the goroutine path refuses a client that gets no backend in time.
func (pk *Parker) sweep(now time.Time) {
	limit := pk.cfg.QueueTimeout
	for len(pk.waiting) > 0 {
		t := pk.waiting[0]
		if now.Sub(t.since) < limit {
			return
		}
		pk.unqueue(t)
		if !t.s.client.Dequeue() {
			// Handed a backend just now: it is on the ready list.
			t.queued = true
			pk.waiting = append(pk.waiting, t)
			return
		}
		if !t.writeAll(pk.cfg.Busy) {
			t.drop()
			continue
		}
		t.release()
	}
}

// send runs msg, a client's Query, on b.
func (t *loopTx) send(b Backend, msg []byte) {
	bc := b.Loop()
	if bc == nil || bc.rc == nil {
		// Statements of departed clients to close first (the goroutine
		// path does that, with b attached), or no descriptor to wait on.
		t.toGoroutine(bytes.Clone(msg), b, Answer{})
		return
	}
	if !bc.reg {
		var err error
		if cerr := bc.rc.Control(func(fd uintptr) {
			err = syscall.EpollCtl(t.pk.epfd, syscall.EPOLL_CTL_ADD, int(fd),
				&syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | epollET, Fd: int32(fd), Pad: evBackend})
		}); cerr != nil {
			err = cerr
		}
		if err != nil {
			t.toGoroutine(bytes.Clone(msg), b, Answer{})
			return
		}
		bc.reg = true
	}
	t.b, t.bc = b, bc
	t.s.client.Begin(b)
	t.pk.setTx(bc.fd, t)
	io := &t.pk.io
	io.p, io.err = msg, nil
	err := bc.rc.Write(io.writeFn)
	werr := io.err
	io.p = nil
	if err != nil {
		werr = err
	}
	if werr != nil {
		t.backendGone()
	}
}

// backendEvent serves an event of the backend of a transaction.
func (pk *Parker) backendEvent(t *loopTx) {
	if len(t.out) > 0 {
		t.stalled = true // read once the client took what it has
		return
	}
	t.readBackend()
}

// readBackend relays the backend's answer to the client until the
// socket has no more, the client cannot take more, or the answer ended.
func (t *loopTx) readBackend() {
	for {
		io := &t.pk.io
		io.p = t.pk.buf
		err := t.bc.rc.Read(io.readFn)
		n, rerr := io.n, io.err
		io.p = nil
		if err != nil {
			rerr = err
		}
		if n <= 0 {
			if rerr == syscall.EAGAIN || rerr == syscall.EINTR {
				return // edge-triggered: more bytes report again
			}
			t.backendGone()
			return
		}
		end, done := t.scan(t.pk.buf[:n])
		if t.bad {
			t.backendGone()
			return
		}
		if done {
			t.done, t.leftover = true, end < n
			if !t.keeps() {
				// Back to the pool before the client has its answer (the
				// bytes are the loop's): the client, answered, may start
				// its next transaction at once and find it idle. A client
				// queued for it has its query sent first, so the backend
				// works while the answer is written (nothing there reads
				// into the loop's buffer).
				t.giveBack()
				t.pk.drainReady()
			}
		}
		if !t.toClient(t.pk.buf[:end]) {
			t.abort()
			return
		}
		if done {
			if len(t.out) == 0 {
				t.finishTx()
			}
			return
		}
		if len(t.out) > 0 {
			t.stalled = true
			return
		}
		if n < len(t.pk.buf) {
			return
		}
	}
}

// scan follows the framing of p, the next bytes of the answer, and
// returns how many belong to the part the loop relays: all of p, or up
// to the end of the message that ends it (ReadyForQuery; CopyInResponse
// or CopyBothResponse, after which the client's goroutine takes over).
func (t *loopTx) scan(p []byte) (int, bool) {
	i := 0
	for i < len(p) {
		if t.rest > 0 {
			if t.first {
				t.first = false
				if t.typ == 'Z' {
					t.status = p[i]
				}
			}
			k := min(t.rest, len(p)-i)
			i += k
			t.rest -= k
			if t.rest == 0 && t.ends() {
				return i, true
			}
			continue
		}
		k := copy(t.hdr[t.nhdr:], p[i:])
		t.nhdr += k
		i += k
		if t.nhdr < len(t.hdr) {
			return i, false
		}
		t.nhdr = 0
		t.typ = t.hdr[0]
		l := int(binary.BigEndian.Uint32(t.hdr[1:]))
		if l < 4 || l > maxMessageLen {
			t.bad = true
			return i, true
		}
		t.rest, t.first = l-4, true
		if t.typ == 'S' {
			t.setting = true
		}
		if t.rest == 0 && t.ends() {
			return i, true
		}
	}
	return i, false
}

func (t *loopTx) ends() bool { return t.typ == 'Z' || t.typ == 'G' || t.typ == 'W' }

// toClient writes p to the client, keeping what it cannot take now in
// out (the loop reads no more of the backend until it is written). false
// when the client is gone.
func (t *loopTx) toClient(p []byte) bool {
	if len(t.out) > 0 {
		t.out = append(t.out, p...)
		return true
	}
	for len(p) > 0 {
		n, err := wire.WriteFD(t.fd, p)
		switch {
		case n > 0:
			p = p[n:]
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			t.out = append(t.outSpare[:0], p...)
			t.outSpare = t.out
			return true
		default:
			return false
		}
	}
	return true
}

// flush writes out; false when the client is gone.
func (t *loopTx) flush() bool {
	p := t.out
	t.out = nil
	return t.toClient(p)
}

// writeAll writes the loop's own message to a claimed client with no
// transaction running.
func (t *loopTx) writeAll(p []byte) bool {
	if !t.toClient(p) {
		return false
	}
	if len(t.out) > 0 { // a client that does not read: too much for the loop to wait on
		return false
	}
	return true
}

// keeps reports whether the answer leaves the backend the client's: a
// transaction open, a COPY from the client, a setting changed.
func (t *loopTx) keeps() bool { return t.typ != 'Z' || t.status != 'I' || t.setting }

// giveBack gives the transaction's backend back to the pool.
func (t *loopTx) giveBack() {
	b := t.b
	t.pk.setTx(t.bc.fd, nil)
	t.b, t.bc = nil, nil
	t.s.client.Done(b, !t.leftover)
}

// finishTx ends a transaction whose answer is written: the backend went
// back to the pool (giveBack), or, when the answer left it the client's,
// stays the client's on its goroutine.
func (t *loopTx) finishTx() {
	if b := t.b; b != nil {
		t.pk.setTx(t.bc.fd, nil)
		// With more than the answer (leftover) the backend is ending
		// (FATAL): the relay reads its end and tells the client.
		t.toGoroutine(nil, b, Answer{Answered: true, Ready: t.typ == 'Z', Setting: t.setting, Ending: t.leftover})
		return
	}
	t.release()
}

// release ends the loop's hold on a client that stays parked; what it
// sent meanwhile is read now.
func (t *loopTx) release() {
	pk, fd, again := t.pk, t.fd, t.pendingIn || t.hangup
	if t.unclaim() && again { // t is free from here on
		pk.clientEvent(fd, syscall.EPOLLIN)
	}
}

// unclaim gives a client back to its parked state, or ends it when the
// proxy closed it meanwhile. It reports whether the client is parked.
func (t *loopTx) unclaim() bool {
	s := t.s
	t.pk.mu.Lock()
	s.tx = nil
	closing := s.closing
	if closing {
		delete(t.pk.parked, int32(t.fd))
		s.fd = -1
	}
	t.pk.mu.Unlock()
	fd := t.fd
	t.pk.freeTx(t)
	if closing {
		syscall.Close(fd)
		s.client.Finish()
	}
	return !closing
}

// toGoroutine resumes a claimed client on a goroutine of its own, its
// socket out of the set: prefix is what the loop read of it, b (not
// nil) the backend it holds from now on, a how far the loop got on it.
func (t *loopTx) toGoroutine(prefix []byte, b Backend, a Answer) {
	s, fd := t.s, t.fd
	t.unpark()
	// Out of the set before resume closes fd (it wraps a duplicate): a
	// registration outlives its descriptor while another refers to the
	// same socket.
	_ = syscall.EpollCtl(t.pk.epfd, syscall.EPOLL_CTL_DEL, fd, nil)
	t.pk.freeTx(t)
	s.client.Resume(fd, prefix, b, a)
}

// unpark takes the client off the parked set: from here on the loop no
// longer owns it.
func (t *loopTx) unpark() {
	t.pk.mu.Lock()
	delete(t.pk.parked, int32(t.fd))
	t.s.fd = -1
	t.s.tx = nil
	t.pk.mu.Unlock()
}

// drop ends a client the loop holds that is gone (hung up, Terminate, a
// write that failed).
func (t *loopTx) drop() {
	s, fd := t.s, t.fd
	t.unpark()
	syscall.Close(fd)
	t.pk.freeTx(t)
	s.client.Finish()
}

// abort ends a transaction whose client is gone in the middle of its
// answer: the backend, with the rest of the answer unread, is closed.
func (t *loopTx) abort() {
	if b := t.b; b != nil {
		t.pk.setTx(t.bc.fd, nil)
		t.b, t.bc = nil, nil
		t.s.client.Done(b, false)
	}
	t.drop()
}

// backendGone tells the client that its backend ended under it, as the
// goroutine path does, and ends the client.
func (t *loopTx) backendGone() {
	if len(t.out) == 0 {
		e := wire.ErrorResponse(&wire.Error{Code: "57P01", Msg: "the database ended the connection (restart, deletion or terminated backend)"})
		if out, err := e.Encode(nil); err == nil {
			_, _ = wire.WriteFD(t.fd, out)
		}
	}
	t.abort()
}
