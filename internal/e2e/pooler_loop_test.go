package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// TestPooler_LoopQueries: plaintext pooled clients are parked from their
// login on, and the parker's loop runs their simple queries; what the
// loop does not run goes to the client's goroutine as before. Many
// clients over few backends get their own answers; a large answer to a
// client that does not read yet holds up no one; a transaction, a COPY
// and an error through the simple protocol behave as on PostgreSQL; a
// client that hangs up in the middle of a query leaves it cancelled.
func TestPooler_LoopQueries(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	user, pw := f.creds[0].user, f.creds[0].password
	sc := f.s.superConn(t, f.db.ID)
	if _, err := sc.Exec(ctx, "create table loop_t (id int primary key, v text); grant all on loop_t to public"); err != nil {
		t.Fatal(err)
	}

	// A client that sends a query with a large answer and reads nothing
	// for a while.
	slow, err := pgconn.Connect(ctx, f.s.poolURL(user, pw, "disable"))
	if err != nil {
		t.Fatal(err)
	}
	hj, err := slow.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	defer hj.Conn.Close()
	const big = 8 << 20
	q := fmt.Sprintf("select repeat('x', %d)", big)
	msg := append([]byte{'Q', 0, 0, 0, 0}, q...)
	msg = append(msg, 0)
	msg[1], msg[2], msg[3], msg[4] = byte((len(msg)-1)>>24), byte((len(msg)-1)>>16), byte((len(msg)-1)>>8), byte(len(msg)-1)
	if _, err := hj.Conn.Write(msg); err != nil {
		t.Fatal(err)
	}

	// Meanwhile: more clients than backends, simple queries only.
	const clients, perClient = 30, 20
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i := range clients {
		conn := f.s.mustPool(t, user, pw, "disable")
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range perClient {
				var n int
				if err := conn.QueryRow(ctx, "select $1::int * 1000 + $2::int", pgx.QueryExecModeSimpleProtocol, i, j).Scan(&n); err != nil || n != i*1000+j {
					errs <- fmt.Errorf("client %d query %d: %d, %v", i, j, n, err)
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

	// The slow client's answer, whole.
	_ = hj.Conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	got, err := io.ReadAll(io.LimitReader(hj.Conn, big+1024))
	if err != nil && !strings.Contains(err.Error(), "timeout") {
		t.Fatal(err)
	}
	if n := bytes.Count(got, []byte{'x'}); n != big || !bytes.HasSuffix(got, []byte{'Z', 0, 0, 0, 5, 'I'}) {
		t.Errorf("large answer: %d of %d bytes of the value, ends %q", n, big, got[max(len(got)-6, 0):])
	}

	c := f.s.mustPool(t, user, pw, "disable")
	pc := c.PgConn()
	// A transaction in simple queries stays on one backend until COMMIT.
	var pids []uint32
	for _, sql := range []string{"begin", "insert into loop_t values (1, 'a')", "select pg_backend_pid()", "insert into loop_t values (2, 'b')", "select pg_backend_pid()", "commit"} {
		res, err := pc.Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		if strings.HasPrefix(sql, "select") {
			var pid uint32
			fmt.Sscan(string(res[0].Rows[0][0]), &pid)
			pids = append(pids, pid)
		}
	}
	if pids[0] != pids[1] {
		t.Errorf("a transaction moved from backend %d to %d", pids[0], pids[1])
	}
	// An error, and the session goes on.
	_, err = pc.Exec(ctx, "select 1/0").ReadAll()
	wantSQLState(t, "division by zero", err, "22012")
	// COPY from the client.
	tag, err := pc.CopyFrom(ctx, strings.NewReader("3\tc\n4\td\n"), "copy loop_t from stdin")
	if err != nil || tag.RowsAffected() != 2 {
		t.Errorf("copy: %v, %v", tag, err)
	}
	var rows int
	if err := c.QueryRow(ctx, "select count(*) from loop_t", pgx.QueryExecModeSimpleProtocol).Scan(&rows); err != nil || rows != 4 {
		t.Errorf("%d rows (%v), want 4", rows, err)
	}

	// A client that hangs up while its query runs.
	gone, err := pgconn.Connect(ctx, f.s.poolURL(user, pw, "disable"))
	if err != nil {
		t.Fatal(err)
	}
	hj2, err := gone.Hijack()
	if err != nil {
		t.Fatal(err)
	}
	q = "select pg_sleep(30)"
	msg = append([]byte{'Q', 0, 0, 0, byte(len(q) + 5)}, q...)
	msg = append(msg, 0)
	if _, err := hj2.Conn.Write(msg); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the pg_sleep to run", func() bool { return activeSleeps(t, sc) == 1 })
	hj2.Conn.Close()
	waitFor(t, 10*time.Second, "the pg_sleep of the client that hung up to be cancelled", func() bool { return activeSleeps(t, sc) == 0 })
	if _, err := pc.Exec(ctx, "select 1").ReadAll(); err != nil {
		t.Errorf("after the hang-up: %v", err)
	}
}
