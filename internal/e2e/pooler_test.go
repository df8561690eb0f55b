package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// poolURL is a connection URL to the server's pooled endpoint.
func (s *Server) poolURL(user, password, sslmode string) string {
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: s.PoolAddr, Path: "/postgres"}
	u.RawQuery = url.Values{"sslmode": {sslmode}, "connect_timeout": {"15"}}.Encode()
	return u.String()
}

// mustPool connects to the pooled endpoint or fails the test; the
// connection is closed at the end.
func (s *Server) mustPool(t testing.TB, user, password, sslmode string) *pgx.Conn {
	t.Helper()
	c, err := pgxConnectURL(context.Background(), s.poolURL(user, password, sslmode))
	if err != nil {
		t.Fatalf("connect to the pooled endpoint as %s (sslmode=%s): %v", user, sslmode, err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// TestPooler_PreparedStatementsAcrossBackends: clients of the pooled
// endpoint with pgx's default statement cache (extended protocol, named
// statements prepared once per client) run 1,000 transactions between
// them, more clients than backends, so their transactions land on
// changing backends: every statement works wherever it runs, and the
// database sees no more backends than the pool's bound. The credentials
// answer carries the pooled connection string.
func TestPooler_PreparedStatementsAcrossBackends(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	var cr struct {
		ConnectionString       string `json:"connection_string"`
		PooledConnectionString string `json:"pooled_connection_string"`
	}
	f.c.MustDo("GET", "/customer/databases/"+f.db.ID+"/credentials", nil, 200, &cr)
	_, poolPort, _ := net.SplitHostPort(f.s.PoolAddr)
	if !strings.Contains(cr.PooledConnectionString, ":"+poolPort+"/") || strings.Replace(cr.PooledConnectionString, ":"+poolPort+"/", "", 1) == cr.PooledConnectionString {
		t.Fatalf("pooled_connection_string %q does not name the pooled endpoint (port %s)", cr.PooledConnectionString, poolPort)
	}
	c0, err := pgxConnectURL(ctx, cr.PooledConnectionString+"?sslmode=require")
	if err != nil {
		t.Fatalf("connect with pooled_connection_string: %v", err)
	}
	if _, err := c0.Exec(ctx, "create table pooled_t (id int primary key, v text)"); err != nil {
		t.Fatal(err)
	}
	c0.Close(ctx)

	const clients, perClient = 20, 50 // 1,000 transactions
	pids := make([]map[uint32]bool, clients)
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		pids[i] = map[uint32]bool{}
		mode := sslModes[i%2]
		conn := f.s.mustPool(t, f.creds[0].user, f.creds[0].password, mode)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perClient {
				id := i*perClient + j
				var pid uint32
				var sum int
				// A prepared statement outside a transaction...
				if err := conn.QueryRow(ctx, "select pg_backend_pid(), $1::int + $2::int", id, 1).Scan(&pid, &sum); err != nil || sum != id+1 {
					errs <- fmt.Errorf("client %d tx %d: select: %d, %v", i, j, sum, err)
					return
				}
				pids[i][pid] = true
				// ...and in one with several statements.
				err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
					if _, err := tx.Exec(ctx, "insert into pooled_t values ($1, $2)", id, fmt.Sprint("v", id)); err != nil {
						return err
					}
					var v string
					if err := tx.QueryRow(ctx, "select v from pooled_t where id = $1", id).Scan(&v); err != nil {
						return err
					}
					if v != fmt.Sprint("v", id) {
						return fmt.Errorf("read %q", v)
					}
					return nil
				})
				if err != nil {
					errs <- fmt.Errorf("client %d tx %d: %w", i, j, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	moved, all := 0, map[uint32]bool{}
	for _, m := range pids {
		if len(m) > 1 {
			moved++
		}
		for pid := range m {
			all[pid] = true
		}
	}
	if moved == 0 {
		t.Errorf("no client ran on more than one backend (backends: %d)", len(all))
	}
	if len(all) > 10 {
		t.Errorf("%d distinct backends served the pool, bound is 10", len(all))
	}
	t.Logf("%d clients on %d backends; %d clients changed backends", clients, len(all), moved)
	var rows int
	sc := f.s.superConn(t, f.db.ID)
	if err := sc.QueryRow(ctx, "select count(*) from pooled_t").Scan(&rows); err != nil || rows != clients*perClient {
		t.Errorf("%d rows (%v), want %d", rows, err, clients*perClient)
	}
}

// TestPooler_ManyConnections: 1,200 clients hold connections to the pooled
// endpoint at once and each runs a query; 150 concurrent sessions reach
// the session front door when the operator allows them (--pg-max-conns
// 150, instances follow with max_connections 193).
func TestPooler_ManyConnections(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "--pg-max-conns", "150")
	ctx := context.Background()
	user, pw := f.creds[0].user, f.creds[0].password

	open := func(n int, connect func() (*pgx.Conn, error)) []*pgx.Conn {
		conns := make([]*pgx.Conn, n)
		var wg sync.WaitGroup
		errs := make(chan error, n)
		sem := make(chan struct{}, 50)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				sem <- struct{}{}
				defer func() { <-sem }()
				c, err := connect()
				if err != nil {
					errs <- err
					return
				}
				conns[i] = c
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			for _, c := range conns {
				if c != nil {
					c.Close(ctx)
				}
			}
		})
		return conns
	}
	// query runs a query on every connection at once and returns the
	// backends that served them.
	query := func(conns []*pgx.Conn, what string) map[uint32]bool {
		var wg sync.WaitGroup
		var mu sync.Mutex
		pids := map[uint32]bool{}
		errs := make(chan error, len(conns))
		for i, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var n int
				var pid uint32
				if err := c.QueryRow(ctx, "select $1::int, pg_backend_pid()", i).Scan(&n, &pid); err != nil || n != i {
					errs <- fmt.Errorf("%s %d: %d, %v", what, i, n, err)
				}
				mu.Lock()
				pids[pid] = true
				mu.Unlock()
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		return pids
	}

	sessions := open(150, func() (*pgx.Conn, error) { return f.s.pgConnect(t, user, pw, "disable") })
	query(sessions, "session")
	var maxConns int
	sc := f.s.superConn(t, f.db.ID)
	if err := sc.QueryRow(ctx, "select current_setting('max_connections')::int").Scan(&maxConns); err != nil || maxConns != 193 {
		t.Errorf("instance max_connections %d (%v), want 150 + 43", maxConns, err)
	}
	for _, c := range sessions {
		c.Close(ctx)
	}

	pooled := open(1200, func() (*pgx.Conn, error) { return pgxConnectURL(ctx, f.s.poolURL(user, pw, "disable")) })
	if pids := query(pooled, "pooled"); len(pids) > 10 {
		t.Errorf("%d backends served 1,200 pooled clients, bound is 10", len(pids))
	}
}

// TestPooler_Cancel: a cancel through the pooled endpoint (the pooler's
// key) stops the query the client runs, on whichever backend runs it, and
// the session goes on.
func TestPooler_Cancel(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	sc, sc2 := f.s.superConn(t, f.db.ID), f.s.superConn(t, f.db.ID)
	for _, mode := range sslModes {
		cfg, err := pgx.ParseConfig(f.s.poolURL(f.creds[0].user, f.creds[0].password, mode))
		if err != nil {
			t.Fatal(err)
		}
		cfg.BuildContextWatcherHandler = func(c *pgconn.PgConn) ctxwatch.Handler {
			return &pgconn.CancelRequestContextWatcherHandler{Conn: c, CancelRequestDelay: 0, DeadlineDelay: 10 * time.Second}
		}
		conn, err := pgx.ConnectConfig(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		// Another client keeps a backend busy, so the two differ.
		other := f.s.mustPool(t, f.creds[0].user, f.creds[0].password, mode)
		otherDone := make(chan error, 1)
		go func() {
			_, err := other.Exec(ctx, "select pg_sleep(1.5)")
			otherDone <- err
		}()
		waitFor(t, 10*time.Second, "the other client's pg_sleep", func() bool { return activeSleeps(t, sc) == 1 })
		// Cancel once the query runs on a backend (a cancel that arrives
		// while the query still waits for one is not kept).
		qctx, cancel := context.WithCancel(ctx)
		watchDone := make(chan struct{})
		go func() {
			defer close(watchDone)
			for n := 0; n < 2 && qctx.Err() == nil; time.Sleep(10 * time.Millisecond) {
				_ = sc2.QueryRow(ctx, `select count(*) from pg_stat_activity where query like 'select pg_sleep%' and state = 'active'`).Scan(&n)
			}
			cancel()
		}()
		start := time.Now()
		_, err = conn.Exec(qctx, "select pg_sleep(30)")
		cancel()
		<-watchDone
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("cancelled query took %s", took)
		}
		wantSQLState(t, "cancelled pg_sleep through the pooler, sslmode="+mode, err, "57014")
		if err := <-otherDone; err != nil {
			t.Errorf("the other client's query: %v (the cancel reached the wrong backend?)", err)
		}
		if n := activeSleeps(t, sc); n != 0 {
			t.Errorf("%d pg_sleep still running after cancel", n)
		}
		if _, err := conn.Exec(ctx, "select 1"); err != nil {
			t.Errorf("pooled session unusable after cancel: %v", err)
		}
		conn.Close(ctx)
	}
}

// TestPooler_SessionState: SET outside a transaction pins the client to
// its backend (it keeps its setting, no other client sees it); SET LOCAL
// in a transaction does not; once the pool's pins are taken, a further
// SET outside a transaction is refused with 0A000 and a hint.
func TestPooler_SessionState(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	user, pw := f.creds[0].user, f.creds[0].password
	show := func(c *pgx.Conn) string {
		var v string
		if err := c.QueryRow(ctx, "show work_mem").Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	a := f.s.mustPool(t, user, pw, "disable")
	if _, err := a.Exec(ctx, "begin; set local work_mem = '7MB'; commit"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Exec(ctx, "set work_mem = '9MB'"); err != nil {
		t.Fatal(err)
	}
	var pid1, pid2 uint32
	a.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid1)
	// Other clients run meanwhile; none sees a's setting.
	for range 12 {
		b := f.s.mustPool(t, user, pw, "disable")
		if v := show(b); v != "4MB" {
			t.Errorf("another client sees work_mem %s, want the default 4MB", v)
		}
		b.Close(ctx)
	}
	if v := show(a); v != "9MB" {
		t.Errorf("the client that SET sees work_mem %s, want 9MB", v)
	}
	a.QueryRow(ctx, "select pg_backend_pid()").Scan(&pid2)
	if pid1 != pid2 {
		t.Errorf("a pinned client moved from backend %d to %d", pid1, pid2)
	}
	// Pins are bounded (pool size 10 - 2): a's and 7 more; the 9th is refused.
	for i := range 8 {
		c := f.s.mustPool(t, user, pw, "disable")
		_, err := c.Exec(ctx, "select pg_advisory_lock(42 + $1)", i)
		if i < 7 && err != nil {
			t.Fatalf("pin %d: %v", i+2, err)
		}
		if i == 7 {
			wantSQLState(t, "a 9th pinned session", err, "0A000")
			var pe *pgconn.PgError
			if errors.As(err, &pe) && !strings.Contains(pe.Hint, "SET LOCAL") {
				t.Errorf("hint %q", pe.Hint)
			}
			if _, err := c.Exec(ctx, "select 1"); err != nil {
				t.Errorf("the refused session cannot go on: %v", err)
			}
		}
	}
}

// TestPooler_WakeFromStopped: a pooled client's backends close when idle,
// the instance then stops for idleness under the open client, and its
// next transaction wakes the database.
func TestPooler_WakeFromStopped(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "--idle-timeout", "1s", "--pg-pool-idle-timeout", "500ms")
	ctx := context.Background()
	c := f.s.mustPool(t, f.creds[1].user, f.creds[1].password, "require")
	if _, err := c.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the instance to stop under an idle pooled client", func() bool { return f.s.postmasterOf(f.db.ID) == 0 })
	start := time.Now()
	var who string
	if err := c.QueryRow(ctx, "select current_user").Scan(&who); err != nil || who != "app_user" {
		t.Fatalf("first transaction after the stop: %q, %v", who, err)
	}
	t.Logf("woken for a transaction in %s", time.Since(start))
}
