package functions

import (
	"context"
	"errors"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
)

// Runs holds the use cases that read what functions did: their runs and
// the logs of a run. Runs are recorded and pruned by Functions; the runs
// in progress in this process without a catalog row yet (ADR 0007) are
// read from it.
type Runs struct {
	resolver
	live *liveRuns // nil: none
}

// NewRuns returns the runs use cases; lookup is the database lookup of the
// /customer API, live the Functions that runs functions in this process
// (nil: none).
func NewRuns(cat *catalog.Catalog, lookup tenancy.DatabaseLookup, live *Functions) *Runs {
	rs := &Runs{resolver: resolver{cat: cat, lookup: lookup}}
	if live != nil {
		rs.live = live.live
	}
	return rs
}

// ListRuns lists a function's runs newest first (limit 1-1000, default 50;
// status one of the run statuses or "").
func (rs *Runs) ListRuns(ctx context.Context, p tenancy.Principal, dbRef, fnRef, status string, limit int) ([]Run, error) {
	switch status {
	case "", "queued", "running", "succeeded", "failed", "timed_out":
	default:
		return nil, platform.Errorf(platform.CodeInvalid, "status: must be queued, running, succeeded, failed or timed_out")
	}
	if limit == 0 {
		limit = 50
	}
	if limit < 1 || limit > 1000 {
		return nil, platform.Errorf(platform.CodeInvalid, "limit: must be from 1 to 1000")
	}
	db, err := rs.database(ctx, p, dbRef, false)
	if err != nil {
		return nil, err
	}
	fn, err := rs.function(ctx, db.ID, fnRef)
	if err != nil {
		return nil, err
	}
	var live []Run
	if rs.live != nil && (status == "" || status == "running") {
		live = rs.live.of(fn.ID) // before the catalog: see withRunning
	}
	rows, err := rs.cat.Runs.List(ctx, fn.ID, status, limit)
	if err != nil {
		return nil, err
	}
	return withRunning(rows, live, limit), nil
}

// GetRun reads one run of a function.
func (rs *Runs) GetRun(ctx context.Context, p tenancy.Principal, dbRef, fnRef, runID string) (Run, error) {
	db, err := rs.database(ctx, p, dbRef, false)
	if err != nil {
		return Run{}, err
	}
	fn, err := rs.function(ctx, db.ID, fnRef)
	if err != nil {
		return Run{}, err
	}
	if rs.live != nil {
		if r, ok := rs.live.get(fn.ID, runID); ok {
			return r, nil
		}
	}
	r, err := rs.cat.Runs.Get(ctx, fn.ID, runID)
	if errors.Is(err, catalog.ErrNotFound) {
		return r, platform.NotFound("run")
	}
	return r, err
}

// RunLogs reads a run's logs in order; a run in progress has none yet.
func (rs *Runs) RunLogs(ctx context.Context, p tenancy.Principal, dbRef, fnRef, runID string) ([]RunLog, error) {
	r, err := rs.GetRun(ctx, p, dbRef, fnRef, runID)
	if err != nil {
		return nil, err
	}
	if r.Status == "queued" || r.Status == "running" {
		return []RunLog{}, nil
	}
	return rs.cat.Runs.Logs(ctx, r.ID)
}
