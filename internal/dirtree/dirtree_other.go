//go:build !linux

package dirtree

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// Copy copies the directory tree src to dst (which must not exist),
// keeping modes and, when running as root, ownership. Regular files are
// copied with copy_file_range where the kernel offers it. The sockets and
// lock files of a running server are skipped.
func Copy(src, dst string) error {
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
			if err := CopyFile(p, target, info.Mode().Perm()); err != nil {
				return fmt.Errorf("copy %s: %w", rel, err)
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
