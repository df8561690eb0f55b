package catalog

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRunWriter_ConcurrentStartsAndEnds: what many invokes record at
// once, through the group commit, is each run's own: running after
// Start, then its outcome and its logs in order after Finish. Half the
// runs are not started in the catalog (as a run without an idempotency
// key): Finish inserts them whole, with their start time.
func TestRunWriter_ConcurrentStartsAndEnds(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	fn := testFunction(t, c)
	w := c.Runs.NewRunWriter()
	defer w.Close()

	const n = 40
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			id := fmt.Sprintf("%s-w%d", fn.ID, i)
			input := fmt.Sprintf(`{"i":%d}`, i)
			at := time.Now().Add(-time.Duration(i) * time.Second).UTC().Truncate(time.Microsecond)
			run := FunctionRun{ID: id, FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID, TriggerType: "invoke",
				InputJSON: &input, StartedAt: &at}
			if i%2 == 0 {
				r, err := w.Start(run)
				if err != nil || r.ID != id || r.Status != "running" || deref(r.InputJSON) != input || r.StartedAt == nil || !r.StartedAt.Equal(at) {
					errs <- fmt.Errorf("start %d: %+v %v", i, r, err)
					return
				}
				// Committed before Start returned: another connection sees it.
				if got, err := c.Runs.Get(ctx, fn.ID, id); err != nil || got.Status != "running" {
					errs <- fmt.Errorf("run %d after Start: %+v %v", i, got, err)
					return
				}
			}
			result := fmt.Sprint(i)
			var logs []RunLog
			for j := range i % 4 {
				logs = append(logs, RunLog{TS: time.Now().UTC().Truncate(time.Microsecond), Level: "log", Message: fmt.Sprintf("run %d line %d", i, j)})
			}
			status, errText := "succeeded", (*string)(nil)
			if i%5 == 0 {
				status, result, errText = "failed", "", ptr("boom")
			}
			var res *string
			if status == "succeeded" {
				res = &result
			}
			r, err := w.Finish(RunEnd{Run: run, Status: status, Result: res, Error: errText, Duration: time.Duration(i) * time.Millisecond, Logs: logs})
			if err != nil || r.Status != status || deref(r.ResultJSON) != deref(res) || deref(r.Error) != deref(errText) ||
				r.DurationMS == nil || *r.DurationMS != int64(i) || r.FinishedAt == nil || r.StartedAt == nil || !r.StartedAt.Equal(at) ||
				!r.CreatedAt.Equal(at) || deref(r.InputJSON) != input || r.TriggerType != "invoke" || r.VersionID != fn.Active.ID {
				errs <- fmt.Errorf("finish %d: %+v %v", i, r, err)
				return
			}
			// What Finish returned is what the catalog holds.
			if row, err := c.Runs.Get(ctx, fn.ID, id); err != nil ||
				!cmp.Equal(row, r, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })) {
				errs <- fmt.Errorf("run %d in the catalog (-row +returned):\n%s %v", i, cmp.Diff(row, r), err)
				return
			}
			got, err := c.Runs.Logs(ctx, id)
			if err != nil {
				errs <- err
				return
			}
			if len(logs) == 0 {
				logs = []RunLog{}
			}
			if got == nil {
				got = []RunLog{}
			}
			if diff := cmp.Diff(logs, got, cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) })); diff != "" {
				errs <- fmt.Errorf("logs of run %d (-want +got):\n%s", i, diff)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRunWriter_FlushIsolatesBadRecords: a batch with the start and the
// end of runs of a function that is gone fails those two records alone
// (ErrNotFound); the others in the same flush are written, the end of a
// run without a row inserted whole.
func TestRunWriter_FlushIsolatesBadRecords(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	fn := testFunction(t, c)
	w := c.Runs.NewRunWriter()
	defer w.Close()

	start := func(id, fnID string) *runOp {
		return &runOp{start: &FunctionRun{ID: id, FunctionID: fnID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID, TriggerType: "invoke"},
			done: make(chan struct{})}
	}
	end := func(id, fnID string) *runOp {
		return &runOp{end: &RunEnd{Run: FunctionRun{ID: id, FunctionID: fnID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID, TriggerType: "invoke"},
			Status: "succeeded", Result: ptr(`"ok"`), Logs: []RunLog{{TS: time.Now(), Level: "log", Message: id}}},
			done: make(chan struct{})}
	}
	if _, err := w.Start(FunctionRun{ID: fn.ID + "-ended", FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID,
		TriggerType: "invoke"}); err != nil {
		t.Fatal(err)
	}
	good, gone, okEnd, noRun, goneEnd := start(fn.ID+"-good", fn.ID), start(fn.ID+"-gone", "no-such-function"), end(fn.ID+"-ended", fn.ID),
		end(fn.ID+"-none", fn.ID), end(fn.ID+"-gone-end", "no-such-function")
	batch := []*runOp{good, gone, okEnd, noRun, goneEnd}
	if _, err := c.Runs.writeMany(ctx, batch); err == nil {
		t.Fatal("one statement for a batch with a run of a missing function succeeded")
	}
	w.flush(batch)
	if good.err != nil || good.out.Status != "running" {
		t.Errorf("good start: %+v %v", good.out, good.err)
	}
	if !errors.Is(gone.err, ErrNotFound) {
		t.Errorf("start of a run of a missing function: %v; want ErrNotFound", gone.err)
	}
	if okEnd.err != nil || okEnd.out.Status != "succeeded" || deref(okEnd.out.ResultJSON) != `"ok"` {
		t.Errorf("end of a recorded run: %+v %v", okEnd.out, okEnd.err)
	}
	if logs, err := c.Runs.Logs(ctx, fn.ID+"-ended"); err != nil || len(logs) != 1 || logs[0].Message != fn.ID+"-ended" {
		t.Errorf("logs of the ended run: %v %v", logs, err)
	}
	if noRun.err != nil || noRun.out.Status != "succeeded" || noRun.out.StartedAt == nil {
		t.Errorf("end of a run without a row: %+v %v", noRun.out, noRun.err)
	}
	if !errors.Is(goneEnd.err, ErrNotFound) {
		t.Errorf("end of a run of a missing function: %v; want ErrNotFound", goneEnd.err)
	}

	// Without a bad record, one statement writes the batch; a start of a
	// run that has a row already records nothing.
	good2, noRun2, again := start(fn.ID+"-good2", fn.ID), end(fn.ID+"-none2", fn.ID), start(fn.ID+"-none", fn.ID)
	w.flush([]*runOp{good2, noRun2, again})
	if good2.err != nil || good2.out.ID != fn.ID+"-good2" {
		t.Errorf("start in a batch: %+v %v", good2.out, good2.err)
	}
	if noRun2.err != nil || noRun2.out.Status != "succeeded" {
		t.Errorf("end of a run without a row, in a batch: %+v %v", noRun2.out, noRun2.err)
	}
	if again.err == nil {
		t.Errorf("start of a run that ended: %+v; want an error", again.out)
	}
	if r, err := c.Runs.Get(ctx, fn.ID, fn.ID+"-none"); err != nil || r.Status != "succeeded" {
		t.Errorf("ended run after a late start: %+v %v", r, err)
	}
}

// TestRunWriter_AfterClose: a run that ends while the server shuts down
// (after Close) is still recorded.
func TestRunWriter_AfterClose(t *testing.T) {
	c := sharedCatalog(t)
	fn := testFunction(t, c)
	w := c.Runs.NewRunWriter()
	r, err := w.Start(FunctionRun{ID: fn.ID + "-late", FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID, TriggerType: "invoke"})
	if err != nil {
		t.Fatal(err)
	}
	w.Close()
	w.Close()
	if r, err = w.Finish(RunEnd{Run: r, Status: "failed", Error: ptr("shutting down")}); err != nil || r.Status != "failed" {
		t.Fatalf("finish after Close: %+v %v", r, err)
	}
}

func ptr(s string) *string { return &s }

// TestRuns_FailLost: the runs of a stopped process's journal that have no
// row are recorded failed with the reason and their start time; runs with
// a row, and runs of a function that is gone, are left alone.
func TestRuns_FailLost(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	fn := testFunction(t, c)
	w := c.Runs.NewRunWriter()
	defer w.Close()
	at := time.Now().Add(-time.Minute).UTC().Truncate(time.Microsecond)
	run := func(id, fnID string) FunctionRun {
		return FunctionRun{ID: fn.ID + id, FunctionID: fnID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID, TriggerType: "invoke",
			InputJSON: ptr(`{"x":1}`), StartedAt: &at}
	}
	lost, ended, gone := run("-lost", fn.ID), run("-ended", fn.ID), run("-gone", "no-such-function")
	if _, err := w.Finish(RunEnd{Run: ended, Status: "succeeded", Result: ptr("1")}); err != nil {
		t.Fatal(err)
	}
	n, err := c.Runs.FailLost(ctx, []FunctionRun{lost, ended, gone}, "lost")
	if err != nil || n != 1 {
		t.Fatalf("FailLost: %d %v; want 1", n, err)
	}
	r, err := c.Runs.Get(ctx, fn.ID, lost.ID)
	if err != nil || r.Status != "failed" || deref(r.Error) != "lost" || r.StartedAt == nil || !r.StartedAt.Equal(at) ||
		deref(r.InputJSON) != `{"x":1}` || r.DurationMS == nil || *r.DurationMS < 59_000 || r.FinishedAt == nil {
		t.Fatalf("lost run: %+v %v", r, err)
	}
	if r, err := c.Runs.Get(ctx, fn.ID, ended.ID); err != nil || r.Status != "succeeded" || r.Error != nil {
		t.Fatalf("recorded run: %+v %v", r, err)
	}
	if n, err := c.Runs.FailLost(ctx, []FunctionRun{lost}, "again"); err != nil || n != 0 {
		t.Fatalf("FailLost again: %d %v; want 0", n, err)
	}
}

// TestRunWriter_TakeBounds: a flush takes records until their logs pass
// the byte budget (the one that passes it included), at most max.
func TestRunWriter_TakeBounds(t *testing.T) {
	big := strings.Repeat("x", 5<<20)
	w := &RunWriter{}
	for range 4 {
		w.pending = append(w.pending, &runOp{end: &RunEnd{Logs: []RunLog{{Message: big}}}}, &runOp{start: &FunctionRun{}})
	}
	if b, n := w.take(maxFlushRecords, maxFlushLogBytes); len(b) != 3 || n != 10<<20 {
		t.Fatalf("took %d records, %d bytes; want 3, 10 MiB", len(b), n)
	}
	// Left: start, end, start, end, start. A budget of 0 still takes up
	// to the first record with logs (a run's logs are at most 1 MiB).
	if b, n := w.take(maxFlushRecords, 0); len(b) != 2 || n != 5<<20 {
		t.Fatalf("with no budget left: took %d records, %d bytes; want 2, 5 MiB", len(b), n)
	}
	if b, _ := w.take(2, maxFlushLogBytes); len(b) != 2 {
		t.Fatalf("took %d records; want max 2", len(b))
	}
}
