package dirtree

import (
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
)

// Copy copies the directory tree src to dst (which must not exist),
// keeping modes and, when running as root, ownership. Regular files are
// copied with copy_file_range where the kernel offers it, by a few workers
// at once, large files in chunks: a data directory is a thousand small
// files and a few large ones, and one copier leaves cores idle. The
// sockets and lock files of a running server are skipped.
func Copy(src, dst string) error {
	root := os.Geteuid() == 0
	var jobs []copyJob
	err := filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		info, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case d.IsDir():
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return fmt.Errorf("copy %s: %w", rel, err)
			}
		case info.Mode().IsRegular():
			if rel == "postmaster.pid" || rel == "postmaster.opts" {
				return nil
			}
			// Created here, filled by the workers below.
			out, err := os.OpenFile(target, os.O_WRONLY|os.O_CREATE|os.O_EXCL, info.Mode().Perm())
			if err != nil {
				return fmt.Errorf("copy %s: %w", rel, err)
			}
			if err := out.Close(); err != nil {
				return err
			}
			for off := int64(0); off < info.Size(); off += copyChunk {
				jobs = append(jobs, copyJob{src: p, dst: target, off: off, n: min(copyChunk, info.Size()-off)})
			}
		case info.Mode()&os.ModeSymlink != 0:
			l, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if err := os.Symlink(l, target); err != nil {
				return err
			}
		default:
			return nil // sockets, fifos
		}
		if root {
			st := info.Sys().(*syscall.Stat_t)
			if err := os.Lchown(target, int(st.Uid), int(st.Gid)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return runCopyJobs(jobs)
}

// copyChunk is the most one worker copies of a file at a time.
const copyChunk = 16 << 20

// copyJob copies bytes [off, off+n) of src into the existing file dst.
type copyJob struct {
	src, dst string
	off, n   int64
}

func (j copyJob) run() error {
	in, err := os.Open(j.src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(j.dst, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	if _, err := in.Seek(j.off, io.SeekStart); err != nil {
		out.Close()
		return err
	}
	if _, err := out.Seek(j.off, io.SeekStart); err != nil {
		out.Close()
		return err
	}
	// A LimitedReader of an *os.File keeps io.Copy on copy_file_range.
	if _, err := io.Copy(out, io.LimitReader(in, j.n)); err != nil {
		out.Close()
		return fmt.Errorf("copy %s: %w", j.src, err)
	}
	return out.Close()
}

// runCopyJobs runs jobs on up to GOMAXPROCS workers (at least 2).
func runCopyJobs(jobs []copyJob) error {
	workers := min(max(runtime.GOMAXPROCS(0), 2), 4, len(jobs))
	next := make(chan copyJob)
	errs := make(chan error, workers)
	for range workers {
		go func() {
			var first error
			for j := range next {
				if first == nil {
					first = j.run()
				}
			}
			errs <- first
		}()
	}
	for _, j := range jobs {
		next <- j
	}
	close(next)
	var first error
	for range workers {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// CopyFile copies the regular file src to a new file dst (which must not
// exist) with mode perm.
func CopyFile(src, dst string, perm os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// Link recreates the directory tree src at dst (which must not exist) with
// hard links to src's regular files, keeping directory modes and (as root)
// owners. Only for trees whose files are never modified in place, such as
// stored base backups.
func Link(src, dst string) error {
	root := os.Geteuid() == 0
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if !d.IsDir() {
			if d.Type().IsRegular() {
				return os.Link(p, target)
			}
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && root {
			return os.Lchown(target, int(st.Uid), int(st.Gid))
		}
		return nil
	})
}
