package fusefs_test

import (
	"bufio"
	"context"
	"errors"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/fs9test"
	"github.com/db9/db9/internal/fs9/fusefs"
	"github.com/db9/db9/internal/fs9/wsclient"
	"github.com/db9/db9/internal/fs9/wsserver"
)

// requireFUSE skips when this machine cannot mount, also under CI: FUSE
// is an optional capability of the host, not a dependency.
func requireFUSE(t *testing.T) {
	t.Helper()
	if err := fusefs.Check(); err != nil {
		t.Skipf("db9 fs mount is not tested here: %v", err)
	}
}

// oneDB authenticates db1 as admin (password "secret") or read-only
// ("ro-pass").
type oneDB struct{}

func (oneDB) Authenticate(_ context.Context, username, password string) (wsserver.Identity, error) {
	want := map[string]string{"db1.admin": "secret", "db1._db9_sys_readonly": "ro-pass"}[username]
	if want == "" || password != want {
		return wsserver.Identity{}, fs9.Errorf(fs9.EAUTH, "invalid credentials")
	}
	_, role, _ := strings.Cut(username, ".")
	return wsserver.Identity{Database: "db1", Role: role}, nil
}

type pools map[string]*pgxpool.Pool

type session struct{ p *pgxpool.Pool }

func (s session) Pool() *pgxpool.Pool { return s.p }
func (s session) Release()            {}

func (p pools) Open(_ context.Context, id wsserver.Identity) (wsserver.Session, error) {
	pool, ok := p[id.Role]
	if !ok {
		return nil, errors.New("no pool for " + id.Role)
	}
	return session{pool}, nil
}

// env is a real fs9 server: PostgreSQL with fs9 installed behind the
// WebSocket server.
type env struct {
	t       *testing.T
	cluster *fs9test.Cluster
	admin   *pgxpool.Pool
	url     string

	mu    sync.Mutex
	dials int
	last  *wsclient.Client // the connection the mount dialed last
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := fs9test.Start(t)
	admin := c.Pool(t, fs9test.Admin)
	srv := wsserver.New(wsserver.Config{Auth: oneDB{}, Backend: pools{fs9test.Admin: admin, fs9test.ReadOnly: c.Pool(t, fs9test.ReadOnly)}})
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = srv.Close(ctx)
		hs.Close()
	})
	return &env{t: t, cluster: c, admin: admin, url: "ws" + strings.TrimPrefix(hs.URL, "http") + "/"}
}

// client is a WebSocket client of the test's own, the "other side".
func (e *env) client() *wsclient.Client {
	e.t.Helper()
	c, err := wsclient.Dial(context.Background(), e.url, "db1.admin", "secret")
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { c.Close() })
	return c
}

func (e *env) dial(user, password string) func(context.Context) (*wsclient.Client, error) {
	return func(ctx context.Context) (*wsclient.Client, error) {
		c, err := wsclient.Dial(ctx, e.url, user, password)
		if err == nil {
			e.mu.Lock()
			e.dials++
			e.last = c
			e.mu.Unlock()
		}
		return c, err
	}
}

// mount mounts db1 at a new directory, unmounted at cleanup.
func (e *env) mount(cfg fusefs.Config) *fusefs.Mount {
	e.t.Helper()
	if cfg.Dial == nil {
		cfg.Dial = e.dial("db1.admin", "secret")
	}
	m := fusefs.New(e.t.TempDir(), cfg)
	if err := m.Open(context.Background()); err != nil {
		var ue *fusefs.UnavailableError
		if errors.As(err, &ue) {
			e.t.Skipf("db9 fs mount is not tested here: %v", err)
		}
		e.t.Fatalf("mount: %v", err)
	}
	e.t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := m.Close(ctx); err != nil {
			e.t.Errorf("unmount: %v", err)
		}
	})
	return m
}

// sqlRead reads a file through SQL.
func (e *env) sqlRead(p string) string {
	e.t.Helper()
	var s string
	if err := e.admin.QueryRow(context.Background(), `SELECT fs9_read($1)`, p).Scan(&s); err != nil {
		e.t.Fatalf("fs9_read(%s): %v", p, err)
	}
	return s
}

func (e *env) sqlExists(p string) bool {
	e.t.Helper()
	var ok bool
	if err := e.admin.QueryRow(context.Background(), `SELECT fs9_exists($1)`, p).Scan(&ok); err != nil {
		e.t.Fatalf("fs9_exists(%s): %v", p, err)
	}
	return ok
}

// mounted reports whether dir is a mount point of this process's view.
func mounted(t *testing.T, dir string) bool {
	t.Helper()
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if fields := strings.Fields(sc.Text()); len(fields) > 4 && fields[4] == dir {
			return true
		}
	}
	return false
}

// eventually retries check until it passes or 20 s went by: changes made
// elsewhere show once the kernel's cache time (1 s) ran out.
func eventually(t *testing.T, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v", what, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
