package wsserver_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/fs9test"
	"github.com/db9/db9/internal/fs9/wsserver"
)

// testAuth knows one database, db1, with a password per role.
type testAuth struct{}

var passwords = map[string]string{"db1.admin": "secret", "db1._db9_sys_readonly": "ro-pass", "db1.bob": "bob-pass", "db2.admin": "other"}

func (testAuth) Authenticate(_ context.Context, username, password string) (wsserver.Identity, error) {
	want, ok := passwords[username]
	if !ok || want != password {
		return wsserver.Identity{}, fs9.Errorf(fs9.EAUTH, "invalid credentials")
	}
	db, role, _ := strings.Cut(username, ".")
	if db != "db1" {
		return wsserver.Identity{}, fs9.Errorf(fs9.EAUTH, "unknown database")
	}
	return wsserver.Identity{Database: db, Role: role}, nil
}

// testBackend hands out pools of the test cluster and counts open sessions
// (the keep-awake handles).
type testBackend struct {
	pools map[string]*pgxpool.Pool
	open  atomic.Int64
}

type testSession struct {
	b    *testBackend
	pool *pgxpool.Pool
	once sync.Once
}

func (s *testSession) Pool() *pgxpool.Pool { return s.pool }
func (s *testSession) Release()            { s.once.Do(func() { s.b.open.Add(-1) }) }

func (b *testBackend) Open(_ context.Context, id wsserver.Identity) (wsserver.Session, error) {
	p, ok := b.pools[id.Role]
	if !ok {
		return nil, fmt.Errorf("no pool for %s", id.Role)
	}
	b.open.Add(1)
	return &testSession{b: b, pool: p}, nil
}

type env struct {
	t       *testing.T
	cluster *fs9test.Cluster
	backend *testBackend
	srv     *wsserver.Server
	http    *httptest.Server
	url     string
}

func newEnv(t *testing.T, cfg wsserver.Config) *env {
	c := fs9test.Start(t)
	b := &testBackend{pools: map[string]*pgxpool.Pool{
		fs9test.Admin: c.Pool(t, fs9test.Admin), fs9test.ReadOnly: c.Pool(t, fs9test.ReadOnly)}}
	cfg.Auth, cfg.Backend = testAuth{}, b
	srv := wsserver.New(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		hs.CloseClientConnections()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := srv.Close(ctx); err != nil {
			t.Errorf("server close: %v", err)
		}
		hs.Close()
	})
	return &env{t: t, cluster: c, backend: b, srv: srv, http: hs, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/"}
}

// client is a test WebSocket client that sorts incoming frames: answers
// by id, pushes, binary frames.
type client struct {
	t      *testing.T
	ws     *websocket.Conn
	mu     sync.Mutex
	waits  map[string]chan map[string]any
	pushes chan map[string]any
	bins   chan []byte
	closed chan struct{}
	err    error
	seq    atomic.Int64
}

func (e *env) dial() *client {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, e.url, nil)
	if err != nil {
		e.t.Fatal(err)
	}
	ws.SetReadLimit(-1)
	c := &client{t: e.t, ws: ws, waits: map[string]chan map[string]any{}, pushes: make(chan map[string]any, 1000),
		bins: make(chan []byte, 4096), closed: make(chan struct{})}
	go c.loop()
	e.t.Cleanup(func() { ws.Close(websocket.StatusNormalClosure, "") })
	return c
}

// login dials and authenticates as user, failing the test on refusal.
func (e *env) login(user string) *client {
	e.t.Helper()
	c := e.dial()
	if r := c.call(map[string]any{"op": "auth", "username": user, "password": passwords[user]}); r["ok"] != true {
		e.t.Fatalf("auth %s: %v", user, r)
	}
	return c
}

func (c *client) loop() {
	defer close(c.closed)
	for {
		typ, b, err := c.ws.Read(context.Background())
		if err != nil {
			c.err = err
			return
		}
		if typ == websocket.MessageBinary {
			c.bins <- b
			continue
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			c.t.Errorf("bad JSON from server: %s", b)
			continue
		}
		if _, ok := m["push"]; ok {
			c.pushes <- m
			continue
		}
		id := fmt.Sprint(m["id"])
		c.mu.Lock()
		ch := c.waits[id]
		if ch == nil {
			ch = make(chan map[string]any, 16)
			c.waits[id] = ch
		}
		c.mu.Unlock()
		ch <- m
	}
}

func (c *client) wait(id string) chan map[string]any {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := c.waits[id]
	if ch == nil {
		ch = make(chan map[string]any, 16)
		c.waits[id] = ch
	}
	return ch
}

// sendRaw sends a text frame.
func (c *client) sendRaw(b []byte) {
	if err := c.ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// send sends req with a fresh id (unless it has one) and returns the id.
func (c *client) send(req map[string]any) string {
	if _, ok := req["id"]; !ok {
		req["id"] = fmt.Sprintf("r%d", c.seq.Add(1))
	}
	b, _ := json.Marshal(req)
	c.sendRaw(b)
	return fmt.Sprint(req["id"])
}

// next returns the next answer for id.
func (c *client) next(id string) map[string]any {
	c.t.Helper()
	select {
	case m := <-c.wait(id):
		return m
	case <-c.closed:
		select {
		case m := <-c.wait(id):
			return m
		default:
		}
		c.t.Fatalf("connection closed waiting for %s: %v", id, c.err)
	case <-time.After(60 * time.Second):
		c.t.Fatalf("no answer for %s", id)
	}
	return nil
}

func (c *client) call(req map[string]any) map[string]any {
	c.t.Helper()
	return c.next(c.send(req))
}

// ok calls and returns data, failing on an error answer.
func (c *client) ok(req map[string]any) map[string]any {
	c.t.Helper()
	r := c.call(req)
	if r["ok"] != true {
		c.t.Fatalf("%v: %v", req["op"], r["error"])
	}
	d, _ := r["data"].(map[string]any)
	return d
}

// code calls and returns the error code ("" on success).
func (c *client) code(req map[string]any) string {
	c.t.Helper()
	return errCode(c.call(req))
}

func errCode(r map[string]any) string {
	if r["ok"] == true {
		return ""
	}
	e, _ := r["error"].(map[string]any)
	return fmt.Sprint(e["code"])
}

// waitClosed reports whether the server closed the connection in time.
func (c *client) waitClosed(d time.Duration) bool {
	select {
	case <-c.closed:
		return true
	case <-time.After(d):
		return false
	}
}

func (c *client) push(t *testing.T, kind string) map[string]any {
	t.Helper()
	for {
		select {
		case m := <-c.pushes:
			if m["push"] == kind {
				return m
			}
		case <-time.After(20 * time.Second):
			t.Fatalf("no %s push", kind)
			return nil
		}
	}
}
