package functions

import (
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/runjournal"
)

// liveRun is a run in progress in this process. A run without an
// idempotency key has no catalog row until it ends (ADR 0007): this is
// where the reads of Runs find it meanwhile.
type liveRun struct {
	run  Run           // as it started: status running
	done chan struct{} // closed once its end is recorded (or could not be)
}

// gatherWait is how long the run writer's flush may wait for the ends of
// other runs whose handlers are running (catalog.Gather). At 16 clients it
// doubles the runs per commit (about 4.5 to 9) and takes a fifth off the
// catalog's CPU per run (docs/BENCHMARKS.md, issue 14); an invoke alone
// never waits.
const gatherWait = 250 * time.Microsecond

// coming is the number of runs whose ends the run writer will be given
// soon: their handlers are running, for less than showRunningAfter.
func (f *Functions) coming() int { return int(f.ending.Load()) }

// runningOf returns the runs of function fnID in progress here.
func (f *Functions) runningOf(fnID string) []Run {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Run
	for _, l := range f.live {
		if l.run.FunctionID == fnID {
			out = append(out, l.run)
		}
	}
	return out
}

// runningRun returns run id of function fnID when it is in progress here.
func (f *Functions) runningRun(fnID, id string) (Run, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	l := f.live[id]
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
		f.forgetFunction(fn.ID)
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
