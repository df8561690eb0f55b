package fusefs_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/db9/db9/internal/fs9/fusefs"
)

// One mount against a real server: every operation through the kernel,
// checked from the other side (SQL, WebSocket) and the reverse.
func TestMount_Operations(t *testing.T) {
	requireFUSE(t)
	e := newEnv(t)
	m := e.mount(fusefs.Config{})
	dir := m.Dir()
	if !mounted(t, dir) {
		t.Fatalf("%s is not in /proc/self/mountinfo after Open", dir)
	}
	ws := e.client()
	ctx := context.Background()
	at := func(p string) string { return filepath.Join(dir, filepath.FromSlash(p)) }

	t.Run("write through the mount, read through SQL and WebSocket", func(t *testing.T) {
		if err := os.MkdirAll(at("/notes/2024"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(at("/notes/2024/a.txt"), []byte("hello fs9\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		if got := e.sqlRead("/notes/2024/a.txt"); got != "hello fs9\n" {
			t.Errorf("fs9_read = %q", got)
		}
		big := make([]byte, 3<<20+17) // several read-ahead windows and streamed chunks
		rand.Read(big)
		if err := os.WriteFile(at("/bin/big.bin"), big, 0o600); err == nil {
			t.Fatal("writing into a missing directory succeeded")
		}
		if err := os.Mkdir(at("/bin"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(at("/bin/big.bin"), big, 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ws.ReadFile(ctx, "/bin/big.bin")
		if err != nil || !bytes.Equal(got, big) {
			t.Fatalf("WebSocket read of the file written through the mount: %d bytes, %v (want %d equal bytes)", len(got), err, len(big))
		}
		back, err := os.ReadFile(at("/bin/big.bin"))
		if err != nil || !bytes.Equal(back, big) {
			t.Fatalf("read back through the mount: %d bytes, %v", len(back), err)
		}
		st, err := ws.Stat(ctx, "/bin/big.bin")
		if err != nil || st.Mode != 0o600 || st.Size != int64(len(big)) {
			t.Errorf("stat over WebSocket = %+v, %v; want mode 0600 and size %d", st, err, len(big))
		}
	})

	t.Run("write through SQL and WebSocket, read through the mount", func(t *testing.T) {
		if _, err := e.admin.Exec(ctx, `SELECT fs9_write('/from/sql.txt', 'written by SQL')`); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(at("/from/sql.txt")); err != nil || string(got) != "written by SQL" {
			t.Errorf("mount reads %q, %v", got, err)
		}
		if _, err := ws.WriteFile(ctx, "/from/ws.bin", []byte{0, 1, 2, 255}); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(at("/from/ws.bin")); err != nil || !bytes.Equal(got, []byte{0, 1, 2, 255}) {
			t.Errorf("mount reads %v, %v", got, err)
		}
		// An overwrite elsewhere shows once the attribute cache ran out.
		if _, err := e.admin.Exec(ctx, `SELECT fs9_write('/from/sql.txt', 'changed by SQL, and longer')`); err != nil {
			t.Fatal(err)
		}
		eventually(t, "overwrite through SQL seen by the mount", func() error {
			got, err := os.ReadFile(at("/from/sql.txt"))
			if err == nil && string(got) != "changed by SQL, and longer" {
				err = fmt.Errorf("content %q", got)
			}
			return err
		})
	})

	t.Run("readdir and stat", func(t *testing.T) {
		for _, name := range []string{"b.txt", "c.txt"} {
			if err := os.WriteFile(at("/notes/"+name), []byte(name), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		es, err := os.ReadDir(at("/notes"))
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
			if e.Name() == "2024" && !e.IsDir() {
				t.Errorf("2024 is not listed as a directory")
			}
		}
		if want := []string{"2024", "b.txt", "c.txt"}; !slices.Equal(names, want) {
			t.Errorf("readdir = %v, want %v", names, want)
		}
		fi, err := os.Stat(at("/notes/b.txt"))
		if err != nil || fi.Size() != 5 || fi.Mode().Perm() != 0o644 || fi.IsDir() {
			t.Errorf("stat = %v, %v", fi, err)
		}
		if _, err := os.Stat(at("/notes/none")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat of a missing file: %v", err)
		}
	})

	t.Run("partial writes, append, truncate", func(t *testing.T) {
		p := at("/edit.txt")
		if err := os.WriteFile(p, []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteAt([]byte("ab"), 3); err != nil {
			t.Fatal(err)
		}
		if fi, err := f.Stat(); err != nil || fi.Size() != 10 {
			t.Errorf("fstat before close: %v, %v", fi, err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := e.sqlRead("/edit.txt"); got != "012ab56789" {
			t.Errorf("after WriteAt: %q", got)
		}
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("+end"); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := e.sqlRead("/edit.txt"); got != "012ab56789+end" {
			t.Errorf("after append: %q", got)
		}
		if err := os.Truncate(p, 4); err != nil {
			t.Fatal(err)
		}
		if got := e.sqlRead("/edit.txt"); got != "012a" {
			t.Errorf("after truncate: %q", got)
		}
		// O_TRUNC with nothing written empties the file on close.
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := e.sqlRead("/edit.txt"); got != "" {
			t.Errorf("after O_TRUNC: %q", got)
		}
	})

	t.Run("rename, chmod, symlink", func(t *testing.T) {
		if err := os.Rename(at("/notes/b.txt"), at("/notes/2024/moved.txt")); err != nil {
			t.Fatal(err)
		}
		if e.sqlExists("/notes/b.txt") || e.sqlRead("/notes/2024/moved.txt") != "b.txt" {
			t.Errorf("rename not seen through SQL")
		}
		if got, err := os.ReadFile(at("/notes/2024/moved.txt")); err != nil || string(got) != "b.txt" {
			t.Errorf("read after rename: %q, %v", got, err)
		}
		// Written after the rename through a handle opened before it: the
		// content lands at the new name.
		f, err := os.OpenFile(at("/notes/c.txt"), os.O_WRONLY|os.O_TRUNC, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(at("/notes/c.txt"), at("/notes/d.txt")); err != nil {
			t.Fatal(err)
		}
		if _, err := f.WriteString("after rename"); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
		if got := e.sqlRead("/notes/d.txt"); got != "after rename" || e.sqlExists("/notes/c.txt") {
			t.Errorf("write through a renamed handle: d.txt = %q", got)
		}
		if err := os.Chmod(at("/notes/d.txt"), 0o640); err != nil {
			t.Fatal(err)
		}
		if st, err := ws.Stat(ctx, "/notes/d.txt"); err != nil || st.Mode != 0o640 {
			t.Errorf("chmod: %+v, %v", st, err)
		}
		if err := os.Symlink("2024/moved.txt", at("/notes/link")); err != nil {
			t.Fatal(err)
		}
		if target, err := os.Readlink(at("/notes/link")); err != nil || target != "2024/moved.txt" {
			t.Errorf("readlink = %q, %v", target, err)
		}
		if got, err := os.ReadFile(at("/notes/link")); err != nil || string(got) != "b.txt" {
			t.Errorf("read through the symlink: %q, %v", got, err)
		}
		if st, err := ws.Stat(ctx, "/notes/link"); err != nil || st.Type != "symlink" {
			t.Errorf("stat of the symlink over WebSocket: %+v, %v", st, err)
		}
	})

	t.Run("shell tools", func(t *testing.T) {
		// cp -r, >> appends, sed -i (temporary file, fchown, rename over),
		// touch, mv: what agents run in a mounted directory.
		script := `set -e
mkdir -p tools/src
printf 'one\ntwo\n' > tools/src/a.txt
cp -r tools/src tools/copy
echo three >> tools/copy/a.txt
sed -i 's/two/TWO/' tools/copy/a.txt
touch tools/copy/empty
mv tools/copy tools/moved
ls -l tools/moved > /dev/null
cat tools/moved/a.txt`
		cmd := exec.Command("sh", "-c", script)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		if string(out) != "one\nTWO\nthree\n" {
			t.Errorf("cat through the mount: %q", out)
		}
		if got := e.sqlRead("/tools/moved/a.txt"); got != "one\nTWO\nthree\n" {
			t.Errorf("fs9_read after the tools ran: %q", got)
		}
		if got := e.sqlRead("/tools/src/a.txt"); got != "one\ntwo\n" {
			t.Errorf("the source of cp -r changed: %q", got)
		}
		if !e.sqlExists("/tools/moved/empty") || e.sqlExists("/tools/copy") {
			t.Errorf("touch or mv not seen through SQL")
		}
	})

	t.Run("remove", func(t *testing.T) {
		err := os.Remove(at("/notes/2024"))
		if !errors.Is(err, syscall.ENOTEMPTY) && !errors.Is(err, syscall.EEXIST) {
			t.Errorf("rmdir of a non-empty directory: %v, want ENOTEMPTY", err)
		}
		if err := os.Remove(at("/notes/link")); err != nil {
			t.Fatal(err)
		}
		if err := os.RemoveAll(at("/notes")); err != nil {
			t.Fatal(err)
		}
		if e.sqlExists("/notes") || e.sqlExists("/notes/2024/a.txt") {
			t.Errorf("/notes still there after RemoveAll")
		}
		if _, err := os.Stat(at("/notes")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("stat after remove: %v", err)
		}
	})

	t.Run("the connection is dialed again when it was lost", func(t *testing.T) {
		e.mu.Lock()
		last, dials := e.last, e.dials
		e.mu.Unlock()
		last.Close()
		if _, err := ws.WriteFile(ctx, "/after-loss.txt", []byte("still here")); err != nil {
			t.Fatal(err)
		}
		if got, err := os.ReadFile(at("/after-loss.txt")); err != nil || string(got) != "still here" {
			t.Errorf("read after the connection was lost: %q, %v", got, err)
		}
		e.mu.Lock()
		defer e.mu.Unlock()
		if e.dials != dials+1 {
			t.Errorf("%d dials after the loss, want %d", e.dials, dials+1)
		}
	})

	t.Run("unmount", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		if err := m.Close(cctx); err != nil {
			t.Fatal(err)
		}
		select {
		case <-m.Done():
		case <-cctx.Done():
			t.Fatal("Done not closed after Close")
		}
		if mounted(t, dir) {
			t.Errorf("%s still mounted after Close", dir)
		}
		if err := m.Close(cctx); err != nil {
			t.Errorf("second Close: %v", err)
		}
	})
}

// A busy mount is not unmounted: Close says so and works once the last
// file is closed.
func TestMount_Close_Busy(t *testing.T) {
	requireFUSE(t)
	e := newEnv(t)
	m := e.mount(fusefs.Config{})
	if err := os.WriteFile(filepath.Join(m.Dir(), "open.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(filepath.Join(m.Dir(), "open.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	err = m.Close(ctx)
	// root unmounts directly and gets the errno; fusermount3 only says it failed.
	if err == nil || os.Geteuid() == 0 && !errors.Is(err, syscall.EBUSY) {
		t.Errorf("Close with a file open: %v, want EBUSY", err)
	}
	if !mounted(t, m.Dir()) {
		t.Fatal("unmounted although busy")
	}
	f.Close()
	if err := m.Close(context.Background()); err != nil {
		t.Fatalf("Close after the file was closed: %v", err)
	}
	if mounted(t, m.Dir()) {
		t.Error("still mounted")
	}
}

// A read-only mount reads and refuses every change with EROFS.
func TestMount_ReadOnly(t *testing.T) {
	requireFUSE(t)
	e := newEnv(t)
	if _, err := e.client().WriteFile(context.Background(), "/r/a.txt", []byte("read me")); err != nil {
		t.Fatal(err)
	}
	m := e.mount(fusefs.Config{ReadOnly: true})
	at := func(p string) string { return filepath.Join(m.Dir(), filepath.FromSlash(p)) }
	if got, err := os.ReadFile(at("/r/a.txt")); err != nil || string(got) != "read me" {
		t.Errorf("read: %q, %v", got, err)
	}
	for what, err := range map[string]error{
		"overwrite": os.WriteFile(at("/r/a.txt"), []byte("x"), 0o644),
		"create":    os.WriteFile(at("/r/new.txt"), []byte("x"), 0o644),
		"mkdir":     os.Mkdir(at("/r/d"), 0o755),
		"remove":    os.Remove(at("/r/a.txt")),
		"rename":    os.Rename(at("/r/a.txt"), at("/r/b.txt")),
		"chmod":     os.Chmod(at("/r/a.txt"), 0o600),
	} {
		if !errors.Is(err, syscall.EROFS) {
			t.Errorf("%s on a read-only mount: %v, want EROFS", what, err)
		}
	}
	if got := e.sqlRead("/r/a.txt"); got != "read me" {
		t.Errorf("content changed: %q", got)
	}
}

// Unmounted from outside (umount, fusermount3 -u), the mount says so.
func TestMount_UnmountedFromOutside(t *testing.T) {
	requireFUSE(t)
	e := newEnv(t)
	m := e.mount(fusefs.Config{})
	cmd := exec.Command("umount", m.Dir())
	if os.Geteuid() != 0 {
		cmd = exec.Command("fusermount3", "-u", m.Dir())
	}
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v: %v: %s", cmd.Args, err, out)
	}
	select {
	case <-m.Done():
	case <-time.After(20 * time.Second):
		t.Fatal("Done not closed after an unmount from outside")
	}
}

// Bad credentials fail Open before anything is mounted.
func TestMount_Open_BadCredentials(t *testing.T) {
	requireFUSE(t)
	e := newEnv(t)
	dir := t.TempDir()
	m := fusefs.New(dir, fusefs.Config{Dial: e.dial("db1.admin", "wrong")})
	err := m.Open(context.Background())
	if err == nil {
		m.Close(context.Background())
		t.Fatal("Open with a wrong password succeeded")
	}
	if mounted(t, dir) {
		t.Errorf("%s mounted although Open failed", dir)
	}
}
