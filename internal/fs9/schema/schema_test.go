package schema_test

import (
	"bytes"
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/fs9/fs9test"
	"github.com/db9/db9/internal/fs9/schema"
	"github.com/db9/db9/internal/pgtest"
)

// sqlErr runs sql as conn and returns the error message ("" on success).
func sqlErr(t *testing.T, conn *pgx.Conn, sql string, args ...any) string {
	t.Helper()
	_, err := conn.Exec(context.Background(), sql, args...)
	if err == nil {
		return ""
	}
	if pe, ok := err.(*pgconn.PgError); ok {
		return pe.Message
	}
	return err.Error()
}

func one[T any](t *testing.T, conn *pgx.Conn, sql string, args ...any) T {
	t.Helper()
	var v T
	if err := conn.QueryRow(context.Background(), sql, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	return v
}

func TestInstall_IdempotentAndVersioned(t *testing.T) {
	c := fs9test.Start(t)
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	res := conn.ExecParams(ctx, `SELECT value FROM _db9_fs.meta WHERE key = 'version'`, nil, nil, nil, nil).Read()
	err = res.Err
	v := ""
	if err == nil && len(res.Rows) == 1 {
		v = string(res.Rows[0][0])
	}
	// The script records its own version (release and hash of its text).
	want := regexp.MustCompile(`'version', '([^']+)'`).FindStringSubmatch(schema.InstallSQL())
	if err != nil || want == nil || v != want[1] {
		t.Fatalf("installed version %q, %v; want the script's %v", v, err, want)
	}
	admin := c.Conn(t, fs9test.Admin)
	one[int64](t, admin, `SELECT fs9_write('/keep.txt', 'kept')`)
	// The whole script again (as on an upgrade): nothing lost, nothing doubled.
	if _, err := conn.Exec(ctx, schema.InstallSQL()).ReadAll(); err != nil {
		t.Fatal(err)
	}
	if got := one[string](t, admin, `SELECT fs9_read('/keep.txt')`); got != "kept" {
		t.Fatalf("after reinstall: %q", got)
	}
	if n := one[int64](t, admin, `SELECT total_files FROM fs9_storage_stats()`); n != 1 {
		t.Fatalf("files after reinstall = %d", n)
	}
	if msg := sqlErr(t, admin, `CREATE EXTENSION IF NOT EXISTS fs9`); msg != "" {
		t.Fatalf("CREATE EXTENSION IF NOT EXISTS fs9: %s", msg)
	}
	if msg := sqlErr(t, admin, `DROP EXTENSION fs9`); !strings.Contains(msg, "must be owner") {
		t.Fatalf("DROP EXTENSION fs9 by admin: %q", msg)
	}
}

func TestSQL_Functions(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)

	if n := one[int64](t, a, `SELECT fs9_write('/docs/a.txt', E'hello\nworld\n')`); n != 12 {
		t.Fatalf("fs9_write = %d", n)
	}
	if s := one[string](t, a, `SELECT fs9_read('/docs/a.txt')`); s != "hello\nworld\n" {
		t.Fatalf("fs9_read = %q", s)
	}
	if b := one[[]byte](t, a, `SELECT fs9_read_bytea('/docs/a.txt')`); string(b) != "hello\nworld\n" {
		t.Fatalf("fs9_read_bytea = %q", b)
	}
	if v := one[*string](t, a, `SELECT fs9_read(NULL)`); v != nil {
		t.Fatalf("fs9_read(NULL) = %v", *v)
	}
	if v := one[[]byte](t, a, `SELECT fs9_read_bytea(NULL)`); v != nil {
		t.Fatalf("fs9_read_bytea(NULL) = %v", v)
	}
	if n := one[int64](t, a, `SELECT fs9_append('/docs/a.txt', 'more')`); n != 4 {
		t.Fatalf("fs9_append = %d", n)
	}
	if n := one[int64](t, a, `SELECT fs9_append('/docs/new.bin', '\x0102'::bytea)`); n != 2 {
		t.Fatalf("fs9_append creating = %d", n)
	}
	if s := one[string](t, a, `SELECT fs9_read_at('/docs/a.txt', 6, 5)`); s != "world" {
		t.Fatalf("fs9_read_at = %q", s)
	}
	if b := one[[]byte](t, a, `SELECT fs9_read_at_bytea('/docs/a.txt', 12, 100)`); string(b) != "more" {
		t.Fatalf("fs9_read_at_bytea = %q", b)
	}
	if b := one[[]byte](t, a, `SELECT fs9_read_at_bytea('/docs/a.txt', 1000, 10)`); len(b) != 0 {
		t.Fatalf("read past the end = %q", b)
	}
	if n := one[int64](t, a, `SELECT fs9_write_at('/g.bin', 3, '\x4142'::bytea)`); n != 2 {
		t.Fatalf("fs9_write_at = %d", n)
	}
	if b := one[[]byte](t, a, `SELECT fs9_read_bytea('/g.bin')`); !bytes.Equal(b, []byte{0, 0, 0, 'A', 'B'}) {
		t.Fatalf("gap = %x", b)
	}
	one[int64](t, a, `SELECT fs9_write_at('/g.bin', 1, 'z')`)
	if b := one[[]byte](t, a, `SELECT fs9_read_bytea('/g.bin')`); !bytes.Equal(b, []byte{0, 'z', 0, 'A', 'B'}) {
		t.Fatalf("overwrite in place = %x", b)
	}
	if !one[bool](t, a, `SELECT fs9_truncate('/g.bin', 2)`) {
		t.Fatal("fs9_truncate false")
	}
	one[bool](t, a, `SELECT fs9_truncate('/g.bin', 4)`)
	if b := one[[]byte](t, a, `SELECT fs9_read_bytea('/g.bin')`); !bytes.Equal(b, []byte{0, 'z', 0, 0}) {
		t.Fatalf("truncate then grow = %x (old bytes must not come back)", b)
	}
	if !one[bool](t, a, `SELECT fs9_exists('/docs')`) || one[bool](t, a, `SELECT fs9_exists('/nope')`) ||
		one[bool](t, a, `SELECT fs9_exists('/docs/a.txt/below')`) {
		t.Fatal("fs9_exists wrong")
	}
	if n := one[int64](t, a, `SELECT fs9_size('/docs/a.txt')`); n != 16 {
		t.Fatalf("fs9_size = %d", n)
	}
	if m := one[string](t, a, `SELECT fs9_mtime('/docs/a.txt')`); len(m) != 20 || !strings.HasSuffix(m, "Z") {
		t.Fatalf("fs9_mtime = %q", m)
	}
	if !one[bool](t, a, `SELECT fs9_mkdir('/d1')`) || !one[bool](t, a, `SELECT fs9_mkdir('/d2/x/y', true)`) ||
		one[bool](t, a, `SELECT fs9_mkdir('/d2/x/y', true)`) {
		t.Fatal("fs9_mkdir results")
	}
	one[int64](t, a, `SELECT fs9_write('/d2/x/y/f', 'f')`)
	if n := one[int64](t, a, `SELECT fs9_remove('/d2', true)`); n != 4 {
		t.Fatalf("fs9_remove recursive = %d, want 4 (d2, x, y, f)", n)
	}
	if n := one[int64](t, a, `SELECT fs9_remove('/d1')`); n != 1 {
		t.Fatalf("fs9_remove = %d", n)
	}
	// Overwriting keeps the mode; generation moves.
	gen1 := one[int64](t, a, `SELECT generation FROM _db9_fs.stat('/docs/a.txt')`)
	one[int64](t, a, `SELECT fs9_write('/docs/a.txt', 'x')`)
	if gen2 := one[int64](t, a, `SELECT generation FROM _db9_fs.stat('/docs/a.txt')`); gen2 <= gen1 {
		t.Fatalf("generation %d -> %d", gen1, gen2)
	}
	// Invalid UTF-8 and NUL are replaced by text readers, kept by byte readers.
	one[int64](t, a, `SELECT fs9_write('/bin', '\x41ff00e282ac42'::bytea)`)
	if s := one[string](t, a, `SELECT fs9_read('/bin')`); s != "A\uFFFD\uFFFD€B" {
		t.Fatalf("text of invalid UTF-8 = %q", s)
	}
	if b := one[[]byte](t, a, `SELECT fs9_read_bytea('/bin')`); !bytes.Equal(b, []byte{0x41, 0xff, 0, 0xe2, 0x82, 0xac, 0x42}) {
		t.Fatalf("bytes = %x", b)
	}
	var files, dirs, bytesN int64
	if err := a.QueryRow(context.Background(), `SELECT * FROM fs9_storage_stats()`).Scan(&files, &dirs, &bytesN); err != nil {
		t.Fatal(err)
	}
	sum := one[int64](t, a, `SELECT sum(size)::bigint FROM _db9_fs.inodes WHERE kind = 'f'`)
	nf := one[int64](t, a, `SELECT count(*) FROM _db9_fs.inodes WHERE kind <> 'd'`)
	nd := one[int64](t, a, `SELECT count(*) FROM _db9_fs.inodes WHERE kind = 'd' AND id <> 1`)
	if files != nf || dirs != nd || bytesN != sum {
		t.Fatalf("stats (%d,%d,%d), actual (%d,%d,%d)", files, dirs, bytesN, nf, nd, sum)
	}
}

func TestSQL_Errors(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	one[int64](t, a, `SELECT fs9_write('/dir/f.txt', 'x')`)
	one[int64](t, a, `SELECT fs9_write('/big', 'x')`)
	cases := []struct{ sql, want string }{
		{`SELECT fs9_read('/missing')`, "ENOENT: /missing"},
		{`SELECT fs9_read('relative')`, "EINVAL: path must be absolute: relative"},
		{`SELECT fs9_read('')`, "EINVAL: path is empty"},
		{`SELECT fs9_read('/a/../b')`, `EINVAL: path must not contain "..": /a/../b`},
		{`SELECT fs9_read('/dir')`, "EISDIR: /dir"},
		{`SELECT fs9_read('/dir/f.txt/x')`, "ENOTDIR: /dir/f.txt"},
		{`SELECT fs9_mkdir('/dir')`, "EEXIST: /dir"},
		{`SELECT fs9_mkdir('/dir/f.txt', true)`, "EEXIST: /dir/f.txt"},
		{`SELECT fs9_mkdir('/no/such', false)`, "ENOENT: /no"},
		{`SELECT fs9_remove('/dir')`, "ENOTEMPTY: /dir"},
		{`SELECT fs9_remove('/')`, "EINVAL: cannot remove /"},
		{`SELECT fs9_write('/dir', 'x')`, "EISDIR: /dir"},
		{`SELECT fs9_truncate('/missing', 1)`, "ENOENT: /missing"},
		{`SELECT fs9_truncate('/big', -1)`, "EINVAL: size must be >= 0"},
		{`SELECT fs9_write_at('/big', -1, 'x')`, "EINVAL: negative offset"},
		{`SELECT fs9_write('/big', pg_catalog.repeat('x', 10485761))`, "EFBIG: /big: more than 10 MiB in one call; stream it"},
		{`SELECT fs9_read_at('/big', 0, 10485761)`, ""}, // clamped to the size: fine
		{`SELECT fs9_size('/missing')`, "ENOENT: /missing"},
		{`SELECT * FROM fs9('/dir/f.txt', format => 'xml')`, "EINVAL: format must be text, jsonl, csv or tsv: xml"},
		{`SELECT _db9_fs.symlink('/dir/f.txt', 't')`, "EEXIST: /dir/f.txt"},
	}
	for _, tc := range cases {
		if got := sqlErr(t, a, tc.sql); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.sql, got, tc.want)
		}
	}
	one[bool](t, a, `SELECT _db9_fs.symlink('/ln', '/dir/f.txt') IS NULL`)
	if got := sqlErr(t, a, `SELECT fs9_read('/ln')`); got != "EINVAL: /ln is a symlink; use readlink" {
		t.Errorf("read symlink: %q", got)
	}
	if got := sqlErr(t, a, `SELECT fs9_write('/ln', 'x')`); got != "EINVAL: /ln is a symlink; use readlink" {
		t.Errorf("write symlink: %q", got)
	}
	// Writing a file of 10 MiB is the limit, not past it.
	if got := sqlErr(t, a, `SELECT fs9_write('/big', pg_catalog.repeat('x', 10485760))`); got != "" {
		t.Errorf("10 MiB write: %q", got)
	}
	if got := sqlErr(t, a, `SELECT fs9_write_at('/big', 104857600, 'x')`); got != "EFBIG: /big: files are limited to 100 MiB" {
		t.Errorf("past 100 MiB: %q", got)
	}
}

func TestSQL_Access(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	one[int64](t, a, `SELECT fs9_write('/r.txt', 'readable')`)
	ro := c.Conn(t, fs9test.ReadOnly)
	if s := one[string](t, ro, `SELECT fs9_read('/r.txt')`); s != "readable" {
		t.Fatalf("read-only role reads %q", s)
	}
	for _, sql := range []string{
		`SELECT fs9_write('/x', 'y')`, `SELECT fs9_append('/r.txt', 'y')`, `SELECT fs9_mkdir('/d')`,
		`SELECT fs9_remove('/r.txt')`, `SELECT fs9_truncate('/r.txt', 0)`, `SELECT fs9_write_at('/r.txt', 0, 'y')`,
	} {
		if got := sqlErr(t, ro, sql); !strings.HasPrefix(got, "EACCES: ") {
			t.Errorf("read-only %s: %q", sql, got)
		}
	}
	// Going around the SQL functions is refused by PostgreSQL itself.
	if got := sqlErr(t, ro, `SELECT _db9_fs.write('/x', 'y', NULL)`); !strings.Contains(got, "permission denied") {
		t.Errorf("read-only direct write: %q", got)
	}
	bob := c.Conn(t, fs9test.Other)
	for _, sql := range []string{`SELECT fs9_read('/r.txt')`, `SELECT fs9_write('/x', 'y')`, `SELECT * FROM fs9('/')`,
		`SELECT * FROM fs9_storage_stats()`, `SELECT fs9_exists('/r.txt')`} {
		if got := sqlErr(t, bob, sql); !strings.HasPrefix(got, "EACCES: ") {
			t.Errorf("other role %s: %q", sql, got)
		}
	}
	for _, sql := range []string{`SELECT _db9_fs.read('/r.txt', NULL, NULL)`, `SELECT * FROM _db9_fs.inodes`} {
		if got := sqlErr(t, bob, sql); !strings.Contains(got, "permission denied") {
			t.Errorf("other role %s: %q", sql, got)
		}
	}
	// The tenant cannot touch the tables behind the functions' back.
	for _, sql := range []string{
		`INSERT INTO _db9_fs.inodes (parent, name, kind, mode) VALUES (1, 'x', 'f', 0)`,
		`UPDATE _db9_fs.inodes SET size = 0`, `DELETE FROM _db9_fs.pages`, `UPDATE _db9_fs.stats SET bytes = 0`,
		`DELETE FROM _db9_fs.events`, `DROP TABLE _db9_fs.pages`, `CREATE TABLE _db9_fs.x (a int)`,
		`SELECT _db9_fs.put_range(2, 0, 'x', 0)`, `SELECT _db9_fs.bump(1, 1, 1)`,
	} {
		if got := sqlErr(t, a, sql); got == "" {
			t.Errorf("admin could run %s", sql)
		}
	}
	// stream_append only continues a stream this transaction opened.
	ino := one[int64](t, a, `SELECT id FROM _db9_fs.inodes WHERE name = 'r.txt'`)
	if got := sqlErr(t, a, `SELECT _db9_fs.stream_append($1, 'x')`, ino); !strings.HasPrefix(got, "EINVAL: no streaming write open") {
		t.Errorf("stream_append without stream_open: %q", got)
	}
	// A SECURITY DEFINER function owned by admin offers files to others.
	if got := sqlErr(t, a, `CREATE FUNCTION public.read_r() RETURNS text LANGUAGE sql SECURITY DEFINER
		SET search_path = public, extensions AS $$ SELECT fs9_read('/r.txt') $$`); got != "" {
		t.Fatal(got)
	}
	if s := one[string](t, bob, `SELECT public.read_r()`); s != "readable" {
		t.Fatalf("through admin's definer function: %q", s)
	}
}

func TestSQL_TableFunction(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	ctx := context.Background()
	one[int64](t, a, `SELECT fs9_write('/data/t.txt', E'one\ntwo\r\nthree')`)
	one[int64](t, a, `SELECT fs9_write('/data/e.jsonl', E'{"a":1}\n\n{"a":[2]}\n')`)
	one[int64](t, a, `SELECT fs9_write('/data/p.csv', E'name,note\nbob,"say ""hi"", ok"\n"multi\nline",x\n')`)
	one[int64](t, a, `SELECT fs9_write('/data/sub/q.csv', E'1,2\n3,4\n')`)
	one[int64](t, a, `SELECT fs9_write('/data/s.tsv', E'k\tv\na\tb\n')`)

	type line struct {
		N    int64
		Line string
	}
	rows, _ := a.Query(ctx, `SELECT _line_number, line FROM fs9('/data/t.txt')`)
	got, err := pgx.CollectRows(rows, pgx.RowToStructByPos[line])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]line{{1, "one"}, {2, "two"}, {3, "three"}}, got); d != "" {
		t.Errorf("text (-want +got):\n%s", d)
	}
	jsonRows := func(sql string) []string {
		t.Helper()
		rows, _ := a.Query(ctx, sql)
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var n int64
			var d json.RawMessage
			var p string
			err := r.Scan(&n, &d, &p)
			return strings.Join([]string{string(rune('0' + n)), string(d), p}, " "), err
		})
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}
	if d := cmp.Diff([]string{`1 {"a": 1} /data/e.jsonl`, `3 {"a": [2]} /data/e.jsonl`},
		jsonRows(`SELECT _line_number, data, _path FROM fs9('/data/e.jsonl')`)); d != "" {
		t.Errorf("jsonl (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{`2 {"name": "bob", "note": "say \"hi\", ok"} /data/p.csv`, `3 {"name": "multi\nline", "note": "x"} /data/p.csv`},
		jsonRows(`SELECT _line_number, data, _path FROM fs9('/data/p.csv')`)); d != "" {
		t.Errorf("csv (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{`1 {"c1": "1", "c2": "2"} /data/sub/q.csv`, `2 {"c1": "3", "c2": "4"} /data/sub/q.csv`},
		jsonRows(`SELECT _line_number, data, _path FROM fs9('/data/sub/q.csv', header => false)`)); d != "" {
		t.Errorf("csv without header (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{`2 {"k": "a", "v": "b"} /data/s.tsv`},
		jsonRows(`SELECT _line_number, data, _path FROM fs9('/data/s.tsv')`)); d != "" {
		t.Errorf("tsv (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{`2 {"k\tv": "a\tb"} /data/s.tsv`},
		jsonRows(`SELECT _line_number, data, _path FROM fs9('/data/s.tsv', format => 'csv', delimiter => ';')`)); d != "" {
		t.Errorf("delimiter (-want +got):\n%s", d)
	}
	// Globs read every match, with _path.
	rows, _ = a.Query(ctx, `SELECT DISTINCT _path FROM fs9('/data/**/*.csv') ORDER BY 1`)
	paths, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"/data/p.csv", "/data/sub/q.csv"}, paths); d != "" {
		t.Errorf("glob (-want +got):\n%s", d)
	}
	rows, _ = a.Query(ctx, `SELECT DISTINCT _path FROM fs9('/data/*.csv') ORDER BY 1`)
	if paths, _ = pgx.CollectRows(rows, pgx.RowTo[string]); !cmp.Equal(paths, []string{"/data/p.csv"}) {
		t.Errorf("single-level glob: %v", paths)
	}
	// Listings.
	list := func(sql string) []string {
		rows, _ := a.Query(ctx, sql)
		out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (string, error) {
			var p, ty, mt string
			var size int64
			var mode int32
			err := r.Scan(&p, &ty, &size, &mode, &mt)
			return p + " " + ty, err
		})
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return out
	}
	if d := cmp.Diff([]string{"/data/e.jsonl file", "/data/p.csv file", "/data/s.tsv file", "/data/sub dir", "/data/t.txt file"},
		list(`SELECT path, type, size, mode, mtime FROM fs9('/data/')`)); d != "" {
		t.Errorf("listing (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"/data dir", "/data/e.jsonl file", "/data/p.csv file", "/data/s.tsv file", "/data/sub dir", "/data/sub/q.csv file", "/data/t.txt file"},
		list(`SELECT path, type, size, mode, mtime FROM fs9('/', recursive => true) ORDER BY path`)); d != "" {
		t.Errorf("recursive listing (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"/data/sub dir"},
		list(`SELECT path, type, size, mode, mtime FROM fs9('/data/', exclude => '*.*')`)); d != "" {
		t.Errorf("exclude (-want +got):\n%s", d)
	}
	if got := sqlErr(t, a, `SELECT * FROM fs9('/data/e.jsonl', format => 'jsonl') WHERE false`); got != "" {
		t.Error(got)
	}
	one[int64](t, a, `SELECT fs9_write('/bad.jsonl', E'{"a":1}\nnot json\n')`)
	if got := sqlErr(t, a, `SELECT * FROM fs9('/bad.jsonl')`); got != "EINVAL: /bad.jsonl:2: invalid JSON" {
		t.Errorf("bad jsonl: %q", got)
	}
}

func TestSQL_Rename_Symlink_Chmod_Events(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	one[int64](t, a, `SELECT fs9_write('/a/f', 'content')`)
	one[bool](t, a, `SELECT _db9_fs.rename('/a', '/b/c') IS NULL`)
	if s := one[string](t, a, `SELECT fs9_read('/b/c/f')`); s != "content" {
		t.Fatalf("after directory rename: %q", s)
	}
	if got := sqlErr(t, a, `SELECT _db9_fs.rename('/b', '/b/c/d')`); got != "EINVAL: cannot move /b into itself" {
		t.Errorf("rename into itself: %q", got)
	}
	one[int64](t, a, `SELECT fs9_write('/other', 'o')`)
	one[bool](t, a, `SELECT _db9_fs.rename('/other', '/b/c/f') IS NULL`) // replaces a file
	if s := one[string](t, a, `SELECT fs9_read('/b/c/f')`); s != "o" {
		t.Fatalf("rename over a file: %q", s)
	}
	if got := sqlErr(t, a, `SELECT _db9_fs.rename('/b/c/f', '/b')`); got != "EISDIR: /b" {
		t.Errorf("file over a dir: %q", got)
	}
	one[bool](t, a, `SELECT _db9_fs.symlink('/l', '../rel/target') IS NULL`)
	if s := one[string](t, a, `SELECT _db9_fs.readlink('/l')`); s != "../rel/target" {
		t.Fatalf("readlink = %q", s)
	}
	if got := sqlErr(t, a, `SELECT _db9_fs.readlink('/b')`); got != "EINVAL: /b is not a symlink" {
		t.Errorf("readlink dir: %q", got)
	}
	one[bool](t, a, `SELECT _db9_fs.chmod('/b/c/f', 33261) IS NULL`) // 0o100755: file type bits dropped
	if m := one[int32](t, a, `SELECT mode FROM _db9_fs.stat('/b/c/f')`); m != 0o755 {
		t.Fatalf("mode = %o", m)
	}
	rows, _ := a.Query(context.Background(), `SELECT event_type || ' ' || path || coalesce(' <- ' || old_path, '') FROM _db9_fs.events ORDER BY seq`)
	evs, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"CREATE /a", "CREATE /a/f", "CREATE /b", "RENAME /b/c <- /a", "CREATE /other", "RENAME /b/c/f <- /other",
		"CREATE /l", "MODIFY /b/c/f"}
	if d := cmp.Diff(want, evs); d != "" {
		t.Errorf("events (-want +got):\n%s", d)
	}
}
