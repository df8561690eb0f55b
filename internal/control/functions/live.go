package functions

import (
	"errors"
	"slices"
	"strings"
	"sync"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/runjournal"
)

// liveRuns are the runs in progress in this process. A run without an
// idempotency key has no catalog row until it ends (ADR 0007): this is
// where the reads of Runs find it meanwhile.
type liveRuns struct {
	mu   sync.Mutex
	runs map[string]*liveRun
}

// liveRun is a run in progress in this process.
type liveRun struct {
	run  Run           // as it started: status running
	done chan struct{} // closed once its end is recorded (or could not be)
}

func newLiveRuns() *liveRuns { return &liveRuns{runs: map[string]*liveRun{}} }

// add registers run as in progress; remove (when it is recorded) undoes it.
func (lr *liveRuns) add(run Run) *liveRun {
	l := &liveRun{run: run, done: make(chan struct{})}
	lr.mu.Lock()
	lr.runs[run.ID] = l
	lr.mu.Unlock()
	return l
}

func (lr *liveRuns) remove(l *liveRun) {
	lr.mu.Lock()
	delete(lr.runs, l.run.ID)
	lr.mu.Unlock()
	close(l.done)
}

// done is closed when run id, in progress here, has ended; nil when it
// is not in progress here.
func (lr *liveRuns) done(id string) chan struct{} {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if l := lr.runs[id]; l != nil {
		return l.done
	}
	return nil
}

// of returns the runs of function fnID in progress here.
func (lr *liveRuns) of(fnID string) []Run {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	var out []Run
	for _, l := range lr.runs {
		if l.run.FunctionID == fnID {
			out = append(out, l.run)
		}
	}
	return out
}

// get returns run id of function fnID when it is in progress here.
func (lr *liveRuns) get(fnID, id string) (Run, bool) {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	l := lr.runs[id]
	if l == nil || l.run.FunctionID != fnID {
		return Run{}, false
	}
	return l.run, true
}

// recordStart records the start of a run without a catalog row: in the
// run journal, or, without one (or when writing it fails), as a running
// row in the catalog.
func (f *Functions) recordStart(fn catalog.Function, run Run) (runjournal.Ticket, error) {
	if f.journal != nil {
		t, err := f.journal.Append(runjournal.Entry{ID: run.ID, FunctionID: run.FunctionID, DatabaseID: run.DatabaseID, VersionID: run.VersionID,
			Trigger: run.TriggerType, Input: run.InputJSON, StartedAt: *run.StartedAt})
		if err == nil {
			return t, nil
		}
		f.log.Error("write run journal; recording the run in the catalog instead", logkey.Run, run.ID, logkey.Err, err)
	}
	_, err := f.records.Start(run)
	if errors.Is(err, catalog.ErrNotFound) {
		f.fns.forget(fn.ID)
		return runjournal.Ticket{}, platform.NotFound("function")
	}
	return runjournal.Ticket{}, err
}

// showRunning writes the row of a run without one that is still running
// after showRunningAfter, so that other servers sharing the catalog list
// it too; its end updates the row.
func (f *Functions) showRunning(run Run) {
	if _, err := f.records.Start(run); err != nil && !errors.Is(err, catalog.ErrNotFound) {
		f.log.Warn("record a long run as running", logkey.Run, run.ID, logkey.Err, err)
	}
}

// withRunning merges the runs in progress here (of status running, not
// yet in the catalog) into rows, the catalog's list of a function's runs
// newest first, and keeps the newest limit. A run in both is the
// catalog's. live must be read before rows: a run that ends in between is
// then in rows.
func withRunning(rows, live []Run, limit int) []Run {
	if len(live) == 0 {
		return rows
	}
	in := make(map[string]bool, len(rows))
	for _, r := range rows {
		in[r.ID] = true
	}
	for _, r := range live {
		if !in[r.ID] {
			rows = append(rows, r)
		}
	}
	slices.SortStableFunc(rows, func(a, b Run) int {
		if c := b.CreatedAt.Compare(a.CreatedAt); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return rows[:min(len(rows), limit)]
}
