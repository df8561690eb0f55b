package wsserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/db9/db9/internal/fs9/wsserver"
)

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestAuth(t *testing.T) {
	e := newEnv(t, wsserver.Config{AuthTimeout: 300 * time.Millisecond})
	c := e.dial()
	r := c.call(map[string]any{"op": "auth", "username": "db1.admin", "password": "secret"})
	d, _ := r["data"].(map[string]any)
	if r["ok"] != true || d["user"] != "admin" || d["tenant"] != "db1" || d["keyspace"] != "db1" ||
		fmt.Sprint(d["capabilities"]) != "[watch batch_write_atomic]" {
		t.Fatalf("auth answer: %v", r)
	}
	if code := c.code(map[string]any{"op": "auth", "username": "db1.admin", "password": "secret"}); code != "EPROTO" {
		t.Fatalf("second auth: %s", code)
	}
	if d := c.ok(map[string]any{"op": "ping"}); d["pong"] != true {
		t.Fatalf("ping after second auth: %v", d)
	}
	cases := []struct {
		name string
		req  map[string]any
		want string
	}{
		{"not auth first", map[string]any{"op": "stat", "path": "/"}, "EPROTO"},
		{"bad password", map[string]any{"op": "auth", "username": "db1.admin", "password": "wrong"}, "EAUTH"},
		{"another database's credentials", map[string]any{"op": "auth", "username": "db2.admin", "password": "other"}, "EAUTH"},
		{"role without file access", map[string]any{"op": "auth", "username": "db1.bob", "password": "bob-pass"}, "EACCES"},
	}
	for _, tc := range cases {
		c := e.dial()
		if got := c.code(tc.req); got != tc.want {
			t.Errorf("%s: %s, want %s", tc.name, got, tc.want)
		}
		if !c.waitClosed(5 * time.Second) {
			t.Errorf("%s: connection left open", tc.name)
		}
	}
	c = e.dial()
	c.sendRaw([]byte("not json"))
	if r := c.next("<nil>"); errCode(r) != "EPROTO" {
		t.Errorf("garbage first frame: %v", r)
	}
	c = e.dial()
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	if r := c.next("<nil>"); errCode(r) != "EPROTO" || !c.waitClosed(5*time.Second) {
		t.Errorf("binary first frame: %v", r)
	}
	// No auth within the (test-shortened) limit: closed.
	c = e.dial()
	if !c.waitClosed(5 * time.Second) {
		t.Fatal("connection without auth not closed")
	}
	if websocket.CloseStatus(c.err) != websocket.StatusPolicyViolation {
		t.Errorf("close status: %v", c.err)
	}
}

func TestOps(t *testing.T) {
	e := newEnv(t, wsserver.Config{})
	c := e.login("db1.admin")
	if d := c.ok(map[string]any{"op": "write", "path": "/docs/a.txt", "content": b64("hello"), "encoding": "base64"}); d["written"] != 5.0 {
		t.Fatalf("write: %v", d)
	}
	info := c.ok(map[string]any{"op": "stat", "path": "/docs/a.txt"})
	if info["type"] != "file" || info["size"] != 5.0 || info["mode"] != 420.0 || info["generation"] != 1.0 ||
		info["storage"] != "inline" || info["path"] != "/docs/a.txt" || !strings.HasSuffix(info["mtime"].(string), "Z") {
		t.Fatalf("stat: %v", info)
	}
	if d := c.ok(map[string]any{"op": "read", "path": "/docs/a.txt"}); d["content"] != b64("hello") || d["size"] != 5.0 || d["encoding"] != "base64" {
		t.Fatalf("read: %v", d)
	}
	if d := c.ok(map[string]any{"op": "read", "path": "/docs/a.txt", "offset": 1, "length": 3}); d["content"] != b64("ell") {
		t.Fatalf("read range: %v", d)
	}
	c.ok(map[string]any{"op": "pwrite", "path": "/docs/a.txt", "offset": 0, "content": b64("J"), "encoding": "base64"})
	c.ok(map[string]any{"op": "append", "path": "/docs/a.txt", "content": b64("!"), "encoding": "base64"})
	c.ok(map[string]any{"op": "truncate", "path": "/docs/a.txt", "size": 5})
	if d := c.ok(map[string]any{"op": "read", "path": "/docs/a.txt"}); d["content"] != b64("Jello") {
		t.Fatalf("after pwrite/append/truncate: %v", d)
	}
	c.ok(map[string]any{"op": "mkdir", "path": "/m/n", "recursive": true, "mode": 0o700})
	if d := c.ok(map[string]any{"op": "stat", "path": "/m/n"}); d["mode"] != 448.0 {
		t.Fatalf("mkdir leaf mode: %v", d)
	}
	if d := c.ok(map[string]any{"op": "stat", "path": "/m"}); d["mode"] != 493.0 {
		t.Fatalf("mkdir parent mode: %v", d)
	}
	c.ok(map[string]any{"op": "symlink", "path": "/docs/l", "target": "/docs/a.txt"})
	if d := c.ok(map[string]any{"op": "readlink", "path": "/docs/l"}); d["target"] != "/docs/a.txt" {
		t.Fatalf("readlink: %v", d)
	}
	c.ok(map[string]any{"op": "chmod", "path": "/docs/a.txt", "mode": 0o600})
	c.ok(map[string]any{"op": "rename", "old_path": "/docs/a.txt", "new_path": "/docs/b.txt"})
	d := c.ok(map[string]any{"op": "readdir", "path": "/docs"})
	if es := d["entries"].([]any); len(es) != 2 || es[0].(map[string]any)["path"] != "/docs/b.txt" || es[0].(map[string]any)["mode"] != 384.0 {
		t.Fatalf("readdir: %v", d)
	}
	d = c.ok(map[string]any{"op": "readdir_recursive", "path": "/", "max_depth": 5, "max_entries": 100})
	if len(d["entries"].([]any)) != 5 || d["truncated"] != false || d["total_dirs_scanned"] != 4.0 {
		t.Fatalf("readdir_recursive: %v", d)
	}
	if d := c.ok(map[string]any{"op": "readdir_recursive", "path": "/", "max_entries": 2}); d["truncated"] != true {
		t.Fatalf("readdir_recursive truncated: %v", d)
	}
	d = c.ok(map[string]any{"op": "batch_write", "files": []any{
		map[string]any{"path": "/b/1", "content": b64("one")},
		map[string]any{"path": "/b/2", "content": "two", "encoding": "utf8", "mode": 0o600}}})
	if es := d["entries"].([]any); es[0].(map[string]any)["written"] != 3.0 || es[1].(map[string]any)["ok"] != true {
		t.Fatalf("batch_write: %v", d)
	}
	d = c.ok(map[string]any{"op": "batch_write_atomic", "files": []any{
		map[string]any{"path": "/c/1", "content": b64("one")}, map[string]any{"path": "/m", "content": b64("x")}}})
	if es := d["entries"].([]any); es[0].(map[string]any)["ok"] != false || es[1].(map[string]any)["error"].(map[string]any)["code"] != "EISDIR" {
		t.Fatalf("batch_write_atomic: %v", d)
	}
	if d := c.ok(map[string]any{"op": "stat", "path": "/"}); d["type"] != "dir" {
		t.Fatal(d)
	}
	if c.code(map[string]any{"op": "stat", "path": "/c/1"}) != "ENOENT" {
		t.Fatal("atomic batch wrote /c/1")
	}
	d = c.ok(map[string]any{"op": "batch_stat", "paths": []string{"/b/1", "/nope"}})
	if es := d["entries"].([]any); es[0].(map[string]any)["info"].(map[string]any)["size"] != 3.0 || es[1].(map[string]any)["ok"] != false {
		t.Fatalf("batch_stat: %v", d)
	}
	d = c.ok(map[string]any{"op": "batch_inline_read", "paths": []string{"/b/1", "/b/2"}})
	if es := d["entries"].([]any); es[1].(map[string]any)["content"] != b64("two") || es[1].(map[string]any)["size"] != 3.0 {
		t.Fatalf("batch_inline_read: %v", d)
	}
	c.ok(map[string]any{"op": "unlink", "path": "/b/1"})
	if d := c.ok(map[string]any{"op": "rm", "path": "/b", "recursive": true}); d["removed"] != 2.0 {
		t.Fatalf("rm: %v", d)
	}
}

func TestErrorCodes(t *testing.T) {
	e := newEnv(t, wsserver.Config{})
	c := e.login("db1.admin")
	c.ok(map[string]any{"op": "write", "path": "/d/f", "content": b64("x")})
	cases := []struct {
		req  map[string]any
		want string
	}{
		{map[string]any{"op": "stat", "path": "/nope"}, "ENOENT"},
		{map[string]any{"op": "read", "path": "/d"}, "EISDIR"},
		{map[string]any{"op": "unlink", "path": "/d"}, "EISDIR"},
		{map[string]any{"op": "readdir", "path": "/d/f"}, "ENOTDIR"},
		{map[string]any{"op": "mkdir", "path": "/d"}, "EEXIST"},
		{map[string]any{"op": "rm", "path": "/d"}, "ENOTEMPTY"},
		{map[string]any{"op": "stat", "path": "relative"}, "EINVAL"},
		{map[string]any{"op": "stat", "path": "/a/../b"}, "EINVAL"},
		{map[string]any{"op": "stat", "path": "/a\x00b"}, "EINVAL"},
		{map[string]any{"op": "stat", "path": ""}, "EINVAL"},
		{map[string]any{"op": "read", "path": "/d/f", "offset": 0}, "EINVAL"},
		{map[string]any{"op": "write", "path": "/d/g", "content": "%%%"}, "EINVAL"},
		{map[string]any{"op": "batch_inline_read", "paths": []string{"/d/f", "/d/f"}}, "EINVAL"},
		{map[string]any{"op": "frobnicate"}, "ENOSYS"},
		{map[string]any{"op": "watch_unsubscribe", "subscription_id": "nope"}, "ENOENT"},
	}
	for _, tc := range cases {
		if got := c.code(tc.req); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.req, got, tc.want)
		}
	}
	c.ok(map[string]any{"op": "symlink", "path": "/ln", "target": "/d/f"})
	r := c.call(map[string]any{"op": "read", "path": "/ln"})
	if errCode(r) != "EINVAL" || !strings.Contains(fmt.Sprint(r["error"]), "readlink") {
		t.Errorf("read symlink: %v", r)
	}
	// A JSON frame over 2 MiB: EFBIG, and the connection carries on.
	// The id comes first, as clients write it, so the answer can name it.
	c.sendRaw([]byte(`{"id":"big","op":"write","path":"/big","content":"` + strings.Repeat("A", 3<<20) + `"}`))
	if got := errCode(c.next("big")); got != "EFBIG" {
		t.Errorf("3 MiB frame: %s", got)
	}
	c.ok(map[string]any{"op": "ping"})
	// Read-only role: reads, EACCES on writes.
	ro := e.login("db1._db9_sys_readonly")
	if d := ro.ok(map[string]any{"op": "read", "path": "/d/f"}); d["content"] != b64("x") {
		t.Fatal(d)
	}
	for _, req := range []map[string]any{
		{"op": "write", "path": "/x", "content": b64("x")}, {"op": "mkdir", "path": "/x"}, {"op": "rm", "path": "/d/f"},
		{"op": "write", "path": "/x", "streaming": true},
	} {
		if got := ro.code(req); got != "EACCES" {
			t.Errorf("read-only %v: %s", req["op"], got)
		}
	}
	// More than 10 requests in flight: uploads stay in flight until ended.
	// (/up exists first: a stream that creates a directory holds the new
	// entry until it commits, and other creators of it wait.)
	c.ok(map[string]any{"op": "mkdir", "path": "/up"})
	var ids []string
	for i := 0; i < 10; i++ {
		id := c.send(map[string]any{"op": "write", "path": fmt.Sprintf("/up/%d", i), "streaming": true})
		if d := c.next(id)["data"].(map[string]any); d["ready"] != true {
			t.Fatalf("upload %d not ready: %v", i, d)
		}
		ids = append(ids, id)
	}
	if got := c.code(map[string]any{"op": "ping"}); got != "EAGAIN" {
		t.Errorf("11th request in flight: %s", got)
	}
	// Checksum mismatch: EIO, nothing written.
	sid := uint64(1) // stream ids are per connection: the first upload's
	_ = ids
	c.sendBinary(sid, []byte("data"))
	if got := errCode(c.call(map[string]any{"id": ids[0], "stream": "end", "stream_id": sid, "checksum": "sha256:00"})); got != "EIO" {
		t.Errorf("checksum mismatch: %s", got)
	}
	if got := c.code(map[string]any{"op": "stat", "path": "/up/0"}); got != "ENOENT" {
		t.Errorf("failed upload visible: %s", got)
	}
}

func (c *client) sendBinary(sid uint64, b []byte) {
	frame := make([]byte, 8+len(b))
	binary.BigEndian.PutUint64(frame, sid)
	copy(frame[8:], b)
	if err := c.ws.Write(context.Background(), websocket.MessageBinary, frame); err != nil {
		c.t.Fatal(err)
	}
}

// upload streams data as one file and returns the answer to the end.
func (c *client) upload(path string, data []byte, frame int, size any, checksum string) map[string]any {
	c.t.Helper()
	req := map[string]any{"op": "write", "path": path, "streaming": true}
	if size != nil {
		req["size"] = size
	}
	id := c.send(req)
	r := c.next(id)
	d, _ := r["data"].(map[string]any)
	if r["ok"] != true || d["ready"] != true || d["chunk_size"] != 65536.0 {
		c.t.Fatalf("upload start: %v", r)
	}
	sid := uint64(d["stream_id"].(float64))
	for off := 0; off < len(data); off += frame {
		c.sendBinary(sid, data[off:min(len(data), off+frame)])
	}
	end := map[string]any{"id": id, "stream": "end", "stream_id": sid}
	if checksum != "" {
		end["checksum"] = checksum
	}
	return c.call(end)
}

// download reads path as a stream and returns the bytes and the checksum.
func (c *client) download(path string) ([]byte, string) {
	c.t.Helper()
	id := c.send(map[string]any{"op": "read", "path": path, "streaming": true})
	r := c.next(id)
	d, _ := r["data"].(map[string]any)
	if r["ok"] != true || d["streaming"] != true || d["chunk_size"] != 65536.0 {
		c.t.Fatalf("download start: %v", r)
	}
	size := int(d["size"].(float64))
	sid := uint64(d["stream_id"].(float64))
	out := make([]byte, 0, size)
	for len(out) < size {
		select {
		case b := <-c.bins:
			if binary.BigEndian.Uint64(b) != sid || len(b)-8 > 65536 {
				c.t.Fatalf("chunk of stream %d, %d bytes", binary.BigEndian.Uint64(b), len(b)-8)
			}
			out = append(out, b[8:]...)
		case <-time.After(60 * time.Second):
			c.t.Fatalf("download stalled at %d of %d", len(out), size)
		}
	}
	end := c.next(id)
	ed, _ := end["data"].(map[string]any)
	if ed["stream"] != "end" || uint64(ed["stream_id"].(float64)) != sid {
		c.t.Fatalf("download end: %v", end)
	}
	return out, ed["checksum"].(string)
}

func TestStreaming_100MiB(t *testing.T) {
	e := newEnv(t, wsserver.Config{})
	c := e.login("db1.admin")
	data := make([]byte, 100<<20)
	rand.Read(data[:1<<20])
	for off := 1 << 20; off < len(data); off += 1 << 20 {
		copy(data[off:], data[:1<<20])
		data[off] = byte(off >> 20)
	}
	sum := sha256.Sum256(data)
	want := "sha256:" + hex.EncodeToString(sum[:])
	r := c.upload("/big.bin", data, 1<<20, len(data), want)
	if r["ok"] != true || r["data"].(map[string]any)["written"] != float64(len(data)) {
		t.Fatalf("upload end: %v", r)
	}
	got, checksum := c.download("/big.bin")
	if checksum != want || !bytes.Equal(got, data) {
		t.Fatalf("download: %d bytes, checksum %s", len(got), checksum)
	}
	// A file of 1 MiB or more streams even when not asked to.
	id := c.send(map[string]any{"op": "read", "path": "/big.bin"})
	if d := c.next(id)["data"].(map[string]any); d["streaming"] != true {
		t.Fatalf("large read not streamed: %v", d)
	}
	for n := 0; n < 1600; n++ {
		<-c.bins
	}
	c.next(id)
}

func TestStreaming_SizeMismatchAndCutOff(t *testing.T) {
	e := newEnv(t, wsserver.Config{})
	c := e.login("db1.admin")
	c.ok(map[string]any{"op": "write", "path": "/f", "content": b64("old content")})
	if got := errCode(c.upload("/f", []byte("new"), 2, 10, "")); got != "EINVAL" {
		t.Fatalf("size mismatch: %s", got)
	}
	// The client is killed halfway through a stream.
	c2 := e.login("db1.admin")
	id := c2.send(map[string]any{"op": "write", "path": "/f", "streaming": true, "size": 3 << 20})
	d := c2.next(id)["data"].(map[string]any)
	c2.sendBinary(uint64(d["stream_id"].(float64)), make([]byte, 1<<20+5))
	c2.ws.CloseNow()
	deadline := time.Now().Add(20 * time.Second)
	for e.backend.open.Load() != 1 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.backend.open.Load(); n != 1 {
		t.Fatalf("sessions kept awake after the cut: %d", n)
	}
	if d := c.ok(map[string]any{"op": "read", "path": "/f"}); d["content"] != b64("old content") {
		t.Fatalf("after the cut: %v", d)
	}
	var files, logical int64
	if err := e.backend.pools["admin"].QueryRow(context.Background(), `SELECT total_files, total_logical_bytes FROM _db9_fs.stats()`).Scan(&files, &logical); err != nil ||
		logical != int64(len("old content")) || files != 1 {
		t.Fatalf("stats after the cut: %d files, %d bytes, %v", files, logical, err)
	}
	var pages int
	if err := e.cluster.QueryRowInt(t, `SELECT count(*)::int FROM _db9_fs.pages`, &pages); err != nil || pages != 1 {
		t.Fatalf("pages after the cut: %d %v", pages, err)
	}
}

// The same file through SQL and WebSocket, both ways.
func TestSQLAndWebSocketSeeOneFileSystem(t *testing.T) {
	e := newEnv(t, wsserver.Config{})
	c := e.login("db1.admin")
	ctx := context.Background()
	admin := e.backend.pools["admin"]
	if _, err := admin.Exec(ctx, `SELECT fs9_write('/from-sql.txt', 'written by SQL')`); err != nil {
		t.Fatal(err)
	}
	if d := c.ok(map[string]any{"op": "read", "path": "/from-sql.txt"}); d["content"] != b64("written by SQL") {
		t.Fatalf("WebSocket read of SQL write: %v", d)
	}
	payload := []byte{0xff, 0x00, 'w', 's'}
	c.ok(map[string]any{"op": "write", "path": "/from-ws.bin", "content": base64.StdEncoding.EncodeToString(payload)})
	var got []byte
	if err := admin.QueryRow(ctx, `SELECT fs9_read_bytea('/from-ws.bin')`).Scan(&got); err != nil || !bytes.Equal(got, payload) {
		t.Fatalf("SQL read of WebSocket write: %x %v", got, err)
	}
}

func TestConnectionLimit(t *testing.T) {
	e := newEnv(t, wsserver.Config{})
	for i := 0; i < 50; i++ {
		e.login("db1.admin")
	}
	c := e.dial()
	if got := c.code(map[string]any{"op": "auth", "username": "db1.admin", "password": "secret"}); got != "EACCES" {
		t.Fatalf("51st connection: %s", got)
	}
	if !c.waitClosed(5 * time.Second) {
		t.Fatal("51st connection left open")
	}
	if n := e.backend.open.Load(); n != 50 {
		t.Fatalf("open sessions %d", n)
	}
}

func TestWatch(t *testing.T) {
	e := newEnv(t, wsserver.Config{HeartbeatInterval: 200 * time.Millisecond})
	c := e.login("db1.admin")
	w := e.login("db1._db9_sys_readonly")
	d := w.ok(map[string]any{"op": "watch_subscribe", "path": "/w"})
	sub := d["subscription_id"]
	head := d["head_seq"].(float64)
	c.ok(map[string]any{"op": "write", "path": "/elsewhere", "content": b64("x")})
	c.ok(map[string]any{"op": "write", "path": "/w/a", "content": b64("abc")})
	c.ok(map[string]any{"op": "rename", "old_path": "/w/a", "new_path": "/w/b"})
	c.ok(map[string]any{"op": "unlink", "path": "/w/b"})
	var got []string
	for len(got) < 4 {
		p := w.push(t, "watch_event")
		if p["subscription_id"] != sub {
			t.Fatalf("push for %v", p["subscription_id"])
		}
		got = append(got, fmt.Sprint(p["event_type"], " ", p["path"], " ", p["old_path"], " ", p["size"]))
	}
	want := []string{"CREATE /w 0", "CREATE /w/a 3", "RENAME /w/b /w/a 3", "DELETE /w/b 0"}
	for i := range want {
		want[i] = strings.Replace(want[i], " 0", "  0", 1)
	}
	want = []string{"CREATE /w  0", "CREATE /w/a  3", "RENAME /w/b /w/a 3", "DELETE /w/b  3"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("events %q, want %q", got, want)
	}
	if hb := w.push(t, "watch_heartbeat"); hb["subscription_id"] != sub {
		t.Fatalf("heartbeat: %v", hb)
	}
	// Resume: a new subscription from the old head replays the same events.
	w2 := e.login("db1.admin")
	w2.ok(map[string]any{"op": "watch_subscribe", "path": "/w", "since_seq": head})
	for i := 0; i < 4; i++ {
		w2.push(t, "watch_event")
	}
	w.ok(map[string]any{"op": "watch_unsubscribe", "subscription_id": sub})
	// Events older than the retention are gone: watch_gap.
	super, err := e.cluster.Conn(t, "postgres").Exec(context.Background(),
		`INSERT INTO _db9_fs.meta VALUES ('pruned_through', '1000') ON CONFLICT (key) DO UPDATE SET value = '1000'`)
	_ = super
	if err != nil {
		t.Fatal(err)
	}
	w3 := e.login("db1.admin")
	if d := w3.ok(map[string]any{"op": "watch_subscribe", "path": "/", "since_seq": 1}); d["overflow"] != true {
		t.Fatalf("subscribe past retention: %v", d)
	}
	if g := w3.push(t, "watch_gap"); g["requested_seq"] != 1.0 {
		t.Fatalf("gap: %v", g)
	}
}
