//go:build linux

package pgproxy

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/db9/db9/internal/pgproxy/wire"
)

// eventLoops relay the bytes of plaintext sessions after startup, the way
// PgBouncer does: a few goroutines, each waiting in epoll_wait on the
// sockets of many sessions, reading once on readiness and writing straight
// to the peer socket. Per relayed message that is one read and one write,
// with no goroutine wake-up, no second read that ends in EAGAIN and no
// netpoller round trip: the two-goroutine relay spends more CPU in the Go
// scheduler than in its own reads and writes.
type eventLoops struct {
	loops []*eventLoop
	next  atomic.Uint32
}

// newEventLoops starts n loops.
func newEventLoops(n int) (*eventLoops, error) {
	ls := &eventLoops{}
	for range n {
		l, err := newEventLoop()
		if err != nil {
			ls.close()
			return nil, err
		}
		ls.loops = append(ls.loops, l)
		go l.run()
	}
	return ls, nil
}

// close stops the loops and waits for them. Sessions still on them are
// closed (the Proxy ends them all before).
func (ls *eventLoops) close() {
	for _, l := range ls.loops {
		l.post(loopCmd{stop: true})
	}
	for _, l := range ls.loops {
		<-l.stopped
	}
}

// start moves a session's two sockets onto a loop. The loop owns
// duplicates of their descriptors; client and backend are closed here,
// so the Go netpoller stops watching them. On error nothing was moved
// and both connections are as they were.
func (ls *eventLoops) start(client, backend net.Conn) (*loopSession, error) {
	cfd, err := wire.DupFD(client)
	if err != nil {
		return nil, err
	}
	bfd, err := wire.DupFD(backend)
	if err != nil {
		syscall.Close(cfd)
		return nil, err
	}
	l := ls.loops[int(ls.next.Add(1))%len(ls.loops)]
	s := &loopSession{loop: l, clientGone: make(chan struct{}), done: make(chan struct{})}
	s.client = loopFD{s: s, fd: cfd, reading: true}
	s.backend = loopFD{s: s, fd: bfd, reading: true}
	s.client.peer, s.backend.peer = &s.backend, &s.client
	client.Close()
	backend.Close()
	l.post(loopCmd{add: s})
	return s, nil
}

// loopSession is one session's state on a loop. Its fields other than the
// channels belong to the loop goroutine.
type loopSession struct {
	loop            *eventLoop
	client, backend loopFD
	// clientGone is closed when the client side ended (EOF or error, or
	// the backend refused its bytes); the backend's write side has been
	// shut down then, and the session goroutine starts its grace period.
	clientGone chan struct{}
	done       chan struct{} // closed when both sockets are closed
	ended      bool
}

// Close ends the session: the loop closes both sockets. It does not wait;
// done is closed when it has happened. It implements io.Closer for
// Proxy.track.
func (s *loopSession) Close() error {
	s.loop.post(loopCmd{kill: s})
	return nil
}

// loopFD is one of a session's sockets.
type loopFD struct {
	s       *loopSession
	peer    *loopFD
	fd      int
	reading bool   // bytes from this socket are still relayed to the peer
	out     []byte // bytes read from the peer not yet written here
	outOwn  bool   // out lies in outBuf, not in the loop's read buffer
	outBuf  []byte // allocated on the first partial write
	events  uint32 // epoll interest registered; 0: not in the epoll set
	read    int64  // bytes read from this socket (metrics; read after done)
}

// relayBuf is the read size of a loop: the goroutine relay's, so that a
// read of a large result takes as few calls. A socket that cannot take a
// whole read keeps the rest in its out buffer, at most this much per
// direction of a session: reading stops until it is written
// (backpressure), so memory stays bounded whatever the peers do.
const relayBuf = 32 << 10

type loopCmd struct {
	add  *loopSession
	kill *loopSession
	stop bool
}

// eventLoop is one epoll set and the goroutine that serves it.
type eventLoop struct {
	epfd         int
	wakeR, wakeW int // a pipe that wakes epoll_wait for posted commands
	buf          []byte
	fds          map[int32]*loopFD // loop goroutine only
	stopped      chan struct{}

	mu     sync.Mutex
	cmds   []loopCmd
	woken  bool // a byte is in the pipe and not yet drained
	closed bool // the pipe is closed: nothing to post to
}

func newEventLoop() (*eventLoop, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	l := &eventLoop{epfd: epfd, wakeR: p[0], wakeW: p[1], buf: make([]byte, relayBuf), fds: map[int32]*loopFD{}, stopped: make(chan struct{})}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, l.wakeR, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(l.wakeR)}); err != nil {
		l.closeFDs()
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	return l, nil
}

func (l *eventLoop) closeFDs() {
	syscall.Close(l.epfd)
	syscall.Close(l.wakeR)
	syscall.Close(l.wakeW)
}

// post queues a command for the loop and wakes it.
func (l *eventLoop) post(c loopCmd) {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		if c.add != nil { // never reached the loop: no one else has it
			c.add.ended = true
			c.add.release()
		}
		return
	}
	l.cmds = append(l.cmds, c)
	wake := !l.woken
	l.woken = true
	l.mu.Unlock()
	if wake {
		_, _ = syscall.Write(l.wakeW, []byte{0})
	}
}

func (l *eventLoop) run() {
	defer close(l.stopped)
	defer l.shutdown()
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(l.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// Only a bad epoll descriptor fails here, which cannot
			// happen; end every session rather than spin.
			return
		}
		woken := false
		for i := range n {
			ev := &events[i]
			if ev.Fd == int32(l.wakeR) {
				woken = true
				continue
			}
			if f, ok := l.fds[ev.Fd]; ok {
				l.handle(f, ev.Events)
			}
		}
		// Commands run after the batch: a session added now may reuse a
		// descriptor number that an event above still named.
		if woken && l.commands() {
			return
		}
	}
}

// commands drains the wake pipe and runs the queued commands; true when
// the loop is to stop.
func (l *eventLoop) commands() bool {
	var b [64]byte
	for {
		if n, _ := syscall.Read(l.wakeR, b[:]); n < len(b) {
			break
		}
	}
	l.mu.Lock()
	cmds := l.cmds
	l.cmds, l.woken = nil, false
	l.mu.Unlock()
	stop := false
	for _, c := range cmds {
		switch {
		case c.add != nil:
			s := c.add
			l.fds[int32(s.client.fd)] = &s.client
			l.fds[int32(s.backend.fd)] = &s.backend
			l.update(&s.client)
			l.update(&s.backend)
		case c.kill != nil:
			l.end(c.kill)
		case c.stop:
			stop = true
		}
	}
	return stop
}

// shutdown ends every session of the loop, including any posted but not
// yet added, and closes the loop's own descriptors; posts are ignored
// from then on.
func (l *eventLoop) shutdown() {
	l.mu.Lock()
	l.closed = true
	cmds := l.cmds
	l.cmds = nil
	l.mu.Unlock()
	for _, c := range cmds {
		if c.add != nil {
			l.end(c.add)
		}
	}
	for _, f := range l.fds {
		l.end(f.s)
	}
	l.closeFDs()
}

// handle serves one readiness event of f.
func (l *eventLoop) handle(f *loopFD, ev uint32) {
	s := f.s
	if len(f.out) > 0 && ev&(syscall.EPOLLOUT|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
		if !l.flush(f) {
			return
		}
	}
	if f.reading && len(f.peer.out) == 0 && ev&(syscall.EPOLLIN|syscall.EPOLLERR|syscall.EPOLLHUP) != 0 {
		n, err := wire.ReadFD(f.fd, l.buf)
		switch {
		case n > 0:
			f.read += int64(n)
			f.peer.out, f.peer.outOwn = l.buf[:n], false
			if !l.flush(f.peer) {
				return
			}
		case err == syscall.EAGAIN || err == syscall.EINTR: // epoll reports it again
		default: // EOF or error
			l.stopReading(f)
			if s.ended {
				return
			}
		}
	}
	l.update(f)
	l.update(f.peer)
}

// flush writes f.out to f. A partial write keeps the rest in f's own
// buffer (out may point into the loop's read buffer). false when the
// session ended.
func (l *eventLoop) flush(f *loopFD) bool {
	for len(f.out) > 0 {
		n, err := wire.WriteFD(f.fd, f.out)
		if n > 0 {
			f.out = f.out[n:]
			continue
		}
		if err == syscall.EAGAIN || err == syscall.EINTR {
			if !f.outOwn { // the loop's buffer is read into again next
				if f.outBuf == nil {
					f.outBuf = make([]byte, relayBuf)
				}
				f.out, f.outOwn = f.outBuf[:copy(f.outBuf, f.out)], true
			}
			return true
		}
		// The peer of the reading side cannot take bytes any more: that
		// direction ends.
		f.out = nil
		l.stopReading(f.peer)
		return !f.s.ended
	}
	f.out = nil
	return true
}

// stopReading ends the direction from f to its peer. The backend
// direction ending ends the session (as when the backend closes, the
// client is closed); the client's shuts the backend's write side down so
// an idle backend sees EOF and exits, and tells the session goroutine,
// which cancels a backend that keeps running.
func (l *eventLoop) stopReading(f *loopFD) {
	if !f.reading {
		return
	}
	f.reading = false
	s := f.s
	if f == &s.backend {
		l.end(s)
		return
	}
	s.backend.out = nil
	_ = syscall.Shutdown(s.backend.fd, syscall.SHUT_WR)
	close(s.clientGone)
}

// update makes f's epoll registration match what the session waits for
// on it: readable while its direction runs and the peer has nothing
// pending, writable while it has bytes pending. A socket waiting for
// nothing leaves the set, so that a hung-up peer does not report
// EPOLLHUP over and over.
func (l *eventLoop) update(f *loopFD) {
	if f.s.ended {
		return
	}
	var want uint32
	if f.reading && len(f.peer.out) == 0 {
		want |= syscall.EPOLLIN
	}
	if len(f.out) > 0 {
		want |= syscall.EPOLLOUT
	}
	if want == f.events {
		return
	}
	op := syscall.EPOLL_CTL_MOD
	switch {
	case f.events == 0:
		op = syscall.EPOLL_CTL_ADD
	case want == 0:
		op = syscall.EPOLL_CTL_DEL
	}
	if err := syscall.EpollCtl(l.epfd, op, f.fd, &syscall.EpollEvent{Events: want, Fd: int32(f.fd)}); err != nil {
		// Out of memory for the epoll item, say: the session cannot be
		// served.
		l.end(f.s)
		return
	}
	f.events = want
}

// end closes both sockets of a session; idempotent.
func (l *eventLoop) end(s *loopSession) {
	if s.ended {
		return
	}
	s.ended = true
	delete(l.fds, int32(s.client.fd))
	delete(l.fds, int32(s.backend.fd))
	s.release()
}

// release closes the sockets of an ended session, which also takes them
// out of the epoll set (the loop held their only descriptors).
func (s *loopSession) release() {
	for _, f := range []*loopFD{&s.client, &s.backend} {
		syscall.Close(f.fd)
		f.out, f.outBuf = nil, nil
	}
	close(s.done)
}
