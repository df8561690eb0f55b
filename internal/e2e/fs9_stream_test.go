package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/db9/db9/internal/fs9/wsclient"
)

// fs9's streams through a real server process: a
// 100 MiB file up and down with matching SHA-256; a client cut off in the
// middle of a stream leaves the old content and nothing else; kill -9 of
// the server in the middle of one leaves the old or the new content, whole.

// fsSHA256 reads path over ws as a stream and returns its SHA-256.
func fsSHA256(t *testing.T, ctx context.Context, ws *wsclient.Client, path string) [32]byte {
	t.Helper()
	h := sha256.New()
	if _, err := ws.ReadTo(ctx, path, h); err != nil {
		t.Fatalf("read %s: %v", path, err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// fsNoGarbage checks the storage behind the protocol over the instance's
// private socket: exactly the files of want (path → size) and their
// parent directories exist, every page belongs to one of them and they
// have exactly the pages their sizes need, the kept totals match, and no
// session of the database is left in a transaction (a stream's would hold
// the file's row lock).
func fsNoGarbage(t *testing.T, s *Server, c *Client, db string, want map[string]int64) {
	t.Helper()
	c.MustSQL(db, "select 1") // wake the instance
	sc := s.superConn(t, db)
	ctx := testCtx(t)
	waitFor(t, 30*time.Second, "no session of the database left in a transaction", func() bool {
		var n int
		err := sc.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND xact_start IS NOT NULL`).Scan(&n)
		return err == nil && n == 0
	})
	rows, err := sc.Query(ctx, `WITH RECURSIVE t AS (
			SELECT id, '' AS path, kind, size FROM _db9_fs.inodes WHERE id = 1
			UNION ALL SELECT i.id, t.path || '/' || i.name, i.kind, i.size FROM t JOIN _db9_fs.inodes i ON i.parent = t.id)
		SELECT path, kind, size, (SELECT count(*) FROM _db9_fs.pages p WHERE p.inode = t.id),
		       (SELECT coalesce(sum(octet_length(data)), 0) FROM _db9_fs.pages p WHERE p.inode = t.id)
		FROM t WHERE id <> 1 ORDER BY path`)
	if err != nil {
		t.Fatal(err)
	}
	files, dirs := 0, 0
	for rows.Next() {
		var path, kind string
		var size, pages, stored int64
		if err := rows.Scan(&path, &kind, &size, &pages, &stored); err != nil {
			t.Fatal(err)
		}
		if kind == "d" {
			dirs++
			continue
		}
		files++
		w, ok := want[path]
		if !ok {
			t.Errorf("left behind: %s (%s, %d bytes)", path, kind, size)
			continue
		}
		if size != w || stored != w || pages != (w+256<<10-1)/(256<<10) {
			t.Errorf("%s: size %d, %d pages holding %d bytes; want %d bytes in %d pages", path, size, pages, stored, w, (w+256<<10-1)/(256<<10))
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if files != len(want) {
		t.Errorf("%d files, want %d (%v)", files, len(want), want)
	}
	var orphans, inodes int
	if err := sc.QueryRow(ctx, `SELECT (SELECT count(*) FROM _db9_fs.pages p WHERE NOT EXISTS (SELECT 1 FROM _db9_fs.inodes i WHERE i.id = p.inode)),
		(SELECT count(*) FROM _db9_fs.inodes)`).Scan(&orphans, &inodes); err != nil {
		t.Fatal(err)
	}
	if orphans != 0 || inodes != 1+files+dirs {
		t.Errorf("%d orphan pages, %d inodes (want 0, and %d reachable from /)", orphans, inodes, 1+files+dirs)
	}
	var total int64
	for _, n := range want {
		total += n
	}
	st := c.MustSQL(db, "select total_files::text, total_directories::text, total_logical_bytes::text from fs9_storage_stats()")
	if got, w := fmt.Sprint(st.Rows), fmt.Sprintf("[[%d %d %d]]", len(want), dirs, total); got != w {
		t.Errorf("storage stats %s, want %s", got, w)
	}
}

// rawUpload is a streamed write on a bare WebSocket connection, so the test
// can cut the connection the way a killed client does.
type rawUpload struct {
	t  *testing.T
	ws *websocket.Conn
}

func rawDial(t *testing.T, ctx context.Context, url, user, password string) *rawUpload {
	t.Helper()
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.CloseNow() })
	r := &rawUpload{t: t, ws: ws}
	if a := r.call(ctx, map[string]any{"id": "auth", "op": "auth", "username": user, "password": password}); a["ok"] != true {
		t.Fatalf("auth: %v", a)
	}
	return r
}

func (r *rawUpload) call(ctx context.Context, req map[string]any) map[string]any {
	r.t.Helper()
	b, _ := json.Marshal(req)
	if err := r.ws.Write(ctx, websocket.MessageText, b); err != nil {
		r.t.Fatal(err)
	}
	_, b, err := r.ws.Read(ctx)
	if err != nil {
		r.t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		r.t.Fatal(err)
	}
	return m
}

// start opens a streamed write of size bytes at path and sends data (a
// part of them) without ending the stream.
func (r *rawUpload) start(ctx context.Context, path string, size int, data []byte) {
	r.t.Helper()
	a := r.call(ctx, map[string]any{"id": path, "op": "write", "path": path, "streaming": true, "size": size})
	d, _ := a["data"].(map[string]any)
	if a["ok"] != true || d["ready"] != true {
		r.t.Fatalf("streamed write of %s: %v", path, a)
	}
	frame := make([]byte, 8+1<<20)
	binary.BigEndian.PutUint64(frame, uint64(d["stream_id"].(float64)))
	for off := 0; off < len(data); off += 1 << 20 {
		n := copy(frame[8:], data[off:])
		if err := r.ws.Write(ctx, websocket.MessageBinary, frame[:8+n]); err != nil {
			r.t.Fatal(err)
		}
	}
}

func TestFS9_Stream100MiBAndCutOff(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	d := c.CreateDB("fsstream")
	ws := fsDial(t, s.fsURL(), d.ID+".admin", d.AdminPassword)
	ctx := testCtx(t)

	// 100 MiB up and down, the SHA-256 of both ends compared.
	old := randomBytes(t, 100<<20)
	if n, err := ws.WriteFile(ctx, "/big.bin", old); err != nil || n != int64(len(old)) {
		t.Fatalf("stream 100 MiB up: %d, %v", n, err)
	}
	want := sha256.Sum256(old)
	if got := fsSHA256(t, ctx, ws, "/big.bin"); got != want {
		t.Fatalf("100 MiB down: SHA-256 %x, sent %x", got, want)
	}
	if r := c.MustSQL(d.ID, "select fs9_size('/big.bin')::text"); fmt.Sprint(r.Rows) != "[[104857600]]" {
		t.Errorf("fs9_size = %v", r.Rows)
	}

	// A client killed halfway through two streams: one overwriting the
	// file, one creating a file in a new directory.
	raw := rawDial(t, ctx, s.fsURL(), d.ID+".admin", d.AdminPassword)
	next := randomBytes(t, 50<<20)
	raw.start(ctx, "/big.bin", 100<<20, next)
	raw.start(ctx, "/new/dir/fresh.bin", 100<<20, next[:20<<20])
	// Both streams' transactions have written (they hold transaction ids)
	// before the cut.
	sc := s.superConn(t, d.ID)
	waitFor(t, 30*time.Second, "both streams to have written", func() bool {
		var n int
		err := sc.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
			WHERE backend_type = 'client backend' AND pid <> pg_backend_pid() AND backend_xid IS NOT NULL`).Scan(&n)
		return err == nil && n == 2
	})
	raw.ws.CloseNow()

	fsNoGarbage(t, s, c, d.ID, map[string]int64{"/big.bin": 100 << 20})
	ws2 := fsDial(t, s.fsURL(), d.ID+".admin", d.AdminPassword)
	if got := fsSHA256(t, ctx, ws2, "/big.bin"); got != want {
		t.Fatalf("after the cut /big.bin has SHA-256 %x, not the old content's %x", got, want)
	}
	if r := c.MustSQL(d.ID, "select fs9_exists('/new'), (select count(*) from _db9_fs.events where path like '/new%')::int"); fmt.Sprint(r.Rows) != "[[false 0]]" {
		t.Errorf("after the cut: /new exists, events of it: %v", r.Rows)
	}
	// The cut stream holds no lock: the file can be written at once.
	wctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	if _, err := ws2.WriteFile(wctx, "/big.bin", []byte("small")); err != nil {
		t.Fatalf("write after the cut: %v", err)
	}
}

// gatedReader gives the first n bytes of b, then blocks until gate closes.
type gatedReader struct {
	b       []byte
	n       int
	reached chan struct{}
	gate    chan struct{}
}

func (r *gatedReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		close(r.reached)
		<-r.gate
		return 0, io.ErrUnexpectedEOF
	}
	k := copy(p[:min(len(p), r.n)], r.b)
	r.b, r.n = r.b[k:], r.n-k
	return k, nil
}

// kill -9 of the server in the middle of a streamed write: after the
// restart the file has its old content, whole; killed as the stream ends
// (the commit racing the kill), it has the old or the new content, whole.
// Either way nothing else is left behind.
func TestFS9_KillDuringStreamedWrite(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	d := c.CreateDB("fscrash")
	ws := fsDial(t, s.fsURL(), d.ID+".admin", d.AdminPassword)
	ctx := testCtx(t)
	old := randomBytes(t, 2<<20)
	if _, err := ws.WriteFile(ctx, "/big.bin", old); err != nil {
		t.Fatal(err)
	}
	next := randomBytes(t, 8<<20)
	r := &gatedReader{b: next, n: 5 << 20, reached: make(chan struct{}), gate: make(chan struct{})}
	errc := make(chan error, 1)
	go func() { _, err := ws.WriteFrom(ctx, "/big.bin", r, int64(len(next))); errc <- err }()
	<-r.reached
	time.Sleep(300 * time.Millisecond) // let the server write what it got
	s.Kill9()
	close(r.gate)
	if err := <-errc; err == nil {
		t.Fatal("the cut-off write succeeded")
	}
	s.Start()
	ws2 := fsDial(t, s.fsURL(), d.ID+".admin", d.AdminPassword)
	got, err := ws2.ReadFile(ctx, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, old) {
		t.Fatalf("after kill -9 and restart /big.bin has %d bytes, not the old %d (new would be %d)", len(got), len(old), len(next))
	}
	fsNoGarbage(t, s, c, d.ID, map[string]int64{"/big.bin": int64(len(old))})

	// Killed the moment the whole new content has been handed over: the
	// end of the stream and its commit race the kill.
	r = &gatedReader{b: next, n: len(next), reached: make(chan struct{}), gate: make(chan struct{})}
	close(r.gate) // no blocking: EOF right after the last byte
	go func() { _, err := ws2.WriteFrom(ctx, "/big.bin", r, int64(len(next))); errc <- err }()
	<-r.reached
	time.Sleep(20 * time.Millisecond) // the last chunk and the end on their way
	s.Kill9()
	<-errc
	s.Start()
	ws3 := fsDial(t, s.fsURL(), d.ID+".admin", d.AdminPassword)
	got, err = ws3.ReadFile(ctx, "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	size := int64(len(got))
	if !bytes.Equal(got, old) && !bytes.Equal(got, next) {
		t.Fatalf("after kill -9 at the end of a stream /big.bin has %d bytes, neither the old %d nor the new %d", len(got), len(old), len(next))
	}
	t.Logf("killed at the end of the stream: /big.bin has the %s content", map[bool]string{true: "new", false: "old"}[size == int64(len(next))])
	fsNoGarbage(t, s, c, d.ID, map[string]int64{"/big.bin": size})
}
