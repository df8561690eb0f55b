package fusefs

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"time"

	gofs "github.com/hanwen/go-fuse/v2/fs"
	"github.com/hanwen/go-fuse/v2/fuse"

	"github.com/db9/db9/internal/fs9/wsclient"
	"github.com/db9/db9/internal/logkey"
)

// Config says what to mount and how.
type Config struct {
	// Dial opens an authenticated connection to the database's files; it
	// is called again whenever the connection was lost.
	Dial func(ctx context.Context) (*wsclient.Client, error)
	// ReadOnly mounts read-only: every change fails with EROFS.
	ReadOnly bool
	// CacheTimeout is how long the kernel may keep attributes and
	// directory entries (default 1 s): a change made elsewhere shows
	// within it.
	CacheTimeout time.Duration
	// Name is the mount's source in /proc/mounts, e.g. db9:myapp.
	Name string
	// Logger receives connection losses and FUSE warnings.
	Logger *slog.Logger
}

// Mount is one mounted directory. New does no I/O; Open mounts, Close
// unmounts.
type Mount struct {
	dir  string
	cfg  Config
	r    *remote
	srv  *fuse.Server
	done chan struct{} // closed when the FUSE server stopped serving
	uid  uint32        // owner shown for every file: who mounted
	gid  uint32

	closeMu sync.Mutex
	closed  bool
}

// UnavailableError says that FUSE cannot be used on this machine: no
// /dev/fuse, no fusermount for a user that is not root, or the kernel
// refused the mount.
type UnavailableError struct {
	Reason string
	Err    error
}

func (e *UnavailableError) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("FUSE is not available: %s: %v", e.Reason, e.Err)
	}
	return "FUSE is not available: " + e.Reason
}

func (e *UnavailableError) Unwrap() error { return e.Err }

// opTimeout bounds one metadata request, transferTimeout the whole-file
// reads and writes (up to 100 MiB), so a dead server fails a system call
// rather than hanging it.
const (
	opTimeout       = 30 * time.Second
	transferTimeout = 10 * time.Minute
)

// New prepares a mount of cfg's files at dir.
func New(dir string, cfg Config) *Mount {
	if cfg.CacheTimeout <= 0 {
		cfg.CacheTimeout = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Name == "" {
		cfg.Name = "db9"
	}
	cfg.Logger = cfg.Logger.With(logkey.Component, "fusefs", logkey.Dir, dir)
	return &Mount{dir: dir, cfg: cfg, r: &remote{dial: cfg.Dial, log: cfg.Logger}, done: make(chan struct{}),
		uid: uint32(os.Geteuid()), gid: uint32(os.Getegid())}
}

// Open connects, checks that FUSE can be used and mounts. A missing
// /dev/fuse or fusermount, or a refused mount, is an *UnavailableError.
func (m *Mount) Open(ctx context.Context) error {
	dir, err := filepath.Abs(m.dir)
	if err != nil {
		return fmt.Errorf("mount at %s: %w", m.dir, err)
	}
	m.dir = dir
	if fi, err := os.Stat(dir); err != nil {
		return fmt.Errorf("mount at %s: %w", dir, err)
	} else if !fi.IsDir() {
		return fmt.Errorf("mount at %s: not a directory", dir)
	}
	if err := Check(); err != nil {
		return err
	}
	// Credentials and the root are checked before the kernel is involved,
	// so a bad token is an error here rather than EIO on first use.
	cctx, cancel := context.WithTimeout(ctx, opTimeout)
	defer cancel()
	if _, err := m.r.stat(cctx, "/"); err != nil {
		m.r.close()
		return err
	}
	srv, err := m.mount()
	if err != nil {
		m.r.close()
		return err
	}
	m.srv = srv
	return nil
}

func (m *Mount) mount() (*fuse.Server, error) {
	ttl := m.cfg.CacheTimeout
	logger := slog.NewLogLogger(m.cfg.Logger.Handler(), slog.LevelWarn)
	opts := &gofs.Options{
		EntryTimeout: &ttl,
		AttrTimeout:  &ttl,
		UID:          m.uid,
		GID:          m.gid,
		Logger:       logger,
		MountOptions: fuse.MountOptions{
			FsName:        m.cfg.Name,
			Name:          "fs9",
			DisableXAttrs: true,
			Logger:        logger,
		},
	}
	root := os.Geteuid() == 0
	if root {
		// root mounts directly: fusermount would fail the same way, and
		// an errno says why.
		opts.DirectMountStrict = true
		opts.DirectMountFlags = syscall.MS_NOSUID | syscall.MS_NODEV
		if m.cfg.ReadOnly {
			opts.DirectMountFlags |= syscall.MS_RDONLY
		}
	} else if m.cfg.ReadOnly {
		opts.Options = append(opts.Options, "ro")
	}
	srv, err := fuse.NewServer(gofs.NewNodeFS(&node{m: m}, opts), m.dir, &opts.MountOptions)
	if err != nil {
		var errno syscall.Errno
		switch {
		case !root:
			return nil, &UnavailableError{Reason: "fusermount refused to mount " + m.dir, Err: err}
		case errors.As(err, &errno) && (errno == syscall.EPERM || errno == syscall.EACCES):
			return nil, &UnavailableError{Reason: "the kernel refused the mount (in a container: --cap-add SYS_ADMIN --device /dev/fuse)", Err: err}
		}
		return nil, fmt.Errorf("mount at %s: %w", m.dir, err)
	}
	go func() {
		srv.Serve() // until unmounted, by Close or from outside
		close(m.done)
	}()
	if err := srv.WaitMount(); err != nil {
		return nil, fmt.Errorf("mount at %s: %w", m.dir, err)
	}
	return srv, nil
}

// Check reports whether FUSE can be used here: /dev/fuse can be opened
// and, for a user other than root, fusermount3 (or fusermount) exists.
func Check() error {
	return check("/dev/fuse", os.Geteuid() == 0, []string{"fusermount3", "fusermount", "/bin/fusermount3", "/bin/fusermount"})
}

func check(dev string, root bool, helpers []string) error {
	f, err := os.OpenFile(dev, os.O_RDWR, 0)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &UnavailableError{Reason: dev + " does not exist (load the fuse module; in a container pass --device /dev/fuse)"}
	case err != nil:
		return &UnavailableError{Reason: "cannot open " + dev, Err: err}
	}
	f.Close()
	if root {
		return nil // root mounts directly
	}
	for _, name := range helpers {
		if _, err := exec.LookPath(name); err == nil {
			return nil
		}
	}
	return &UnavailableError{Reason: "fusermount3 is not installed (Debian/Ubuntu: apt-get install fuse3)"}
}

// Dir is the absolute mount point, once open.
func (m *Mount) Dir() string { return m.dir }

// Done is closed once the directory is unmounted, by Close or from
// outside (fusermount3 -u).
func (m *Mount) Done() <-chan struct{} { return m.done }

// Close unmounts, trying again while the mount is busy until ctx ends,
// then closes the connection. Once it succeeded, later calls do nothing;
// after a failure (still busy) a later call tries again.
func (m *Mount) Close(ctx context.Context) error {
	m.closeMu.Lock()
	defer m.closeMu.Unlock()
	if m.closed {
		return nil
	}
	if err := m.unmount(ctx); err != nil {
		return err
	}
	m.closed = true
	m.r.close()
	return nil
}

func (m *Mount) unmount(ctx context.Context) error {
	if m.srv == nil {
		return nil
	}
	for {
		select {
		case <-m.done:
			return nil // unmounted from outside
		default:
		}
		err := m.srv.Unmount()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("unmount %s (busy while a process has a file or directory open there; `fusermount3 -u -z %s` detaches it lazily): %w", m.dir, m.dir, err)
		case <-m.done:
			return nil
		case <-time.After(300 * time.Millisecond):
		}
	}
}
