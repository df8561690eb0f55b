package e2e

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
)

// activeSleeps counts backends of a database running pg_sleep, seen over
// the private socket.
func activeSleeps(t testing.TB, sc *pgx.Conn) int {
	t.Helper()
	var n int
	if err := sc.QueryRow(context.Background(), `select count(*) from pg_stat_activity where query like 'select pg_sleep%' and state = 'active' and pid <> pg_backend_pid()`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestProxy_Cancel: a client's cancel stops its own query on the server;
// a cancel with any other key stops nothing.
func TestProxy_Cancel(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	user, pw := f.db.ID+".admin", f.db.AdminPassword
	sc := f.s.superConn(t, f.db.ID)

	for _, mode := range sslModes {
		// pgx context cancellation, sent as a CancelRequest.
		cfg, err := pgx.ParseConfig(f.s.pgURL(user, pw, mode))
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
		var backendPID uint32
		conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&backendPID)
		if conn.PgConn().PID() != backendPID {
			t.Errorf("the driver reports pid %d, pg_backend_pid() is %d", conn.PgConn().PID(), backendPID)
		}
		qctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
		start := time.Now()
		_, err = conn.Exec(qctx, "select pg_sleep(30)")
		cancel()
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("cancelled query took %s", took)
		}
		wantSQLState(t, "cancelled pg_sleep sslmode="+mode, err, "57014")
		if n := activeSleeps(t, sc); n != 0 {
			t.Errorf("%d pg_sleep still running after cancel", n)
		}
		if _, err := conn.Exec(ctx, "select 1"); err != nil {
			t.Errorf("session unusable after cancel: %v", err)
		}
		conn.Close(ctx)
	}

	// Another session's cancel and guessed keys (the right pid, which
	// pg_stat_activity shows to anyone, with a wrong secret) never reach
	// the sleeping session.
	a := f.s.mustPG(t, user, pw, "disable")
	b := f.s.mustPG(t, "front.app_user", "user-secret-pw-1", "disable")
	done := make(chan error, 1)
	go func() { _, err := a.Exec(ctx, "select pg_sleep(2)"); done <- err }()
	waitFor(t, 10*time.Second, "pg_sleep to run", func() bool { return activeSleeps(t, sc) == 1 })
	if err := b.PgConn().CancelRequest(ctx); err != nil {
		t.Fatal(err)
	}
	rawCancel(t, f.s.PGAddr, a.PgConn().PID(), a.PgConn().SecretKey(), 1) // right pid, wrong secret
	rawCancel(t, f.s.PGAddr, a.PgConn().PID()^1, a.PgConn().SecretKey(), 0)
	if err := <-done; err != nil {
		t.Errorf("a query was cancelled by someone else's cancel request: %v", err)
	}

	// psql: SIGINT (Ctrl-C) sends a cancel.
	needTool(t, "psql")
	cmd := exec.Command("psql", f.s.pgURL(user, pw, "require"), "-c", "select pg_sleep(30)")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "psql's pg_sleep to run", func() bool { return activeSleeps(t, sc) == 1 })
	cmd.Process.Signal(syscall.SIGINT)
	_ = cmd.Wait()
	if !strings.Contains(out.String(), "canceling statement due to user request") || time.Since(start) > 10*time.Second {
		t.Errorf("psql after Ctrl-C (%s): %s", time.Since(start), out.String())
	}
}

// rawCancel sends a CancelRequest with the given key to the front door.
func rawCancel(t testing.TB, addr string, pid uint32, secret []byte, flip byte) {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	b := make([]byte, 16)
	binary.BigEndian.PutUint32(b, 16)
	binary.BigEndian.PutUint32(b[4:], 80877102)
	binary.BigEndian.PutUint32(b[8:], pid)
	copy(b[12:], secret)
	b[15] ^= flip
	c.Write(b)
	c.SetReadDeadline(time.Now().Add(2 * time.Second))
	c.Read(b[:1])
}

// TestProxy_Protocol: extended protocol, COPY both ways, LISTEN/NOTIFY,
// large results, a long session past the idle timeout, and a client that
// vanishes mid-query; with TLS (the goroutine relay) and without (the
// event loop relay).
func TestProxy_Protocol(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "--idle-timeout", "1s")
	for _, mode := range sslModes {
		t.Run(mode, func(t *testing.T) { testProtocol(t, f, mode) })
	}
}

func testProtocol(t *testing.T, f *proxyFixture, mode string) {
	ctx := context.Background()
	user, pw := f.db.ID+".admin", f.db.AdminPassword
	conn := f.s.mustPG(t, user, pw, mode)
	kv := "kv_" + mode

	// Extended protocol: prepared statements, parameters, batches.
	if _, err := conn.Exec(ctx, "create table "+kv+" (k int primary key, v text)"); err != nil {
		t.Fatal(err)
	}
	batch := &pgx.Batch{}
	for i := range 100 {
		batch.Queue("insert into "+kv+" values ($1, $2)", i, fmt.Sprint("v", i))
	}
	if err := conn.SendBatch(ctx, batch).Close(); err != nil {
		t.Fatal(err)
	}
	var v string
	if err := conn.QueryRow(ctx, "select v from "+kv+" where k = $1", 42).Scan(&v); err != nil || v != "v42" {
		t.Fatalf("extended query: %q %v", v, err)
	}

	// COPY in and out.
	n, err := conn.CopyFrom(ctx, pgx.Identifier{kv}, []string{"k", "v"}, pgx.CopyFromSlice(10000, func(i int) ([]any, error) {
		return []any{1000 + i, strings.Repeat("x", 100)}, nil
	}))
	if err != nil || n != 10000 {
		t.Fatalf("COPY FROM: %d %v", n, err)
	}
	var buf bytes.Buffer
	tag, err := conn.PgConn().CopyTo(ctx, &buf, "copy "+kv+" to stdout")
	if err != nil || tag.RowsAffected() != 10100 {
		t.Fatalf("COPY TO: %v %v", tag, err)
	}

	// LISTEN/NOTIFY between two sessions.
	l := f.s.mustPG(t, user, pw, mode)
	if _, err := l.Exec(ctx, "listen ch_"+mode); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "select pg_notify('ch_"+mode+"', 'hello')"); err != nil {
		t.Fatal(err)
	}
	nctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	note, err := l.WaitForNotification(nctx)
	cancel()
	if err != nil || note.Payload != "hello" {
		t.Fatalf("notification: %+v %v", note, err)
	}

	// A large result: ~100 MB of rows.
	var rows, total int64
	rs, _ := conn.Query(ctx, "select g, repeat('y', 1000) from generate_series(1, 100000) g")
	for rs.Next() {
		var g int64
		var s string
		if err := rs.Scan(&g, &s); err != nil {
			t.Fatal(err)
		}
		rows++
		total += int64(len(s))
	}
	if rs.Err() != nil || rows != 100000 || total != 100000*1000 {
		t.Fatalf("large result: %d rows, %d bytes, %v", rows, total, rs.Err())
	}

	// A long session: the instance must not be stopped under it, though
	// the idle timeout (1s) passes several times.
	pid := f.s.postmasterOf(f.db.ID)
	time.Sleep(3500 * time.Millisecond)
	if _, err := conn.Exec(ctx, "select 1"); err != nil {
		t.Fatalf("long session: %v", err)
	}
	if now := f.s.postmasterOf(f.db.ID); now != pid {
		t.Fatalf("postmaster changed under an open session: %d -> %d", pid, now)
	}

	// A client that vanishes mid-query leaves no backend behind.
	sc := f.s.superConn(t, f.db.ID)
	gone, err := pgconn.Connect(ctx, f.s.pgURL(user, pw, mode))
	if err != nil {
		t.Fatal(err)
	}
	gone.Conn().Write(queryMsg("select pg_sleep(60)"))
	waitFor(t, 10*time.Second, "pg_sleep to run", func() bool { return activeSleeps(t, sc) == 1 })
	gone.Conn().Close()
	waitFor(t, 10*time.Second, "the abandoned backend to end", func() bool {
		var n int
		sc.QueryRow(ctx, `select count(*) from pg_stat_activity where query = 'select pg_sleep(60)'`).Scan(&n)
		return n == 0
	})
}

// queryMsg encodes a simple Query message.
func queryMsg(sql string) []byte {
	b := []byte{'Q', 0, 0, 0, 0}
	b = append(b, sql...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return b
}

// TestProxy_WakeAndLimit: a stopped database accepts a connection without
// client retry; more sessions than the limit get 53300.
func TestProxy_WakeAndLimit(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t, "--idle-timeout", "1s", "--pg-max-conns", "3")
	ctx := context.Background()
	waitFor(t, 20*time.Second, "the idle instance to stop", func() bool { return f.s.postmasterOf(f.db.ID) == 0 })
	for _, cr := range f.creds {
		waitFor(t, 20*time.Second, "the idle instance to stop", func() bool { return f.s.postmasterOf(f.db.ID) == 0 })
		start := time.Now()
		c := f.s.mustPG(t, cr.user, cr.password, "require")
		if _, err := c.Exec(ctx, "select 1"); err != nil {
			t.Fatalf("%s after wake: %v", cr.name, err)
		}
		t.Logf("%s: cold connect + select 1 in %s", cr.name, time.Since(start))
		c.Close(ctx)
	}

	var open []*pgx.Conn
	var mu sync.Mutex
	for range 3 {
		c := f.s.mustPG(t, f.creds[0].user, f.creds[0].password, "disable")
		mu.Lock()
		open = append(open, c)
		mu.Unlock()
	}
	_, err := f.s.pgConnect(t, f.creds[0].user, f.creds[0].password, "disable")
	wantSQLState(t, "4th session with --pg-max-conns 3", err, "53300")
	open[0].Close(ctx)
	waitFor(t, 5*time.Second, "a slot to free", func() bool {
		c, err := f.s.pgConnect(t, f.creds[0].user, f.creds[0].password, "disable")
		if err == nil {
			c.Close(ctx)
		}
		return err == nil
	})
}

// TestProxy_KillOwnBackend: the pid the driver reports is the backend's,
// as pg_backend_pid() and pg_stat_activity show it, so
// pg_terminate_backend of it from another session ends the session (the
// client sees the connection closed), and a session may end itself.
func TestProxy_KillOwnBackend(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	for _, cr := range []creds{f.creds[0], f.creds[1]} {
		for _, mode := range sslModes {
			what := cr.name + " sslmode=" + mode
			conn := f.s.mustPG(t, cr.user, cr.password, mode)
			other := f.s.mustPG(t, cr.user, cr.password, mode)
			pid := conn.PgConn().PID()
			var backendPID uint32
			var seen int
			if err := conn.QueryRow(ctx, "select pg_backend_pid()").Scan(&backendPID); err != nil {
				t.Fatal(err)
			}
			if err := other.QueryRow(ctx, "select count(*) from pg_stat_activity where pid = $1 and usename = $2",
				pid, strings.SplitN(cr.user, ".", 2)[1]).Scan(&seen); err != nil {
				t.Fatal(err)
			}
			if pid != backendPID || seen != 1 {
				t.Fatalf("%s: driver pid %d, pg_backend_pid() %d, pg_stat_activity rows with that pid %d", what, pid, backendPID, seen)
			}
			var killed bool
			if err := other.QueryRow(ctx, "select pg_terminate_backend($1)", pid).Scan(&killed); err != nil || !killed {
				t.Fatalf("%s: pg_terminate_backend(%d) = %v, %v", what, pid, killed, err)
			}
			if err := conn.QueryRow(ctx, "select 1").Scan(nil); err == nil {
				t.Errorf("%s: a query on a terminated backend succeeded", what)
			}
			if !conn.IsClosed() {
				t.Errorf("%s: connection not closed after its backend was terminated", what)
			}

			// The session that ends itself gets PostgreSQL's own error.
			_, err := other.Exec(ctx, "select pg_terminate_backend(pg_backend_pid())")
			wantSQLState(t, what+": terminating itself", err, "57P01")
			if !other.IsClosed() {
				t.Errorf("%s: connection not closed after terminating itself", what)
			}
		}
	}
}
