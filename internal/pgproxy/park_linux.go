//go:build linux

package pgproxy

import (
	"errors"
	"fmt"
	"sync"
	"syscall"
)

// parker is an epoll set of parked clients' sockets and the goroutine
// that waits on it (park.go). Each socket is registered one-shot: its
// first readiness (data, hang-up or error) takes the client out and
// resumes it on a new goroutine.
type parker struct {
	epfd         int
	wakeR, wakeW int // a pipe that ends the wait at stop
	done         chan struct{}

	mu     sync.Mutex
	parked map[int32]*pooledClient // by descriptor
}

func newParker() (*parker, error) {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("epoll_create1: %w", err)
	}
	var p [2]int
	if err := syscall.Pipe2(p[:], syscall.O_NONBLOCK|syscall.O_CLOEXEC); err != nil {
		syscall.Close(epfd)
		return nil, fmt.Errorf("pipe2: %w", err)
	}
	pk := &parker{epfd: epfd, wakeR: p[0], wakeW: p[1], done: make(chan struct{}), parked: map[int32]*pooledClient{}}
	if err := syscall.EpollCtl(epfd, syscall.EPOLL_CTL_ADD, pk.wakeR, &syscall.EpollEvent{Events: syscall.EPOLLIN, Fd: int32(pk.wakeR)}); err != nil {
		pk.closeFDs()
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	go pk.run()
	return pk, nil
}

func (pk *parker) closeFDs() {
	syscall.Close(pk.epfd)
	syscall.Close(pk.wakeR)
	syscall.Close(pk.wakeW)
}

// park puts c's socket in the set. The client may be resumed before park
// returns.
func (pk *parker) park(c *pooledClient) error {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if c.park.closing {
		return errParkClosing
	}
	fd := int32(c.park.fd)
	pk.parked[fd] = c
	op := syscall.EPOLL_CTL_ADD
	if c.park.registered {
		op = syscall.EPOLL_CTL_MOD // one-shot: still in the set, disarmed
	}
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: fd}
	if err := syscall.EpollCtl(pk.epfd, op, int(fd), &ev); err != nil {
		delete(pk.parked, fd)
		return fmt.Errorf("epoll_ctl: %w", err)
	}
	c.park.registered = true
	return nil
}

// closing marks c as closing, so it is not parked again, and takes it out
// of the set when it is parked (reported). The caller closes its socket,
// which leaves the epoll set with it.
func (pk *parker) closing(c *pooledClient) bool {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	c.park.closing = true
	if c.park.own && pk.parked[int32(c.park.fd)] == c {
		delete(pk.parked, int32(c.park.fd))
		return true
	}
	return false
}

// run waits for parked sockets to become ready and resumes their clients,
// until stop.
func (pk *parker) run() {
	defer close(pk.done)
	events := make([]syscall.EpollEvent, 128)
	for {
		n, err := syscall.EpollWait(pk.epfd, events, -1)
		if err != nil {
			if errors.Is(err, syscall.EINTR) {
				continue
			}
			return
		}
		for _, ev := range events[:n] {
			if int(ev.Fd) == pk.wakeR {
				return
			}
			pk.mu.Lock()
			c := pk.parked[ev.Fd]
			delete(pk.parked, ev.Fd)
			pk.mu.Unlock()
			if c != nil {
				go c.resume()
			}
		}
	}
}

// stop ends the wait and closes the set. Clients still parked were closed
// by Proxy.Close before (Close resumes them).
func (pk *parker) stop() {
	_, _ = syscall.Write(pk.wakeW, []byte{0})
	<-pk.done
	pk.closeFDs()
}
