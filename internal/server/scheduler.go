package server

import (
	"context"
	"errors"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/functions"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/scheduler"
)

// openScheduler starts the scheduler over the catalog, the placement
// driver and control's functions (open already with control).
func (s *Server) openScheduler(ctx context.Context, place placement.Connector) error {
	s.sched = scheduler.New(scheduler.Config{Store: s.cat.Scheduler, Placement: place, Tick: s.cfg.SchedulerTick, Logger: s.base,
		Functions: functionSchedules{s.cat}, Firer: scheduler.FunctionFirerFunc(fireFunction(s.svc.Functions))})
	if err := s.sched.Open(ctx); err != nil {
		return err
	}
	s.metrics.SetSchedulerLag(s.sched.Lag)
	return nil
}

// functionSchedules is the catalog's functions as the scheduler lists them.
type functionSchedules struct{ cat *catalog.Catalog }

func (f functionSchedules) ScheduledFunctions(ctx context.Context) ([]scheduler.FunctionSchedule, error) {
	fns, err := f.cat.Functions.Scheduled(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]scheduler.FunctionSchedule, len(fns))
	for i, fn := range fns {
		out[i] = scheduler.FunctionSchedule{DatabaseID: fn.DatabaseID, FunctionID: fn.FunctionID, Schedule: fn.CronSchedule}
	}
	return out, nil
}

// fireFunction runs a function for a tick; the run's outcome is in its
// record, so only not starting it is an error here.
func fireFunction(fns *functions.Functions) func(ctx context.Context, db, fn string, tick time.Time) error {
	return func(ctx context.Context, db, fn string, tick time.Time) error {
		_, err := fns.InvokeScheduled(ctx, db, fn, tick)
		switch {
		case errors.Is(err, functions.ErrRunSkipped):
			return scheduler.ErrSkipped
		case platform.ErrorCode(err) == platform.CodeNotFound: // deleted since it was listed
			return nil
		}
		return err
	}
}
