package scheduler

import (
	"context"
	"errors"
	"time"
)

// FunctionSchedule is a function with a cron_schedule.
type FunctionSchedule struct {
	DatabaseID string
	FunctionID string
	Schedule   string // five fields, UTC (ParseSchedule)
}

// FunctionSource lists the functions that have a schedule, in ACTIVE
// databases (the catalog, through whoever owns the functions' tables).
type FunctionSource interface {
	ScheduledFunctions(ctx context.Context) ([]FunctionSchedule, error)
}

// FunctionFirer starts a function's run for a tick (trigger_type "cron"),
// waking its database as the run needs. It returns an error wrapping
// ErrSkipped when a run of that function is still going: the tick is then
// skipped and logged, never queued.
type FunctionFirer interface {
	FireScheduled(ctx context.Context, databaseID, functionID string, tick time.Time) error
}

// FunctionFirerFunc adapts a function to FunctionFirer (e.g. the functions
// service's InvokeScheduled, whose run the scheduler does not need).
type FunctionFirerFunc func(ctx context.Context, databaseID, functionID string, tick time.Time) error

// FireScheduled implements FunctionFirer.
func (f FunctionFirerFunc) FireScheduled(ctx context.Context, databaseID, functionID string, tick time.Time) error {
	return f(ctx, databaseID, functionID, tick)
}

// ErrSkipped reports a tick not run because the previous run goes on.
var ErrSkipped = errors.New("previous run still going")
