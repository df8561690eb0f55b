package fusefs

import (
	"context"
	"sync/atomic"
	"syscall"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/db9/db9/internal/fs9"
)

// maxFile is fs9's limit for one file through WebSocket streaming.
const maxFile = 100 << 20

// readAhead is how much a read of a file not buffered fetches at once:
// the kernel asks for 128 KiB at a time, one request per MiB costs less.
const readAhead = 1 << 20

// handle is an open file. A handle opened for writing holds the whole file
// (loaded on first use unless truncated) and writes it whole on flush,
// since fs9 replaces files whole; a read-only handle reads ranges.
type handle struct {
	n        *node
	writable bool
	append   bool

	mu     chanMutex
	buf    []byte // the whole file, when loaded
	loaded bool
	dirty  bool // buf differs from the server's content
	win    []byte
	winOff int64
	winEOF bool // win ends at the end of the file
	// known is len(buf)+1 while loaded, 0 otherwise: stat reads it without
	// waiting for an upload in progress.
	known atomic.Int64
}

var (
	_ gofs.FileReader   = (*handle)(nil)
	_ gofs.FileWriter   = (*handle)(nil)
	_ gofs.FileFlusher  = (*handle)(nil)
	_ gofs.FileFsyncer  = (*handle)(nil)
	_ gofs.FileReleaser = (*handle)(nil)
)

// chanMutex is a mutex that a waiter can give up on when its request is
// interrupted, so a slow upload does not pile up uninterruptible readers.
type chanMutex chan struct{}

func (m *chanMutex) lock(ctx context.Context) bool {
	select {
	case *m <- struct{}{}:
		return true
	case <-ctx.Done():
		return false
	}
}

func (m *chanMutex) unlock() { <-*m }

// size is the buffered size, when the handle holds the file.
func (h *handle) size() (int64, bool) {
	v := h.known.Load()
	return v - 1, v > 0
}

// setBuf replaces the buffer; callers hold mu.
func (h *handle) setBuf(b []byte) {
	if b == nil {
		b = []byte{}
	}
	h.buf, h.loaded = b, true
	h.known.Store(int64(len(b)) + 1)
}

// load reads the whole file into the buffer, for a write that changes
// part of it.
func (h *handle) load(ctx context.Context) syscall.Errno {
	if h.loaded {
		return 0
	}
	p, ok := h.n.path()
	if !ok {
		h.setBuf(nil)
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	b, err := h.n.m.r.readFile(ctx, p)
	if err != nil && !isCode(err, fs9.ENOENT) {
		return toErrno(err)
	}
	h.setBuf(b)
	return 0
}

func isCode(err error, c fs9.Code) bool { return fs9.ErrorCode(err) == c }

// Read serves the buffer of a writer, else a range from the server.
func (h *handle) Read(ctx context.Context, dest []byte, off int64) (fuse.ReadResult, syscall.Errno) {
	if !h.mu.lock(ctx) {
		return nil, syscall.EINTR
	}
	defer h.mu.unlock()
	if h.loaded {
		return fuse.ReadResultData(slice(h.buf, off, len(dest))), 0
	}
	end := off + int64(len(dest))
	winEnd := h.winOff + int64(len(h.win))
	if inWin := h.win != nil && off >= h.winOff && off <= winEnd && (end <= winEnd || h.winEOF); !inWin {
		p, ok := h.n.path()
		if !ok {
			return nil, syscall.ENOENT
		}
		ctx, cancel := opCtx(ctx)
		defer cancel()
		want := max(int64(len(dest)), readAhead)
		b, err := h.n.m.r.readAt(ctx, p, off, want)
		if err != nil {
			return nil, toErrno(err)
		}
		h.win, h.winOff, h.winEOF = b, off, int64(len(b)) < want
		if h.win == nil {
			h.win = []byte{}
		}
	}
	return fuse.ReadResultData(slice(h.win, off-h.winOff, len(dest))), 0
}

func slice(b []byte, off int64, n int) []byte {
	if off >= int64(len(b)) {
		return nil
	}
	return b[off:min(off+int64(n), int64(len(b)))]
}

// Write changes the buffer; the server sees it on flush.
func (h *handle) Write(ctx context.Context, data []byte, off int64) (uint32, syscall.Errno) {
	if !h.writable {
		return 0, syscall.EBADF
	}
	if !h.mu.lock(ctx) {
		return 0, syscall.EINTR
	}
	defer h.mu.unlock()
	if errno := h.load(ctx); errno != 0 {
		return 0, errno
	}
	if h.append {
		off = int64(len(h.buf))
	}
	end := off + int64(len(data))
	if end > maxFile {
		return 0, syscall.EFBIG
	}
	b := h.buf
	if end > int64(len(b)) {
		b = append(b, make([]byte, end-int64(len(b)))...)
	}
	copy(b[off:], data)
	h.setBuf(b)
	h.dirty = true
	return uint32(len(data)), 0
}

// truncate resizes the buffer (ftruncate, open with O_TRUNC).
func (h *handle) truncate(ctx context.Context, size int64) syscall.Errno {
	if size > maxFile {
		return syscall.EFBIG
	}
	if !h.mu.lock(ctx) {
		return syscall.EINTR
	}
	defer h.mu.unlock()
	if size != 0 {
		if errno := h.load(ctx); errno != 0 {
			return errno
		}
	}
	b := h.buf
	if size <= int64(len(b)) {
		b = b[:size]
	} else {
		b = append(b, make([]byte, size-int64(len(b)))...)
	}
	h.setBuf(b)
	h.dirty = true
	return 0
}

// Flush writes a changed buffer whole; close(2) returns its error.
func (h *handle) Flush(ctx context.Context) syscall.Errno {
	if !h.mu.lock(ctx) {
		return syscall.EINTR
	}
	defer h.mu.unlock()
	return h.flush(ctx)
}

func (h *handle) flush(ctx context.Context) syscall.Errno {
	if !h.dirty {
		return 0
	}
	p, ok := h.n.path()
	if !ok {
		h.dirty = false // unlinked while open: its content goes with it
		return 0
	}
	ctx, cancel := context.WithTimeout(ctx, transferTimeout)
	defer cancel()
	if err := h.n.m.r.writeFile(ctx, p, h.buf); err != nil {
		return toErrno(err)
	}
	h.dirty = false
	forgetParent(h.n)
	return 0
}

// Fsync writes a changed buffer.
func (h *handle) Fsync(ctx context.Context, _ uint32) syscall.Errno { return h.Flush(ctx) }

// Release writes what a failed flush left (the kernel does not wait for
// it) and forgets the handle.
func (h *handle) Release(ctx context.Context) syscall.Errno {
	var errno syscall.Errno
	if h.mu.lock(context.Background()) {
		// Release is not interruptible by the caller: finish the upload.
		errno = h.flush(context.WithoutCancel(ctx))
		h.buf, h.win, h.loaded = nil, nil, false
		h.known.Store(0)
		h.mu.unlock()
	}
	h.n.mu.Lock()
	delete(h.n.writers, h)
	h.n.mu.Unlock()
	return errno
}
