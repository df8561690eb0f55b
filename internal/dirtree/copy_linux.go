//go:build linux

package dirtree

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"unsafe"
)

// The Linux tree walk works on directory file descriptors with raw system
// calls: a PostgreSQL data directory is a thousand mostly tiny files, and
// per file the os package's path lookups, poller registration and
// copy_file_range probing cost more than the copy itself, which here is
// seven system calls: open, fstat, create, fchown, copy_file_range, close,
// close.

// Copy copies the directory tree src to dst (which must not exist),
// keeping modes and, when running as root, ownership. The sockets and
// lock files of a running server are skipped.
func Copy(src, dst string) error {
	return walkPair(src, dst, copyFileAt)
}

// Link recreates the directory tree src at dst (which must not exist) with
// hard links to src's regular files, keeping directory modes and (as root)
// owners. Only for trees whose files are never modified in place, such as
// stored base backups.
func Link(src, dst string) error {
	return walkPair(src, dst, func(sfd, dfd int, name string, _ bool) error {
		return linkat(sfd, name, dfd, name)
	})
}

// fileFunc makes the entry name of directory sfd, a regular file, in
// directory dfd.
type fileFunc func(sfd, dfd int, name string, root bool) error

func walkPair(src, dst string, file fileFunc) error {
	sfd, err := openDir(unixAtFDCWD, src)
	if err != nil {
		return err
	}
	defer syscall.Close(sfd)
	w := walker{root: os.Geteuid() == 0, file: file, src: src, dst: dst, buf: make([]byte, 32<<10)}
	dfd, err := w.mkdir(sfd, unixAtFDCWD, dst)
	if err != nil {
		return fmt.Errorf("copy %s: %w", src, err)
	}
	defer syscall.Close(dfd)
	return w.dir(sfd, dfd, "")
}

const (
	unixAtFDCWD = -100 // AT_FDCWD
	skipType    = 255  // not a d_type: sockets, fifos, devices
)

type walker struct {
	root     bool
	file     fileFunc
	src, dst string
	buf      []byte // getdents buffer, reused (entries are read whole before recursing)
}

// dir copies the entries of directory sfd (at rel below the roots) into dfd.
func (w *walker) dir(sfd, dfd int, rel string) error {
	ents, err := w.readDir(sfd)
	if err != nil {
		return fmt.Errorf("read %s: %w", filepath.Join(w.src, rel), err)
	}
	for _, e := range ents {
		r := filepath.Join(rel, e.name)
		typ := e.typ
		if typ == syscall.DT_UNKNOWN {
			fi, err := os.Lstat(filepath.Join(w.src, r))
			if err != nil {
				return err
			}
			typ = dirType(fi.Mode())
		}
		switch typ {
		case syscall.DT_DIR:
			if err := w.subdir(sfd, dfd, e.name, r); err != nil {
				return err
			}
		case syscall.DT_REG:
			if rel == "" && (e.name == "postmaster.pid" || e.name == "postmaster.opts") {
				continue
			}
			if err := retryEINTR(func() error { return w.file(sfd, dfd, e.name, w.root) }); err != nil {
				return fmt.Errorf("copy %s: %w", r, err)
			}
		case syscall.DT_LNK:
			if err := w.symlink(r); err != nil {
				return fmt.Errorf("copy %s: %w", r, err)
			}
		default: // sockets, fifos, devices
		}
	}
	return nil
}

func (w *walker) subdir(sfd, dfd int, name, rel string) error {
	s, err := openDir(sfd, name)
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	defer syscall.Close(s)
	d, err := w.mkdir(s, dfd, name)
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	defer syscall.Close(d)
	return w.dir(s, d, rel)
}

// mkdir makes name in dfd with the mode (and as root the owner) of the
// open source directory s, and opens it.
func (w *walker) mkdir(s, dfd int, name string) (int, error) {
	var st syscall.Stat_t
	if err := syscall.Fstat(s, &st); err != nil {
		return -1, err
	}
	if err := syscall.Mkdirat(dfd, name, st.Mode&0o7777); err != nil {
		return -1, err
	}
	d, err := openDir(dfd, name)
	if err != nil {
		return -1, err
	}
	if w.root {
		if err := syscall.Fchown(d, int(st.Uid), int(st.Gid)); err != nil {
			syscall.Close(d)
			return -1, err
		}
	}
	return d, nil
}

func (w *walker) symlink(rel string) error {
	l, err := os.Readlink(filepath.Join(w.src, rel))
	if err != nil {
		return err
	}
	target := filepath.Join(w.dst, rel)
	if err := os.Symlink(l, target); err != nil {
		return err
	}
	if w.root {
		fi, err := os.Lstat(filepath.Join(w.src, rel))
		if err != nil {
			return err
		}
		st := fi.Sys().(*syscall.Stat_t)
		return os.Lchown(target, int(st.Uid), int(st.Gid))
	}
	return nil
}

// copyFileAt copies the regular file name of sfd into a new file of dfd
// with its mode and (as root) owner, inside the kernel: one call for any
// file PostgreSQL writes (segments are ≤ 1 GB).
func copyFileAt(sfd, dfd int, name string, root bool) (err error) {
	in, err := syscall.Openat(sfd, name, syscall.O_RDONLY|syscall.O_CLOEXEC|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer syscall.Close(in)
	var st syscall.Stat_t
	if err := syscall.Fstat(in, &st); err != nil {
		return err
	}
	out, err := syscall.Openat(dfd, name, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, st.Mode&0o7777)
	if err != nil {
		return err
	}
	defer func() {
		if cerr := syscall.Close(out); err == nil {
			err = cerr
		}
	}()
	if root {
		if err := syscall.Fchown(out, int(st.Uid), int(st.Gid)); err != nil {
			return err
		}
	}
	for left := st.Size; left > 0; {
		n, err := copyRange(out, in, int(min(left, 1<<30)))
		if err == syscall.EINTR || err == syscall.EAGAIN {
			continue
		}
		if err != nil {
			return err
		}
		if n == 0 {
			break // the file shrank while copied
		}
		left -= int64(n)
	}
	return nil
}

// noCopyFileRange is set once the kernel or filesystem refused
// copy_file_range; sendfile copies from then on.
var noCopyFileRange atomic.Bool

// copyRange copies up to n bytes from in to out at their offsets:
// copy_file_range, so that filesystems that can share extents (XFS, btrfs)
// make the copy a reflink, else sendfile (one in-kernel copy either way).
func copyRange(out, in, n int) (int, error) {
	if sysCopyFileRange != 0 && !noCopyFileRange.Load() {
		r, _, e := syscall.Syscall6(sysCopyFileRange, uintptr(in), 0, uintptr(out), 0, uintptr(n), 0)
		switch e {
		case 0:
			return int(r), nil
		case syscall.ENOSYS, syscall.EXDEV, syscall.EINVAL, syscall.EOPNOTSUPP, syscall.EPERM:
			noCopyFileRange.Store(true)
		default:
			return 0, e
		}
	}
	return syscall.Sendfile(out, in, nil, n)
}

func linkat(sfd int, sname string, dfd int, dname string) error {
	s, err := syscall.BytePtrFromString(sname)
	if err != nil {
		return err
	}
	d, err := syscall.BytePtrFromString(dname)
	if err != nil {
		return err
	}
	_, _, e := syscall.Syscall6(syscall.SYS_LINKAT, uintptr(sfd), uintptr(unsafe.Pointer(s)), uintptr(dfd), uintptr(unsafe.Pointer(d)), 0, 0)
	if e != 0 {
		return e
	}
	return nil
}

func openDir(dirfd int, name string) (int, error) {
	var fd int
	err := retryEINTR(func() (err error) {
		fd, err = syscall.Openat(dirfd, name, syscall.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW|syscall.O_CLOEXEC, 0)
		return err
	})
	return fd, err
}

func retryEINTR(f func() error) error {
	for {
		if err := f(); !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

type dirent struct {
	name string
	typ  uint8
}

// readDir lists directory fd (without . and ..) from linux_dirent64
// records: d_ino u64, d_off s64, d_reclen u16, d_type u8, d_name.
func (w *walker) readDir(fd int) ([]dirent, error) {
	var out []dirent
	for {
		var n int
		err := retryEINTR(func() (err error) {
			n, err = syscall.ReadDirent(fd, w.buf)
			return err
		})
		if err != nil {
			return nil, err
		}
		if n <= 0 {
			return out, nil
		}
		for b := w.buf[:n]; len(b) >= 19; {
			reclen := int(b[16]) | int(b[17])<<8
			if reclen < 19 || reclen > len(b) {
				return nil, fmt.Errorf("malformed directory entry")
			}
			name := b[19:reclen]
			for i, c := range name {
				if c == 0 {
					name = name[:i]
					break
				}
			}
			if s := string(name); s != "." && s != ".." {
				out = append(out, dirent{name: s, typ: b[18]})
			}
			b = b[reclen:]
		}
	}
}

func dirType(m os.FileMode) uint8 {
	switch {
	case m.IsDir():
		return syscall.DT_DIR
	case m.IsRegular():
		return syscall.DT_REG
	case m&os.ModeSymlink != 0:
		return syscall.DT_LNK
	}
	return skipType
}
