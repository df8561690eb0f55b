package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// txn is one transaction of the workload: row i, inserted by one SQL call
// sent at sent and answered at done. Its commit time lies in between.
type txn struct {
	i          int
	sent, done time.Time
	ok         bool // answered with success: certainly committed
}

// workload inserts rows one transaction at a time while running is set.
type workload struct {
	c       *Client
	db      string
	mu      sync.Mutex
	txns    []txn
	running bool
	wake    chan struct{}
	stop    chan struct{}
	wg      sync.WaitGroup
}

func startWorkload(c *Client, db string) *workload {
	w := &workload{c: c, db: db, running: true, wake: make(chan struct{}, 1), stop: make(chan struct{})}
	w.wg.Add(1)
	go w.loop()
	return w
}

func (w *workload) loop() {
	defer w.wg.Done()
	for i := 1; ; i++ {
		w.mu.Lock()
		run := w.running
		w.mu.Unlock()
		if !run {
			select {
			case <-w.stop:
				return
			case <-w.wake:
			}
		}
		select {
		case <-w.stop:
			return
		default:
		}
		sent := time.Now()
		code, body, err := w.c.TryDo("POST", "/customer/databases/"+w.db+"/sql",
			map[string]any{"query": "INSERT INTO w VALUES ($1::int, md5($1::int::text))", "params": []any{i}})
		done := time.Now()
		var r SQLResult
		ok := err == nil && code == 200 && json.Unmarshal(body, &r) == nil && r.Error == nil
		w.mu.Lock()
		w.txns = append(w.txns, txn{i: i, sent: sent, done: done, ok: ok})
		w.mu.Unlock()
		if !ok {
			time.Sleep(20 * time.Millisecond) // the instance is restarting
		}
	}
}

func (w *workload) pause() {
	w.mu.Lock()
	w.running = false
	w.mu.Unlock()
	time.Sleep(100 * time.Millisecond) // let the call in flight finish
}

func (w *workload) resume() {
	w.mu.Lock()
	w.running = true
	w.mu.Unlock()
	w.wake <- struct{}{}
}

func (w *workload) finish() []txn {
	close(w.stop)
	w.wg.Wait()
	return w.txns
}

// TestBranch_PointInTime_RowByRow is the correctness test of point-in-time
// branches: a workload of small transactions runs against a parent that is
// stopped for idleness and restarted, and whose postmaster is killed with
// SIGKILL;
// branches at a dozen random moments and at "now" must hold exactly the
// transactions committed at or before their moment.
func TestBranch_PointInTime_RowByRow(t *testing.T) {
	pointInTimeRowByRow(t)
}

// The same with every branch's WAL fetched segment by segment by
// restore_command (staging off, or a gap in the archive).
func TestBranch_PointInTime_RowByRow_Fetched(t *testing.T) {
	pointInTimeRowByRow(t, "--branch-stage-wal-mb", "0")
}

// The same with WAL staged at most one segment ahead of replay, the way a
// branch that replays more than --branch-stage-wal-mb is fed.
func TestBranch_PointInTime_RowByRow_Fed(t *testing.T) {
	pointInTimeRowByRow(t, "--branch-stage-wal-mb", "1")
}

func pointInTimeRowByRow(t *testing.T, args ...string) {
	s := StartServer(t, append([]string{"--anonymous-db-limit", "100", "--idle-timeout", "1s"}, args...)...)
	c := s.Anonymous()
	p := c.CreateDB("parent")
	c.MustSQL(p.ID, "CREATE TABLE w (i int PRIMARY KEY, v text NOT NULL)")
	start := time.Now()
	w := startWorkload(c, p.ID)
	time.Sleep(2 * time.Second)

	// Stopped for idleness, then woken by the workload.
	w.pause()
	waitFor(t, 30*time.Second, "the parent to be stopped for idleness", func() bool { return s.postmasterOf(p.ID) == 0 })
	stoppedAt := time.Now()
	time.Sleep(500 * time.Millisecond)
	resumedAt := time.Now()
	w.resume()
	time.Sleep(1500 * time.Millisecond)

	// SIGKILL of the parent's postmaster in the middle of the workload.
	pid := s.postmasterOf(p.ID)
	if pid == 0 {
		t.Fatal("parent not running under the workload")
	}
	killedAt := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2 * time.Second)
	if np := s.postmasterOf(p.ID); np == 0 || np == pid {
		t.Fatalf("parent postmaster after SIGKILL of %d: %d; want a new one", pid, np)
	}

	// Branch at "now" while the workload runs.
	now := c.StartBranch(p.ID, "at-now", nil)
	time.Sleep(500 * time.Millisecond)
	txns := w.finish()
	end := time.Now()

	moments := []time.Time{
		stoppedAt.Add(-1500 * time.Millisecond), // before the idle stop
		stoppedAt.Add(250 * time.Millisecond),   // while stopped
		resumedAt.Add(300 * time.Millisecond),   // after the restart
		killedAt.Add(-5 * time.Millisecond),     // just before the kill
		killedAt.Add(300 * time.Millisecond),    // after the kill
	}
	rng := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 5))
	for range 12 {
		moments = append(moments, start.Add(time.Duration(rng.Int64N(int64(end.Sub(start))))))
	}
	sort.Slice(moments, func(i, j int) bool { return moments[i].Before(moments[j]) })

	branches := []Branch{c.WaitBranch(now.ID, 2*time.Minute)}
	for k := 0; k < len(moments); k += 2 { // at most 2 cloning at once
		var started []Branch
		for j := k; j < min(k+2, len(moments)); j++ {
			started = append(started, c.StartBranch(p.ID, fmt.Sprintf("at-%02d", j), &moments[j]))
		}
		for _, b := range started {
			branches = append(branches, c.WaitBranch(b.ID, 2*time.Minute))
		}
	}

	parentRows := rowSet(t, c, p.ID)
	failed := 0
	for _, tx := range txns {
		if tx.ok && !parentRows[tx.i] {
			t.Errorf("row %d was acknowledged but is not in the parent", tx.i)
		}
		if !tx.ok {
			failed++
		}
	}
	t.Logf("%d transactions (%d with an unknown outcome around the kill), %d committed", len(txns), failed, len(parentRows))
	if len(parentRows) < 100 || failed > len(txns)/10 {
		t.Fatalf("the workload committed %d of %d transactions: too few to test anything", len(parentRows), len(txns))
	}
	for _, b := range branches {
		if b.State != "ACTIVE" {
			t.Fatalf("branch %s: %s %s", b.Name, b.State, deref(b.StateReason))
		}
		at := *b.SnapshotAt
		got := rowSet(t, c, b.ID)
		if bad := ints(t, c.MustSQL(b.ID, "SELECT count(*) FROM w WHERE v <> md5(i::text)")); bad[0] != 0 {
			t.Errorf("branch %s: %d rows with wrong content", b.Name, bad[0])
		}
		ambiguous, want := 0, 0
		for _, tx := range txns {
			committed := parentRows[tx.i]
			switch {
			case got[tx.i] && !committed:
				t.Errorf("branch %s at %s holds row %d that never committed", b.Name, at.Format(time.RFC3339Nano), tx.i)
			case committed && !tx.done.After(at):
				want++
				if !got[tx.i] {
					t.Errorf("branch %s at %s lacks row %d committed by %s", b.Name, at.Format(time.RFC3339Nano), tx.i, tx.done.Format(time.RFC3339Nano))
				}
			case tx.sent.After(at) && got[tx.i]:
				t.Errorf("branch %s at %s holds row %d sent after it, at %s", b.Name, at.Format(time.RFC3339Nano), tx.i, tx.sent.Format(time.RFC3339Nano))
			case committed && tx.sent.Before(at) && tx.done.After(at):
				ambiguous++ // its commit record's time decides; either is right
			}
		}
		// With one writer, what a branch holds is a prefix of the commit order.
		maxI := 0
		for i := range got {
			maxI = max(maxI, i)
		}
		for i := 1; i <= maxI; i++ {
			if parentRows[i] && !got[i] {
				t.Errorf("branch %s holds row %d but not row %d committed before it", b.Name, maxI, i)
			}
		}
		t.Logf("branch %-6s at %s: %d rows (%d certain, %d in flight at the moment)", b.Name, at.Format("15:04:05.000000"), len(got), want, ambiguous)
	}
}

func rowSet(t *testing.T, c *Client, db string) map[int]bool {
	t.Helper()
	out := map[int]bool{}
	// One value, not one row per row: results stop at 10,000 rows.
	r := c.MustSQL(db, "SELECT coalesce(string_agg(i::text, ',' ORDER BY i), '') FROM w")
	for _, f := range strings.Split(r.Rows[0][0].(string), ",") {
		if f == "" {
			continue
		}
		i, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = true
	}
	return out
}
