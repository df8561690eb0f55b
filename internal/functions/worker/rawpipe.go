package worker

import (
	"io"
	"os"
	"syscall"
	"unsafe"
)

// rawPipe reads or writes one non-blocking pipe of a worker with raw
// system calls, waiting for readiness in the runtime's poller.
//
// Why not os.File's Read and Write: each of those enters the system call
// through the scheduler (entersyscall), and a worker idle between runs has
// let sysmon sleep, so the first such call of every run wakes sysmon with a
// futex — measured at ~15% of a warm worker's CPU for a trivial handler. A
// read or write of a non-blocking pipe never blocks, so it needs none of
// that: when it would block (EAGAIN) the goroutine parks in the poller as
// os.File's own methods do.
//
// One reader and one writer at a time (conn serializes writes, one
// goroutine reads); the closures are made once, not per call.
type rawPipe struct {
	f  *os.File
	rc syscall.RawConn

	rbuf  []byte
	rn    int
	rerr  error
	rfunc func(fd uintptr) bool

	wbuf  []byte
	wn    int
	werr  error
	wfunc func(fd uintptr) bool
}

// newRawPipe wraps f, which must be a non-blocking pipe in the poller
// (os.NewFile of a descriptor set non-blocking).
func newRawPipe(f *os.File) (*rawPipe, error) {
	rc, err := f.SyscallConn()
	if err != nil {
		return nil, err
	}
	p := &rawPipe{f: f, rc: rc}
	p.rfunc = func(fd uintptr) bool {
		p.rn, p.rerr = rawIO(syscall.SYS_READ, fd, p.rbuf)
		return p.rerr != syscall.EAGAIN
	}
	p.wfunc = func(fd uintptr) bool {
		for p.wn < len(p.wbuf) {
			n, err := rawIO(syscall.SYS_WRITE, fd, p.wbuf[p.wn:])
			if err != nil {
				p.werr = err
				return err != syscall.EAGAIN
			}
			p.wn += n
		}
		p.werr = nil
		return true
	}
	return p, nil
}

func (p *rawPipe) Read(b []byte) (int, error) {
	if len(b) == 0 {
		return 0, nil
	}
	p.rbuf = b
	err := p.rc.Read(p.rfunc)
	p.rbuf = nil
	switch {
	case err != nil:
		return 0, err
	case p.rerr != nil:
		return 0, &os.PathError{Op: "read", Path: p.f.Name(), Err: p.rerr}
	case p.rn == 0:
		return 0, io.EOF
	}
	return p.rn, nil
}

func (p *rawPipe) Write(b []byte) (int, error) {
	p.wbuf, p.wn, p.werr = b, 0, nil
	err := p.rc.Write(p.wfunc)
	n := p.wn
	p.wbuf = nil
	if err == nil && p.werr != nil {
		err = &os.PathError{Op: "write", Path: p.f.Name(), Err: p.werr}
	}
	return n, err
}

// rawIO is read(2) or write(2) of b on fd without the scheduler's
// system-call bookkeeping, retried on EINTR.
func rawIO(trap, fd uintptr, b []byte) (int, error) {
	for {
		n, _, e := syscall.RawSyscall(trap, fd, uintptr(unsafe.Pointer(&b[0])), uintptr(len(b)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			return 0, e
		}
		return int(n), nil
	}
}
