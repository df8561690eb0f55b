//go:build linux

package park

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/db9/db9/internal/logkey"
)

// Parker is an epoll set of parked clients' sockets and the goroutine
// (its loop) that waits on it, and runs their simple queries
// (loop_linux.go). A socket stays in the set, edge-triggered, while its
// client is parked; a client that needs more than the loop does goes back
// to a goroutine of its own, its socket out of the set.
//
// Events carry the descriptor and a kind: clients' sockets (the parker's
// own duplicates) and the backends of the loop's transactions (their
// connections' own descriptors, in the set from their first loop
// transaction until they close).
type Parker struct {
	cfg  Config
	epfd int
	// epf is the set as a file of the runtime's poller: the loop waits
	// there, with the backends' own connections, rather than in a
	// blocking epoll_wait of its own, which would wake a second thread
	// for each backend's answer.
	epf          *os.File
	eprc         syscall.RawConn
	nextSweep    time.Time // the wait's deadline, while clients are queued
	wakeR, wakeW int       // a pipe that wakes the loop: backends handed over, stop
	done         chan struct{}
	io           rawIO // the loop's system calls on descriptors

	// The loop's own.
	buf     []byte
	txs     []*loopTx // by backend descriptor (a small number: a slice, no hashing)
	waiting []*loopTx // queued for a backend, oldest first
	free    []*loopTx

	mu     sync.Mutex
	parked map[int32]*Spot // by descriptor
	ready  []handed        // backends handed to queued clients, for the loop
	spare  []handed        // ready's other buffer
	awake  bool            // the loop looks at ready before it waits again
	woken  bool            // a byte is in the pipe
	halt   bool            // stop was called
}

// handed is a backend handed to a client queued on the loop; nil: the
// pool may open one.
type handed struct {
	s *Spot
	b Backend
}

const (
	evClient  = 0 // EpollEvent.Pad of a client's socket
	evBackend = 1 // of a backend's
	// loopBuf is the loop's read size: a whole answer of a short query
	// in one read.
	loopBuf = 64 << 10
)

// New starts a Parker: its epoll set and its loop. Stop ends them.
func New(cfg Config) (*Parker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	pk := &Parker{cfg: cfg, epfd: epfd, wakeR: p[0], wakeW: p[1], done: make(chan struct{}), parked: map[int32]*Spot{},
		buf: make([]byte, loopBuf)}
	pk.io.init()
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pk.wakeR, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pk.wakeR), Pad: -1}); err != nil {
		pk.closeFDs()
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	// Non-blocking, so that os makes it a file of the runtime's poller.
	if err := syscall.SetNonblock(epfd, true); err != nil {
		pk.closeFDs()
		return nil, fmt.Errorf("epoll set: %w", err)
	}
	pk.epf = os.NewFile(uintptr(epfd), "epoll")
	if pk.eprc, err = pk.epf.SyscallConn(); err != nil {
		pk.closeFDs()
		return nil, fmt.Errorf("epoll set: %w", err)
	}
	go pk.run()
	return pk, nil
}

// tx returns the transaction running on the backend of descriptor fd.
func (pk *Parker) tx(fd int32) *loopTx {
	if fd < 0 || int(fd) >= len(pk.txs) {
		return nil
	}
	return pk.txs[fd]
}

// setTx records (t nil: forgets) the transaction running on the backend
// of descriptor fd.
func (pk *Parker) setTx(fd int, t *loopTx) {
	if fd >= len(pk.txs) {
		if t == nil {
			return
		}
		pk.txs = append(pk.txs, make([]*loopTx, fd+1-len(pk.txs)+16)...)
	}
	pk.txs[fd] = t
}

func (pk *Parker) closeFDs() {
	if pk.epf != nil {
		pk.epf.Close()
	} else {
		syscall.Close(pk.epfd)
	}
	syscall.Close(pk.wakeR)
	syscall.Close(pk.wakeW)
}

// wait returns the events of the set, waiting in the runtime's poller
// for the first; none when clients are queued and a second passed (for
// sweep).
func (pk *Parker) wait(events []syscall.EpollEvent) (int, error) {
	if len(pk.waiting) > 0 && pk.nextSweep.IsZero() {
		pk.nextSweep = time.Now().Add(time.Second)
		_ = pk.epf.SetReadDeadline(pk.nextSweep)
	}
	pk.io.events = events
	err := pk.eprc.Read(pk.io.epollFn)
	n, werr := pk.io.n, pk.io.err
	pk.io.events = nil
	if errors.Is(err, os.ErrDeadlineExceeded) {
		pk.nextSweep = time.Time{}
		_ = pk.epf.SetReadDeadline(time.Time{})
		if len(pk.waiting) > 0 {
			pk.sweep(time.Now())
		}
		return 0, nil
	}
	if err == nil {
		err = werr
	}
	return n, err
}

// clientEvents: readable, writable (an answer the client could not take
// at once), hang-up; edge-triggered, so the socket stays in the set.
const clientEvents = syscall.EPOLLIN | syscall.EPOLLOUT | syscall.EPOLLRDHUP | epollET

// epollET is EPOLLET as the uint32 of EpollEvent.Events (package syscall
// has it as a negative int).
const epollET = 1 << 31

// Park moves the socket of s's client into the set as fd (a duplicate of
// its connection's descriptor) and takes its connection away, returning
// it for the caller to close; ErrClosing when Close came first. The
// client may be resumed before Park returns: the caller must not touch
// it after a Park without error.
func (pk *Parker) Park(s *Spot, fd int) (net.Conn, error) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if s.closing {
		return nil, ErrClosing
	}
	pk.parked[int32(fd)] = s
	ev := syscall.EpollEvent{Events: uint32(clientEvents), Fd: int32(fd), Pad: evClient}
	if err := syscall.EpollCtl(pk.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(pk.parked, int32(fd))
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	conn := *s.conn
	*s.conn, s.fd = nil, fd
	return conn, nil
}

// Resumed gives the client of s its connection again (Client.Resume;
// nil when the socket could not be made one) and reports whether Close
// came meanwhile: it found the client neither parked nor with a
// connection, so the caller closes conn.
func (pk *Parker) Resumed(s *Spot, conn net.Conn) (closing bool) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	s.fd = -1
	if conn != nil {
		*s.conn = conn
	}
	return s.closing
}

// Close ends the parking of s for the proxy's Close. A parked client's
// socket is closed (it leaves the set with it) and Close reports parked:
// the caller finishes the client, on a goroutine of its own. Otherwise
// it returns the client's connection, for the caller to close; a client
// the loop holds is the loop's to end (unclaim).
func (pk *Parker) Close(s *Spot) (parked bool, conn net.Conn) {
	pk.mu.Lock()
	s.closing = true
	conn, fd := *s.conn, s.fd
	parked = fd >= 0 && pk.parked[int32(fd)] == s && s.tx == nil
	if parked {
		delete(pk.parked, int32(fd))
		s.fd = -1
	}
	pk.mu.Unlock()
	if parked {
		syscall.Close(fd)
		return true, nil
	}
	return false, conn
}

// Handoff gives b (nil: the pool may open one) to the client of s,
// queued on the loop (Client.Acquire). The pool's lock may be held: it
// does not block.
func (pk *Parker) Handoff(s *Spot, b Backend) {
	pk.mu.Lock()
	pk.ready = append(pk.ready, handed{s, b})
	wake := !pk.awake && !pk.woken
	if wake {
		pk.woken = true
	}
	pk.mu.Unlock()
	if wake {
		_, _ = syscall.Write(pk.wakeW, []byte{0})
	}
}

// drainReady runs the queries of the queued clients that were handed a
// backend.
func (pk *Parker) drainReady() {
	pk.mu.Lock()
	ready := pk.ready
	pk.ready, pk.spare = pk.spare[:0], nil
	pk.mu.Unlock()
	for i, h := range ready {
		pk.handed(h.s, h.b)
		ready[i] = handed{}
	}
	pk.mu.Lock()
	if pk.spare == nil {
		pk.spare = ready[:0]
	}
	pk.mu.Unlock()
}

// run waits for events and serves them, until stop.
func (pk *Parker) run() {
	defer close(pk.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		pk.mu.Lock()
		for len(pk.ready) > 0 {
			pk.mu.Unlock()
			pk.drainReady()
			pk.mu.Lock()
		}
		pk.awake = false
		pk.mu.Unlock()
		n, err := pk.wait(events)
		pk.mu.Lock()
		pk.awake = true
		pk.mu.Unlock()
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			// Only a broken epoll set fails here: end its clients rather
			// than spin.
			pk.cfg.Logger.Error("wait for parked pooled clients", logkey.Err, err)
			pk.shutdown()
			return
		}
		for _, ev := range events[:n] {
			switch ev.Pad {
			case evBackend:
				if t := pk.tx(ev.Fd); t != nil {
					pk.backendEvent(t)
				}
			case evClient:
				pk.clientEvent(int(ev.Fd), ev.Events)
			default: // the wake pipe
				var b [64]byte
				for {
					if n, _ := syscall.Read(pk.wakeR, b[:]); n < len(b) {
						break
					}
				}
				pk.mu.Lock()
				pk.woken = false
				halt := pk.halt
				pk.mu.Unlock()
				if halt {
					pk.shutdown()
					return
				}
			}
		}
	}
}

// Stop ends the loop and closes the set. Clients still parked were closed
// by the proxy's Close before (Close finishes them; those the loop was
// serving end with it).
func (pk *Parker) Stop() {
	pk.mu.Lock()
	pk.halt = true
	pk.mu.Unlock()
	_, _ = syscall.Write(pk.wakeW, []byte{0})
	<-pk.done
	pk.closeFDs()
}

// shutdown ends the clients the loop still has: their backends (their
// connections closed already by the proxy's Close) are given up.
func (pk *Parker) shutdown() {
	pk.mu.Lock()
	pk.halt = true
	ready := pk.ready
	pk.ready = nil
	var ss []*Spot
	for fd, s := range pk.parked {
		delete(pk.parked, fd)
		s.fd = -1
		syscall.Close(int(fd))
		ss = append(ss, s)
	}
	pk.mu.Unlock()
	for _, h := range ready {
		if h.b != nil {
			h.s.client.Release(h.b, false)
		}
	}
	for _, t := range pk.txs {
		if t != nil {
			t.s.client.Release(t.b, false)
		}
	}
	pk.txs = nil
	for _, t := range pk.waiting {
		t.s.client.Dequeue()
	}
	pk.waiting = nil
	for _, s := range ss {
		s.tx = nil
		go s.client.Finish()
	}
}
