package e2e

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// TestPooler_ParkedClients: pooled clients idle longer than the pooler's
// park delay (1 s; without TLS they are parked, with TLS they keep their
// goroutines) resume on their next message: their prepared statements,
// transactions and pinned sessions work as before, a parked client that
// hangs up is gone, and the server stops cleanly with parked clients
// (the test's cleanup stops it).
func TestPooler_ParkedClients(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	user, pw := f.creds[0].user, f.creds[0].password
	const n = 200
	conns := make([]*pgx.Conn, n)
	for i := range conns {
		conns[i] = f.s.mustPool(t, user, pw, sslModes[i%2])
	}
	pinned := conns[0]
	if _, err := pinned.Exec(ctx, "set work_mem = '9MB'"); err != nil {
		t.Fatal(err)
	}
	round := func(r int) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i, c := range conns {
			if c == nil {
				continue
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				var sum int
				// Prepared (pgx's statement cache) in the first round,
				// bound again after the park in the next ones.
				if err := c.QueryRow(ctx, "select $1::int + $2::int", i, r).Scan(&sum); err != nil || sum != i+r {
					errs <- fmt.Errorf("round %d client %d: %d, %v", r, i, sum, err)
					return
				}
				err := pgx.BeginFunc(ctx, c, func(tx pgx.Tx) error {
					var one int
					return tx.QueryRow(ctx, "select 1").Scan(&one)
				})
				if err != nil {
					errs <- fmt.Errorf("round %d client %d: transaction: %w", r, i, err)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	round(0)
	time.Sleep(2500 * time.Millisecond) // past the park delay: the plaintext clients are parked
	round(1)
	// Half of them hang up while parked; the rest go on.
	time.Sleep(1500 * time.Millisecond)
	for i := 1; i < n; i += 2 {
		conns[i].Close(ctx)
		conns[i] = nil
	}
	time.Sleep(1500 * time.Millisecond)
	round(2)
	var v string
	if err := pinned.QueryRow(ctx, "show work_mem").Scan(&v); err != nil || v != "9MB" {
		t.Errorf("pinned client after idling: work_mem %q, %v", v, err)
	}
}
