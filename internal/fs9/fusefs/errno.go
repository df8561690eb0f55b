package fusefs

import (
	"context"
	"errors"
	"syscall"

	"github.com/db9/db9/internal/fs9"
)

// errnos maps FS9.md's codes to what the kernel hands to the application.
var errnos = map[fs9.Code]syscall.Errno{
	fs9.ENOENT:    syscall.ENOENT,
	fs9.EISDIR:    syscall.EISDIR,
	fs9.ENOTDIR:   syscall.ENOTDIR,
	fs9.EEXIST:    syscall.EEXIST,
	fs9.ENOTEMPTY: syscall.ENOTEMPTY,
	fs9.EACCES:    syscall.EACCES,
	fs9.EFBIG:     syscall.EFBIG,
	fs9.EAGAIN:    syscall.EAGAIN,
	fs9.EAUTH:     syscall.EACCES,
	fs9.EINVAL:    syscall.EINVAL,
	fs9.EPROTO:    syscall.EIO,
	fs9.ENOSYS:    syscall.ENOSYS,
	fs9.EIO:       syscall.EIO,
}

// toErrno turns an fs9 or connection error into an errno; anything that
// is not an fs9 code (the connection failed) is EIO, an interrupted
// request EINTR.
func toErrno(err error) syscall.Errno {
	if err == nil {
		return 0
	}
	var e *fs9.Error
	if errors.As(err, &e) {
		if n, ok := errnos[e.Code]; ok {
			return n
		}
		return syscall.EIO
	}
	if errors.Is(err, context.Canceled) {
		return syscall.EINTR
	}
	return syscall.EIO
}
