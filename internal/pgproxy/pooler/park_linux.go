//go:build linux

package pooler

import (
	"errors"
	"fmt"
	"net"
	"sync"
	"syscall"
)

// parker is an epoll set of parked clients' sockets and the goroutine
// that waits on it (park.go). Each socket is registered one-shot: its
// first readiness (data, hang-up or error) takes the client out of the
// set and resumes it on a new goroutine.
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

// park moves c's socket into the set as fd (a duplicate of its
// connection's descriptor) and takes its connection away, returning it
// for the caller to close. The client may be resumed before park returns.
func (pk *parker) park(c *pooledClient, fd int) (net.Conn, error) {
	pk.mu.Lock()
	defer pk.mu.Unlock()
	if c.park.closing {
		return nil, errParkClosing
	}
	pk.parked[int32(fd)] = c
	ev := syscall.EpollEvent{Events: syscall.EPOLLIN | syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(fd)}
	if err := syscall.EpollCtl(pk.epfd, syscall.EPOLL_CTL_ADD, fd, &ev); err != nil {
		delete(pk.parked, int32(fd))
		return nil, fmt.Errorf("epoll_ctl: %w", err)
	}
	conn := c.conn
	c.conn, c.br, c.park.fd = nil, nil, fd
	return conn, nil
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
			if c != nil {
				delete(pk.parked, ev.Fd)
				// Out of the set before the descriptor is closed (resume
				// wraps a duplicate of it): a registration outlives its
				// descriptor while another refers to the same socket.
				_ = syscall.EpollCtl(pk.epfd, syscall.EPOLL_CTL_DEL, int(ev.Fd), nil)
			}
			pk.mu.Unlock()
			if c != nil {
				go c.resume(int(ev.Fd))
			}
		}
	}
}

// stop ends the wait and closes the set. Clients still parked were closed
// by the proxy's Close before (Close finishes them).
func (pk *parker) stop() {
	_, _ = syscall.Write(pk.wakeW, []byte{0})
	<-pk.done
	pk.closeFDs()
}
