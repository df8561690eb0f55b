//go:build linux

package park

import (
	"syscall"
	"unsafe"

	"github.com/db9/db9/internal/pgproxy/wire"
)

// rawIO is the loop's one system call at a time on a descriptor through
// its RawConn (which keeps the descriptor open meanwhile): the arguments
// and results live here and the functions RawConn calls are made once,
// in New, for a closure made per call would be an allocation per call,
// several per transaction.
type rawIO struct {
	p      []byte               // read into (read), written (write; what is left)
	events []syscall.EpollEvent // epoll
	n      int
	err    error

	readFn, writeFn, epollFn func(fd uintptr) bool
}

func (r *rawIO) init() {
	r.readFn, r.writeFn, r.epollFn = r.read, r.write, r.epoll
}

// read reads once into p.
func (r *rawIO) read(fd uintptr) bool {
	r.n, r.err = wire.ReadFD(int(fd), r.p)
	return true
}

// write writes all of p, or waits in the runtime's poller until it can
// write more (false); err is set when the write failed.
func (r *rawIO) write(fd uintptr) bool {
	for len(r.p) > 0 {
		n, err := wire.WriteFD(int(fd), r.p)
		switch {
		case n > 0:
			r.p = r.p[n:]
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return false // the runtime waits until it can write
		default:
			r.err = err
			return true
		}
	}
	return true
}

// epoll takes the ready events of the set into events (n of them), or
// none, and then waits in the runtime's poller (false).
func (r *rawIO) epoll(fd uintptr) bool {
	// A timeout of 0 never blocks: no need of the runtime's bookkeeping
	// of a blocking syscall.
	n, _, e := syscall.RawSyscall6(syscall.SYS_EPOLL_PWAIT, fd, uintptr(unsafe.Pointer(&r.events[0])), uintptr(len(r.events)), 0, 0, 0)
	r.n, r.err = int(n), nil
	if e != 0 {
		r.n = 0
		if e != syscall.EINTR {
			r.err = e
		}
	}
	return r.n > 0 || r.err != nil
}
