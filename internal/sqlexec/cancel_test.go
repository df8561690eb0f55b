package sqlexec_test

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/sqlexec"
)

func TestExec_Cancel(t *testing.T) {
	c := pgtest.Start(t)
	conn := dial(t, c)
	tc := sqlexec.NewTypeCache()

	for _, req := range []sqlexec.Request{
		query(`select pg_sleep(10)`),
		file(`select 1; select pg_sleep(10); select 2`),
		query(`select pg_sleep($1)`, `10`),
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		start := time.Now()
		res, err := sqlexec.Exec(ctx, conn, tc, req, sqlexec.Limits{})
		cancel()
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("Exec took %v after the context ended", took)
		}
		if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, sqlexec.ErrConnBroken) {
			t.Fatalf("Exec = %v, %v; want the context's error only", res, err)
		}
		if conn.IsClosed() {
			t.Fatal("connection closed by a cancel")
		}
		assertUsable(t, conn, tc)
	}

	t.Run("context already done", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if _, err := sqlexec.Exec(ctx, conn, tc, query(`select 1`), sqlexec.Limits{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		assertUsable(t, conn, tc)
	})

	t.Run("server ignores the cancel", func(t *testing.T) {
		// A backend that cannot act on the cancel request (stopped here)
		// makes Exec give up on the connection and say so.
		stopped := dial(t, c)
		pid := int(stopped.PID())
		ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		defer cancel()
		go func() {
			time.Sleep(50 * time.Millisecond)
			_ = syscall.Kill(pid, syscall.SIGSTOP)
		}()
		defer syscall.Kill(pid, syscall.SIGCONT)
		start := time.Now()
		_, err := sqlexec.Exec(ctx, stopped, tc, query(`select pg_sleep(10)`), sqlexec.Limits{})
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("Exec took %v", took)
		}
		if !errors.Is(err, sqlexec.ErrConnBroken) || !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v; want ErrConnBroken and DeadlineExceeded", err)
		}
		if !stopped.IsClosed() {
			t.Fatal("broken connection left open")
		}
		if _, err := sqlexec.Exec(context.Background(), stopped, tc, query(`select 1`), sqlexec.Limits{}); !errors.Is(err, sqlexec.ErrConnBroken) {
			t.Fatalf("Exec on the closed connection: %v", err)
		}
	})
}

func TestExec_ConcurrentTypeCache(t *testing.T) {
	c := pgtest.Start(t)
	setup := dial(t, c)
	tc := sqlexec.NewTypeCache()
	mustRun(t, setup, tc, typesSetup+`create type color as enum ('red');`)
	var wg sync.WaitGroup
	for i := range 4 {
		conn := dial(t, c)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20 {
				res, err := sqlexec.Exec(context.Background(), conn, tc, query(`select array['red']::color[] as c, 'sad'::mood as m, row(1,'x')::pair as p`), sqlexec.Limits{})
				if err != nil || res.Error != nil {
					t.Errorf("conn %d: %v %v", i, err, res)
					return
				}
				types := []string{res.Columns[0].Type, res.Columns[1].Type, res.Columns[2].Type}
				if diff := cmp.Diff([]string{"_color", "mood", "pair"}, types); diff != "" {
					t.Errorf("conn %d types (-want +got):\n%s", i, diff)
					return
				}
			}
		}()
	}
	wg.Wait()
}

func TestExec_ConnectionLost(t *testing.T) {
	conn := connect(t)
	_, err := sqlexec.Exec(context.Background(), conn, nil, query(`select pg_terminate_backend(pg_backend_pid())`), sqlexec.Limits{})
	if !errors.Is(err, sqlexec.ErrConnBroken) {
		t.Fatalf("err = %v, want ErrConnBroken", err)
	}
	if !conn.IsClosed() {
		t.Fatal("lost connection left open")
	}
}
