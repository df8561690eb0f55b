package dirtree_test

import (
	"bytes"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/layout"
)

// tree makes a source tree like a data directory: nested directories,
// empty, small and multi-megabyte files with their own modes, a symlink,
// a socket and a fifo (skipped), the lock files of a running server at
// the top (skipped) and a file of the same name further down (copied).
// As root, files get an owner other than root.
func tree(t *testing.T) (string, map[string][]byte) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	big := make([]byte, 3<<20+123)
	for i := range big {
		big[i] = byte(i * 31)
	}
	files := map[string][]byte{
		"PG_VERSION":                  []byte("15\n"),
		"base/5/1259":                 bytes.Repeat([]byte{7}, 8192),
		"base/5/empty":                nil,
		"base/5/16384":                big,
		"global/pg_control":           []byte("control"),
		"pg_wal/archive_status/x":     nil,
		"deep/a/b/c/d/postmaster.pid": []byte("not the lock file"),
	}
	for name, b := range files {
		p := filepath.Join(src, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	must(t, os.Chmod(filepath.Join(src, "global/pg_control"), 0o640))
	must(t, os.Chmod(filepath.Join(src, "deep/a"), 0o750))
	must(t, os.WriteFile(filepath.Join(src, "postmaster.pid"), []byte("123"), 0o600))
	must(t, os.WriteFile(filepath.Join(src, "postmaster.opts"), []byte("x"), 0o600))
	must(t, os.Symlink("base/5", filepath.Join(src, "link")))
	must(t, syscall.Mkfifo(filepath.Join(src, "fifo"), 0o600))
	l, err := net.Listen("unix", layout.SocketPath(src))
	must(t, err)
	t.Cleanup(func() { l.Close() })
	if os.Geteuid() == 0 {
		must(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			return os.Lchown(p, 4242, 4343)
		}))
	}
	return src, files
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func TestCopy(t *testing.T) {
	src, files := tree(t)
	dst := filepath.Join(t.TempDir(), "dst")
	must(t, dirtree.Copy(src, dst))
	for name, want := range files {
		got, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: %d bytes differ from the source's %d", name, len(got), len(want))
		}
	}
	sameMeta(t, src, dst, "", "global/pg_control", "deep/a", "base/5/16384", "link")
	if l, err := os.Readlink(filepath.Join(dst, "link")); err != nil || l != "base/5" {
		t.Errorf("link = %q, %v", l, err)
	}
	for _, skipped := range []string{"postmaster.pid", "postmaster.opts", "fifo", filepath.Base(layout.SocketPath(src))} {
		if _, err := os.Lstat(filepath.Join(dst, skipped)); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("%s copied (%v), want skipped", skipped, err)
		}
	}
	// The copy is a copy: writing it leaves the source alone.
	must(t, os.WriteFile(filepath.Join(dst, "base/5/1259"), []byte("changed"), 0o600))
	if b, _ := os.ReadFile(filepath.Join(src, "base/5/1259")); len(b) != 8192 {
		t.Error("writing the copy changed the source")
	}
	if err := dirtree.Copy(src, dst); err == nil {
		t.Error("copy onto an existing directory succeeded")
	}
	if err := dirtree.Copy(filepath.Join(src, "missing"), filepath.Join(t.TempDir(), "x")); err == nil {
		t.Error("copy of a missing directory succeeded")
	}
}

func TestLink(t *testing.T) {
	src, files := tree(t)
	dst := filepath.Join(t.TempDir(), "dst")
	must(t, dirtree.Link(src, dst))
	for name := range files {
		a, err := os.Stat(filepath.Join(src, name))
		must(t, err)
		b, err := os.Stat(filepath.Join(dst, name))
		must(t, err)
		if !os.SameFile(a, b) {
			t.Errorf("%s is not a hard link of the source", name)
		}
	}
	sameMeta(t, src, dst, "", "deep/a")
}

// sameMeta checks that names have the same type, mode and (as root) owner
// in both trees.
func sameMeta(t *testing.T, src, dst string, names ...string) {
	t.Helper()
	for _, name := range names {
		a, err := os.Lstat(filepath.Join(src, name))
		must(t, err)
		b, err := os.Lstat(filepath.Join(dst, name))
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if a.Mode() != b.Mode() {
			t.Errorf("%q: mode %v, source %v", name, b.Mode(), a.Mode())
		}
		if os.Geteuid() == 0 {
			sa, sb := a.Sys().(*syscall.Stat_t), b.Sys().(*syscall.Stat_t)
			if sa.Uid != sb.Uid || sa.Gid != sb.Gid {
				t.Errorf("%q: owner %d:%d, source %d:%d", name, sb.Uid, sb.Gid, sa.Uid, sa.Gid)
			}
		}
	}
}
