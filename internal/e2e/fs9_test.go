package e2e

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"testing"
	"time"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/wsclient"
)

// fs9 through a real server process (FS9.md): who may connect,
// SQL and WebSocket seeing the same files, waking, branches, crashes.

type fsConnect struct {
	WSURL     string    `json:"ws_url"`
	Username  string    `json:"username"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

func (s *Server) fsURL() string { return "ws://" + s.FS9Addr + "/" }

func fsDial(t *testing.T, url, user, password string) *wsclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, url, user, password)
	if err != nil {
		t.Fatalf("fs9 auth as %s at %s: %v", user, url, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func fsDialErr(t *testing.T, url, user, password string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := wsclient.Dial(ctx, url, user, password)
	if err == nil {
		c.Close()
		return errors.New("auth succeeded")
	}
	return err
}

func wantCode(t *testing.T, what string, err error, code fs9.Code) {
	t.Helper()
	if !wsclient.IsCode(err, code) {
		t.Errorf("%s: %v, want %s", what, err, code)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

func TestFS9_AuthAndSQL(t *testing.T) {
	s := StartServer(t, "--idle-timeout", "2s")
	c := s.Anonymous()
	a, b := c.CreateDB("fsa"), c.CreateDB("fsb")
	var cred struct {
		AdminPassword string `json:"admin_password"`
	}
	c.MustDo("GET", "/customer/databases/"+a.ID+"/credentials", nil, 200, &cred)

	// DB9's SDK: the admin password from /credentials, port 5480's
	// listener, path /.
	ws := fsDial(t, s.fsURL(), a.ID+".admin", cred.AdminPassword)
	if ws.Info.User != "admin" || ws.Info.Tenant != a.ID {
		t.Errorf("auth answered %+v", ws.Info)
	}
	ctx := testCtx(t)
	if _, err := ws.WriteFile(ctx, "/docs/hello.txt", []byte("hello from ws\n")); err != nil {
		t.Fatal(err)
	}
	// Written through WebSocket, read through SQL (fs9_read on the
	// default search path), and the reverse, bytes included.
	r := c.MustSQL(a.ID, "select fs9_read('/docs/hello.txt')")
	if got := r.Rows[0][0]; got != "hello from ws\n" {
		t.Errorf("fs9_read of a file written by ws = %q", got)
	}
	c.MustSQL(a.ID, `select fs9_write('/sql/bin', decode('00ff10806162', 'hex'))`)
	got, err := ws.ReadFile(ctx, "/sql/bin")
	if err != nil || hex.EncodeToString(got) != "00ff10806162" {
		t.Errorf("ws read of a file written by SQL = %x, %v", got, err)
	}
	if st, err := ws.Stat(ctx, "/sql/bin"); err != nil || st.Size != 6 || st.Type != "file" {
		t.Errorf("stat = %+v, %v", st, err)
	}

	// The database's name works as well as its id; /fs9 on the HTTP server too.
	fsDial(t, s.fsURL(), "fsa.admin", cred.AdminPassword)
	hs := fsDial(t, "ws://"+s.Addr+"/fs9", a.ID+".admin", cred.AdminPassword)
	if b, err := hs.ReadFile(ctx, "/docs/hello.txt"); err != nil || string(b) != "hello from ws\n" {
		t.Errorf("read through /fs9 = %q, %v", b, err)
	}

	// Another database's credentials: EAUTH.
	wantCode(t, "b's password for a", fsDialErr(t, s.fsURL(), a.ID+".admin", b.AdminPassword), fs9.EAUTH)
	wantCode(t, "wrong password", fsDialErr(t, s.fsURL(), a.ID+".admin", "nope"), fs9.EAUTH)
	wantCode(t, "unknown database", fsDialErr(t, s.fsURL(), "zzzzzzzzzzzz.admin", "nope"), fs9.EAUTH)
	var fb fsConnect
	c.MustDo("POST", "/customer/databases/"+b.ID+"/fs-connect", map[string]any{}, 200, &fb)
	wantCode(t, "b's fs-connect token for a", fsDialErr(t, s.fsURL(), a.ID+".admin", fb.Token), fs9.EAUTH)
	wantCode(t, "platform role", fsDialErr(t, s.fsURL(), a.ID+"._db9_super", cred.AdminPassword), fs9.EACCES)

	// fs-connect: a connect token for the URL it names.
	var fc fsConnect
	c.MustDo("POST", "/customer/databases/"+a.ID+"/fs-connect", nil, 200, &fc)
	if fc.WSURL != s.fsURL() || fc.Username != a.ID+".admin" || time.Until(fc.ExpiresAt) < time.Minute {
		t.Errorf("fs-connect = %+v, want ws_url %s", fc, s.fsURL())
	}
	tw := fsDial(t, fc.WSURL, fc.Username, fc.Token)
	if b, err := tw.ReadFile(ctx, "/docs/hello.txt"); err != nil || string(b) != "hello from ws\n" {
		t.Errorf("read with a connect token = %q, %v", b, err)
	}
	// A connect key.
	var key struct {
		ConnectKey string `json:"connect_key"`
	}
	c.MustDo("POST", "/customer/databases/"+a.ID+"/connect-keys", map[string]any{"name": "fs"}, 201, &key)
	kw := fsDial(t, s.fsURL(), a.ID+".admin", key.ConnectKey)
	if _, err := kw.WriteFile(ctx, "/by-key", []byte("k")); err != nil {
		t.Errorf("write with a connect key: %v", err)
	}
	wantCode(t, "a's key for b", fsDialErr(t, s.fsURL(), b.ID+".admin", key.ConnectKey), fs9.EAUTH)

	// An ro token gets the read-only role: reads, EACCES on writes.
	ro := c.as(c.newToken("fs-ro", scopeOf("ro", a.ID)).Token)
	code, body := ro.Do("POST", "/customer/databases/"+a.ID+"/fs-connect", map[string]any{"role": "admin"})
	if code != 403 {
		t.Errorf("ro token asking for admin: %d %s, want 403", code, body)
	}
	var rc fsConnect
	ro.MustDo("POST", "/customer/databases/"+a.ID+"/fs-connect", map[string]any{}, 200, &rc)
	if rc.Username != a.ID+"._db9_sys_readonly" {
		t.Errorf("ro fs-connect username %q", rc.Username)
	}
	rw := fsDial(t, rc.WSURL, rc.Username, rc.Token)
	if b, err := rw.ReadFile(ctx, "/docs/hello.txt"); err != nil || string(b) != "hello from ws\n" {
		t.Errorf("ro read = %q, %v", b, err)
	}
	_, err = rw.WriteFile(ctx, "/docs/hello.txt", []byte("overwritten"))
	wantCode(t, "ro write", err, fs9.EACCES)
	wantCode(t, "ro mkdir", rw.Mkdir(ctx, "/ro-dir", true), fs9.EACCES)
	_, err = rw.Remove(ctx, "/docs", true)
	wantCode(t, "ro rm", err, fs9.EACCES)
	// The read-only role logs in with an fs-connect token only.
	wantCode(t, "read-only role by password", fsDialErr(t, s.fsURL(), a.ID+"._db9_sys_readonly", cred.AdminPassword), fs9.EAUTH)
	// Other roles: EACCES.
	c.MustDo("POST", "/customer/databases/"+a.ID+"/users", map[string]any{"username": "bob", "password": "bob-secret-1"}, 201, nil)
	wantCode(t, "role without file access", fsDialErr(t, s.fsURL(), a.ID+".bob", "bob-secret-1"), fs9.EACCES)
	code, body = c.Do("POST", "/customer/databases/"+a.ID+"/fs-connect", map[string]any{"role": "bob"})
	if code != 400 {
		t.Errorf("fs-connect for bob: %d %s, want 400", code, body)
	}
}

// A stopped database is woken by a connect and kept running while the
// connection is open, idle timeout or not.
func TestFS9_WakeAndKeepAwake(t *testing.T) {
	s := StartServer(t, "--idle-timeout", "1s")
	c := s.Anonymous()
	d := c.CreateDB("sleepy")
	c.MustSQL(d.ID, `select fs9_write('/note', 'written before the stop')`)
	waitFor(t, 30*time.Second, "the instance to stop for idleness", func() bool { return s.postmasterOf(d.ID) == 0 })
	ws := fsDial(t, s.fsURL(), d.ID+".admin", d.AdminPassword)
	pid := s.postmasterOf(d.ID)
	if pid == 0 {
		t.Fatal("no postmaster after an fs9 connect")
	}
	if b, err := ws.ReadFile(testCtx(t), "/note"); err != nil || string(b) != "written before the stop" {
		t.Errorf("read after wake = %q, %v", b, err)
	}
	time.Sleep(3 * time.Second) // three idle timeouts with the connection open
	if p := s.postmasterOf(d.ID); p != pid {
		t.Errorf("postmaster %d -> %d while an fs9 connection was open", pid, p)
	}
	ws.Close()
	waitFor(t, 30*time.Second, "the instance to stop after the connection closed", func() bool { return s.postmasterOf(d.ID) == 0 })
}

// Files follow the database into a branch at a past moment, byte for byte.
func TestFS9_BranchAtMoment(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	p := c.CreateDB("fsparent")
	ws := fsDial(t, s.fsURL(), p.ID+".admin", p.AdminPassword)
	ctx := testCtx(t)
	kept, deleted, changedOld := randomBytes(t, 700<<10), randomBytes(t, 1536<<10), randomBytes(t, 300<<10)
	for path, b := range map[string][]byte{"/kept.bin": kept, "/dir/deleted.bin": deleted, "/changed.bin": changedOld} {
		if _, err := ws.WriteFile(ctx, path, b); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(time.Second)
	moment := time.Now()
	time.Sleep(time.Second)
	if _, err := ws.WriteFile(ctx, "/after.bin", randomBytes(t, 1000)); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Remove(ctx, "/dir", true); err != nil {
		t.Fatal(err)
	}
	if _, err := ws.WriteFile(ctx, "/changed.bin", []byte("new content")); err != nil {
		t.Fatal(err)
	}
	br := c.WaitBranch(c.StartBranch(p.ID, "fs-at", &moment).ID, 2*time.Minute)
	if br.State != "ACTIVE" {
		t.Fatalf("branch %s: %s", br.State, deref(br.StateReason))
	}
	var cred struct {
		AdminPassword string `json:"admin_password"`
	}
	c.MustDo("GET", "/customer/databases/"+br.ID+"/credentials", nil, 200, &cred)
	bw := fsDial(t, s.fsURL(), br.ID+".admin", cred.AdminPassword)
	for path, want := range map[string][]byte{"/kept.bin": kept, "/dir/deleted.bin": deleted, "/changed.bin": changedOld} {
		got, err := bw.ReadFile(ctx, path)
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("branch %s: %d bytes, %v; want the %d bytes as of the moment", path, len(got), err, len(want))
		}
	}
	_, err := bw.Stat(ctx, "/after.bin")
	wantCode(t, "file written after the moment", err, fs9.ENOENT)
	// The parent has moved on.
	if got, err := ws.ReadFile(ctx, "/changed.bin"); err != nil || string(got) != "new content" {
		t.Errorf("parent /changed.bin = %q, %v", got, err)
	}
}
