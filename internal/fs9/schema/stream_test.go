package schema_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/db9/db9/internal/fs9/fs9test"
)

// The streamed-write entry points keep size and totals right whatever the
// tenant calls them with: stream_page only inserts pages, so a transaction
// that opened a stream must close it (which sets size and totals from the
// pages) or it does not commit.
func TestSQL_StreamPages(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	ctx := context.Background()
	one[int64](t, a, `SELECT fs9_write('/s/f.bin', 'old content')`)
	bytesNow := func() int64 { return one[int64](t, a, `SELECT total_logical_bytes FROM fs9_storage_stats()`) }
	before := bytesNow()
	ino := one[int64](t, a, `SELECT id FROM _db9_fs.inodes WHERE name = 'f.bin'`)

	if got := sqlErr(t, a, `SELECT _db9_fs.stream_page($1, 0, 'x')`, ino); !strings.HasPrefix(got, "EINVAL: no streaming write open") {
		t.Errorf("stream_page without stream_open: %q", got)
	}

	// Opened, pages added, not closed: the commit is refused, nothing changed.
	tx, err := a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT _db9_fs.stream_open('/s/f.bin', NULL)`); err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(ctx, `SELECT _db9_fs.stream_page($1, 0, $2)`, ino, bytes.Repeat([]byte("a"), 262144)); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(ctx); err == nil || !strings.Contains(err.Error(), "EINVAL: streamed write not closed before commit") {
		t.Fatalf("commit of an unclosed stream: %v", err)
	}
	if s := one[string](t, a, `SELECT fs9_read('/s/f.bin')`); s != "old content" || bytesNow() != before {
		t.Fatalf("after the refused commit: %q, %d bytes (want %d)", s, bytesNow(), before)
	}

	// Bad pages are refused; a closed stream commits with the size where
	// its last page ends (a missing page reads as NUL bytes).
	tx, err = a.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT _db9_fs.stream_open('/s/f.bin', NULL)`); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []struct {
		sql, want string
		args      []any
	}{
		{`SELECT _db9_fs.stream_page($1, 0, $2)`, "EINVAL: a page is at most", []any{ino, make([]byte, 262145)}},
		{`SELECT _db9_fs.stream_page($1, -1, 'x')`, "EINVAL: a page is at most", []any{ino}},
		{`SELECT _db9_fs.stream_page($1, 400, 'x')`, "EFBIG: files are limited to 100 MiB", []any{ino}},
	} {
		if _, err := tx.Exec(ctx, `SAVEPOINT p`); err != nil {
			t.Fatal(err)
		}
		_, err := tx.Exec(ctx, bad.sql, bad.args...)
		if err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%s: %v, want %s", bad.sql, err, bad.want)
		}
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT p`); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := tx.Exec(ctx, `SELECT _db9_fs.stream_page($1, 0, $2), _db9_fs.stream_page($1, 2, 'tail')`, ino, bytes.Repeat([]byte("a"), 262144)); err != nil {
		t.Fatal(err)
	}
	var n int64
	if err := tx.QueryRow(ctx, `SELECT _db9_fs.stream_close('/s/f.bin', $1, false)`, ino).Scan(&n); err != nil || n != 2*262144+4 {
		t.Fatalf("stream_close: %d %v", n, err)
	}
	if err := tx.Commit(ctx); err != nil {
		t.Fatal(err)
	}
	want := 2*262144 + 4
	if got := one[int64](t, a, `SELECT fs9_size('/s/f.bin')`); got != int64(want) {
		t.Fatalf("size %d, want %d", got, want)
	}
	if got := bytesNow(); got != before-int64(len("old content"))+int64(want) {
		t.Fatalf("total_logical_bytes %d, want %d", got, before-int64(len("old content"))+int64(want))
	}
	b := one[[]byte](t, a, `SELECT fs9_read_bytea('/s/f.bin')`)
	if len(b) != want || b[262144] != 0 || string(b[2*262144:]) != "tail" || b[0] != 'a' {
		t.Fatalf("content: %d bytes", len(b))
	}
	if g := one[int64](t, a, `SELECT generation FROM _db9_fs.inodes WHERE id = $1`, ino); g != 2 {
		t.Fatalf("generation %d, want 2 (one committed change)", g)
	}
}
