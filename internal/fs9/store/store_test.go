package store_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/fs9test"
	"github.com/db9/db9/internal/fs9/store"
)

func code(err error) fs9.Code {
	if err == nil {
		return ""
	}
	return fs9.ErrorCode(err)
}

func TestStore_Ops(t *testing.T) {
	c := fs9test.Start(t)
	pool := c.Pool(t, fs9test.Admin)
	s := store.New(pool)
	ctx := context.Background()
	if n, err := s.Write(ctx, "/a/b.txt", []byte("hello"), -1); err != nil || n != 5 {
		t.Fatalf("Write: %d %v", n, err)
	}
	i, err := s.Stat(ctx, "/a/b.txt")
	if err != nil || i.Type != "file" || i.Size != 5 || i.Mode != 0o644 || i.Generation != 1 || i.Path != "/a/b.txt" {
		t.Fatalf("Stat: %+v %v", i, err)
	}
	if _, err := s.Write(ctx, "/a/b.txt", []byte("hello world"), 0o600); err != nil {
		t.Fatal(err)
	}
	if i2, _ := s.Stat(ctx, "/a/b.txt"); i2.Generation != 2 || i2.Mode != 0o644 {
		t.Fatalf("overwrite: %+v (mode kept, generation moved)", i2)
	}
	if b, err := s.ReadAt(ctx, "/a/b.txt", 6, 100); err != nil || string(b) != "world" {
		t.Fatalf("ReadAt: %q %v", b, err)
	}
	if _, err := s.Append(ctx, "/a/b.txt", []byte("!")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PWrite(ctx, "/a/b.txt", 0, []byte("J")); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Read(ctx, "/a/b.txt"); string(b) != "Jello world!" {
		t.Fatalf("Read: %q", b)
	}
	if err := s.Truncate(ctx, "/a/b.txt", 4); err != nil {
		t.Fatal(err)
	}
	if made, err := s.Mkdir(ctx, "/a/d", false, 0o700); !made || err != nil {
		t.Fatalf("Mkdir: %v %v", made, err)
	}
	if _, err := s.Mkdir(ctx, "/a/d", false, -1); code(err) != fs9.EEXIST {
		t.Fatalf("Mkdir twice: %v", err)
	}
	ents, err := s.ReadDir(ctx, "/a")
	if err != nil || len(ents) != 2 || ents[0].Path != "/a/b.txt" || ents[1].Mode != 0o700 {
		t.Fatalf("ReadDir: %+v %v", ents, err)
	}
	if err := s.Symlink(ctx, "/a/l", "b.txt"); err != nil {
		t.Fatal(err)
	}
	if tg, err := s.Readlink(ctx, "/a/l"); tg != "b.txt" || err != nil {
		t.Fatalf("Readlink: %q %v", tg, err)
	}
	if _, err := s.Read(ctx, "/a/l"); code(err) != fs9.EINVAL {
		t.Fatalf("Read symlink: %v", err)
	}
	if err := s.Chmod(ctx, "/a/b.txt", 0o600); err != nil {
		t.Fatal(err)
	}
	if err := s.Rename(ctx, "/a/b.txt", "/z/b.txt"); err != nil {
		t.Fatal(err)
	}
	w, err := s.ReadDirRecursive(ctx, "/", 0, 0)
	if err != nil || len(w.Entries) != 5 || w.Truncated || w.TotalDirsScanned != 4 {
		t.Fatalf("ReadDirRecursive: %+v %v", w, err)
	}
	if w, _ := s.ReadDirRecursive(ctx, "/", 1, 1); len(w.Entries) != 1 || !w.Truncated {
		t.Fatalf("ReadDirRecursive limited: %+v", w)
	}
	if err := s.Unlink(ctx, "/a/d"); code(err) != fs9.EISDIR {
		t.Fatalf("Unlink dir: %v", err)
	}
	if _, err := s.Remove(ctx, "/a", false); code(err) != fs9.ENOTEMPTY {
		t.Fatalf("Remove non-empty: %v", err)
	}
	if n, err := s.Remove(ctx, "/a", true); n != 3 || err != nil {
		t.Fatalf("Remove -r: %d %v", n, err)
	}
	st, err := readStats(ctx, pool)
	if err != nil || st.Files != 1 || st.Directories != 1 || st.LogicalBytes != 4 {
		t.Fatalf("Stats: %+v %v", st, err)
	}
	for _, p := range []string{"", "rel", "/a/../b", "/a\x00b"} {
		if _, err := s.Stat(ctx, p); code(err) != fs9.EINVAL {
			t.Errorf("Stat(%q): %v", p, err)
		}
	}
	ro := store.New(c.Pool(t, fs9test.ReadOnly))
	if _, err := ro.Write(ctx, "/x", []byte("x"), -1); code(err) != fs9.EACCES {
		t.Fatalf("read-only Write: %v", err)
	}
	if b, err := ro.Read(ctx, "/z/b.txt"); string(b) != "Jell" || err != nil {
		t.Fatalf("read-only Read: %q %v", b, err)
	}
}

func TestStore_Batch(t *testing.T) {
	c := fs9test.Start(t)
	s := store.New(c.Pool(t, fs9test.Admin))
	ctx := context.Background()
	if _, err := s.Mkdir(ctx, "/dir", false, -1); err != nil {
		t.Fatal(err)
	}
	files := []store.FileWrite{{Path: "/b/1", Data: []byte("1"), Mode: -1}, {Path: "/dir", Data: []byte("x"), Mode: -1}, {Path: "/b/2", Data: []byte("22"), Mode: -1}}
	res, err := store.BatchesOf(s).Write(ctx, files, true)
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Err == nil {
			t.Errorf("atomic entry %d succeeded", i)
		}
	}
	if code(res[1].Err) != fs9.EISDIR {
		t.Errorf("atomic failing entry: %v", res[1].Err)
	}
	if ok, _ := s.Exists(ctx, "/b/1"); ok {
		t.Fatal("atomic batch left /b/1")
	}
	res, _ = store.BatchesOf(s).Write(ctx, files, false)
	if res[0].Err != nil || res[0].Written != 1 || code(res[1].Err) != fs9.EISDIR || res[2].Written != 2 {
		t.Fatalf("non-atomic: %+v", res)
	}
	st := store.BatchesOf(s).Stat(ctx, []string{"/b/2", "/nope"})
	if st[0].Info.Size != 2 || code(st[1].Err) != fs9.ENOENT {
		t.Fatalf("BatchStat: %+v", st)
	}
	rd, err := store.BatchesOf(s).Read(ctx, []string{"/b/1", "/b/2"})
	if err != nil || string(rd[1].Data) != "22" {
		t.Fatalf("BatchRead: %+v %v", rd, err)
	}
	if _, err := store.BatchesOf(s).Read(ctx, []string{"/b/1", "/b/1"}); code(err) != fs9.EINVAL {
		t.Fatalf("BatchRead duplicates: %v", err)
	}
}

// A 100 MiB file streamed in and out whole, SHA-256 equal; then a stream
// cut off halfway leaves the old content and no garbage rows.
func TestStore_Stream100MiB(t *testing.T) {
	c := fs9test.Start(t)
	pool := c.Pool(t, fs9test.Admin)
	s := store.New(pool)
	ctx := context.Background()
	data := make([]byte, fs9.MaxFileBytes)
	rand.Read(data[:1<<20])
	for off := 1 << 20; off < len(data); off += 1 << 20 {
		copy(data[off:], data[:1<<20])
		data[off] = byte(off >> 20) // pages differ
	}
	want := sha256.Sum256(data)
	w, err := s.Create(ctx, "/big.bin", -1)
	if err != nil {
		t.Fatal(err)
	}
	for off := 0; off < len(data); off += 65536 + 17 { // odd chunks: pages assembled across them
		if err := w.Write(ctx, data[off:min(len(data), off+65536+17)]); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(w.Sum(), want[:]) {
		t.Fatal("writer checksum")
	}
	if n, err := w.Commit(ctx); err != nil || n != int64(len(data)) {
		t.Fatalf("Commit: %d %v", n, err)
	}
	if err := w.Write(ctx, []byte("x")); code(err) != fs9.EIO {
		t.Fatalf("write after commit: %v", err)
	}
	r, err := s.Open(ctx, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if n, err := io.Copy(h, r); err != nil || n != int64(len(data)) {
		t.Fatalf("read: %d %v", n, err)
	}
	r.Close()
	if !bytes.Equal(h.Sum(nil), want[:]) {
		t.Fatal("read back a different SHA-256")
	}
	if err := w.Write(ctx, make([]byte, 1)); err == nil {
		t.Fatal("write after commit accepted")
	}
	// One more byte than 100 MiB is refused.
	w2, _ := s.Create(ctx, "/too-big", -1)
	if err := w2.Write(ctx, make([]byte, fs9.MaxFileBytes+1)); code(err) != fs9.EFBIG {
		t.Fatalf("over 100 MiB: %v", err)
	}
	w2.Abort()

	// Cut off halfway: the old content stays, no page of the new one remains.
	var pagesBefore int64
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM _db9_fs.inodes`).Scan(&pagesBefore)
	if _, err := s.Write(ctx, "/small", []byte("old content"), -1); err != nil {
		t.Fatal(err)
	}
	st0, _ := readStats(ctx, pool)
	w3, err := s.Create(ctx, "/small", -1)
	if err != nil {
		t.Fatal(err)
	}
	if err := w3.Write(ctx, data[:3*store.PageSize+5]); err != nil {
		t.Fatal(err)
	}
	if b, _ := s.Read(ctx, "/small"); string(b) != "old content" {
		t.Fatalf("during the stream others see %q", b[:min(20, len(b))])
	}
	w3.Abort()
	if b, _ := s.Read(ctx, "/small"); string(b) != "old content" {
		t.Fatalf("after the cut: %q", b[:min(20, len(b))])
	}
	if st1, _ := readStats(ctx, pool); st1 != st0 {
		t.Fatalf("stats moved: %+v -> %+v", st0, st1)
	}
	var small, bigPages int64
	_ = pool.QueryRow(ctx, `SELECT count(*) FROM _db9_fs.events WHERE path = '/small'`).Scan(&small)
	if small != 1 {
		t.Fatalf("events of /small: %d (the aborted stream must add none)", small)
	}
	super := c.Conn(t, "postgres")
	_ = super.QueryRow(ctx, `SELECT count(*) FROM _db9_fs.pages p JOIN _db9_fs.inodes i ON i.id = p.inode WHERE i.name = 'small'`).Scan(&bigPages)
	if bigPages != 1 {
		t.Fatalf("pages of /small: %d", bigPages)
	}
	var orphans int64
	_ = super.QueryRow(ctx, `SELECT count(*) FROM _db9_fs.pages p WHERE NOT EXISTS (SELECT 1 FROM _db9_fs.inodes i WHERE i.id = p.inode)`).Scan(&orphans)
	if orphans != 0 {
		t.Fatalf("orphan pages: %d", orphans)
	}
}

// Concurrent writers of one file queue; the file is always one writer's
// whole content.
func TestStore_ConcurrentWritersSerialize(t *testing.T) {
	c := fs9test.Start(t)
	s := store.New(c.Pool(t, fs9test.Admin))
	ctx := context.Background()
	var wg sync.WaitGroup
	contents := [][]byte{bytes.Repeat([]byte("a"), 600<<10), bytes.Repeat([]byte("b"), 300<<10), bytes.Repeat([]byte("c"), 10)}
	for round := 0; round < 3; round++ {
		for _, d := range contents {
			wg.Add(1)
			go func(d []byte) {
				defer wg.Done()
				if _, err := s.Write(ctx, "/f", d, -1); err != nil {
					t.Error(err)
				}
			}(d)
		}
	}
	wg.Wait()
	b, err := s.Read(ctx, "/f")
	if err != nil {
		t.Fatal(err)
	}
	ok := false
	for _, d := range contents {
		ok = ok || bytes.Equal(b, d)
	}
	if !ok {
		t.Fatalf("mixed content of %d bytes", len(b))
	}
	if i, _ := s.Stat(ctx, "/f"); i.Generation != 9 {
		t.Fatalf("generation %d after 9 writes", i.Generation)
	}
}

// An open stream (a transaction held for seconds) must not make writers
// of other files wait: they would, on any row both had to update.
func TestStore_OpenStreamDoesNotBlockOthers(t *testing.T) {
	c := fs9test.Start(t)
	pool := c.Pool(t, fs9test.Admin)
	s := store.New(pool)
	ctx := context.Background()
	if _, err := s.Mkdir(ctx, "/d", false, -1); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "/d/stream", -1)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Abort()
	if err := w.Write(ctx, make([]byte, store.PageSize+1)); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	for i := 0; i < 60; i++ { // enough to fold the stats deltas several times
		if _, err := s.Write(wctx, fmt.Sprintf("/d/f%d", i), []byte("x"), -1); err != nil {
			t.Fatalf("write %d while a stream is open: %v", i, err)
		}
		if _, err := s.Remove(wctx, fmt.Sprintf("/d/f%d", i), false); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	st, _ := readStats(ctx, pool)
	if st.Files != 1 || st.LogicalBytes != store.PageSize+1 || st.Directories != 1 {
		t.Fatalf("stats: %+v", st)
	}
}

// fsStats are the database's file totals as fs9_storage_stats() reports
// them, kept up to date by every change.
type fsStats struct{ Files, Directories, LogicalBytes int64 }

func readStats(ctx context.Context, pool *pgxpool.Pool) (fsStats, error) {
	var st fsStats
	err := pool.QueryRow(ctx, `SELECT * FROM _db9_fs.stats()`).Scan(&st.Files, &st.Directories, &st.LogicalBytes)
	return st, err
}

// The session of a streamed write is lost mid-stream (the pages go through
// a pipeline of their own): the writer reports it, never hangs, and the
// file keeps its old content.
func TestStore_StreamSessionLost(t *testing.T) {
	c := fs9test.Start(t)
	pool := c.Pool(t, fs9test.Admin)
	s := store.New(pool)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := s.Write(ctx, "/f", []byte("old content"), -1); err != nil {
		t.Fatal(err)
	}
	w, err := s.Create(ctx, "/f", -1)
	if err != nil {
		t.Fatal(err)
	}
	page := make([]byte, store.PageSize)
	rand.Read(page)
	if err := w.Write(ctx, page); err != nil {
		t.Fatal(err)
	}
	super := c.Conn(t, "postgres")
	var killed bool
	if err := super.QueryRow(ctx, `SELECT bool_or(pg_terminate_backend(pid)) FROM pg_stat_activity
		WHERE usename = 'admin' AND xact_start IS NOT NULL AND backend_xid IS NOT NULL`).Scan(&killed); err != nil || !killed {
		t.Fatalf("terminate the writer's session: %v %v", killed, err)
	}
	var werr error
	for i := 0; i < 40 && werr == nil; i++ { // the loss shows on a later page or at the end
		werr = w.Write(ctx, page)
	}
	if werr == nil {
		_, werr = w.Commit(ctx)
	}
	if werr == nil {
		t.Fatal("a stream whose session was lost committed")
	}
	w.Abort()
	if b, err := s.Read(ctx, "/f"); err != nil || string(b) != "old content" {
		t.Fatalf("after the lost stream: %q %v", b, err)
	}
}
