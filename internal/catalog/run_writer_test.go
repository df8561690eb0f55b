package catalog

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestRunWriter_ConcurrentStartsAndEnds: what many invokes record at
// once, through the group commit, is each run's own: running after
// Start, then its outcome and its logs in order after Finish.
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
			r, err := w.Start(FunctionRun{ID: id, FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID,
				TriggerType: "invoke", InputJSON: &input})
			if err != nil || r.ID != id || r.Status != "running" || deref(r.InputJSON) != input || r.StartedAt == nil {
				errs <- fmt.Errorf("start %d: %+v %v", i, r, err)
				return
			}
			// Committed before Start returned: another connection sees it.
			if got, err := c.Runs.Get(ctx, fn.ID, id); err != nil || got.Status != "running" {
				errs <- fmt.Errorf("run %d after Start: %+v %v", i, got, err)
				return
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
			r, err = w.Finish(RunEnd{ID: id, Status: status, Result: res, Error: errText, Duration: time.Duration(i) * time.Millisecond, Logs: logs})
			if err != nil || r.Status != status || deref(r.ResultJSON) != deref(res) || deref(r.Error) != deref(errText) ||
				r.DurationMS == nil || *r.DurationMS != int64(i) || r.FinishedAt == nil {
				errs <- fmt.Errorf("finish %d: %+v %v", i, r, err)
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

// TestRunWriter_FlushIsolatesBadRecords: a batch with a run of a function
// that is gone and the end of a run that is not there fails those two
// records alone (ErrNotFound); the others in the same flush are written.
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
	end := func(id string) *runOp {
		return &runOp{end: &RunEnd{ID: id, Status: "succeeded", Result: ptr(`"ok"`), Logs: []RunLog{{TS: time.Now(), Level: "log", Message: id}}},
			done: make(chan struct{})}
	}
	if _, err := w.Start(FunctionRun{ID: fn.ID + "-ended", FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID,
		TriggerType: "invoke"}); err != nil {
		t.Fatal(err)
	}
	good, gone, okEnd, noRun := start(fn.ID+"-good", fn.ID), start(fn.ID+"-gone", "no-such-function"), end(fn.ID+"-ended"), end(fn.ID+"-none")
	batch := []*runOp{good, gone, okEnd, noRun}
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
	if !errors.Is(noRun.err, ErrNotFound) {
		t.Errorf("end of a run that is not there: %v; want ErrNotFound", noRun.err)
	}

	// Without a bad record, one statement writes the batch, and an end
	// whose run is not there is still ErrNotFound.
	good2, noRun2 := start(fn.ID+"-good2", fn.ID), end(fn.ID+"-none2")
	w.flush([]*runOp{good2, noRun2})
	if good2.err != nil || good2.out.ID != fn.ID+"-good2" {
		t.Errorf("start in a batch: %+v %v", good2.out, good2.err)
	}
	if !errors.Is(noRun2.err, ErrNotFound) {
		t.Errorf("end of a run that is not there, in a batch: %v; want ErrNotFound", noRun2.err)
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
	if r, err = w.Finish(RunEnd{ID: r.ID, Status: "failed", Error: ptr("shutting down")}); err != nil || r.Status != "failed" {
		t.Fatalf("finish after Close: %+v %v", r, err)
	}
}

func ptr(s string) *string { return &s }
