package scheduler

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
)

// Store is the catalog as the scheduler uses it (catalog.Scheduler).
type Store interface {
	CronJobs(ctx context.Context) ([]catalog.CronJob, error)
	ReplaceCronJobs(ctx context.Context, databaseID string, jobs []catalog.CronJob) error
	ActiveDatabaseIDs(ctx context.Context) ([]string, error)
	LastTick(ctx context.Context) (time.Time, error)
	SetLastTick(ctx context.Context, tick time.Time) error
	ClaimTick(ctx context.Context, kind, databaseID, job string, tick time.Time) (bool, error)
	PruneClaims(ctx context.Context, before time.Time) error
}

// Config configures a Scheduler.
type Config struct {
	Store     Store
	Placement placement.Connector
	// Functions lists scheduled functions and Firer runs them; either nil:
	// functions are not scheduled (the SQL jobs still are).
	Functions FunctionSource
	Firer     FunctionFirer
	// Tick is the scheduler's minute: time.Minute unless a test or a
	// benchmark shortens it (config.Server.SchedulerTick).
	Tick time.Duration
	// CatchUp is Due's window in ticks (DefaultCatchUp when 0).
	CatchUp int
	// MaxRuns bounds the runs going at once (16 when 0); a due job waits
	// for a place, and counts as running meanwhile.
	MaxRuns int
	Logger  *slog.Logger
	// Now is the clock (time.Now when nil), for tests.
	Now func() time.Time
}

// Scheduler fires due schedules once per tick. Open starts it, Close
// stops it and waits for the runs it started.
type Scheduler struct {
	cfg Config
	log *slog.Logger
	clk clock

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	slots  chan struct{}
	closed atomic.Bool
	lag    atomic.Int64

	mu      sync.Mutex
	running map[string]bool   // "kind/db/job" of runs in flight
	synced  map[string]string // database id → the job list last copied to the catalog
}

// New returns a Scheduler; it does no I/O.
func New(cfg Config) *Scheduler {
	if cfg.Tick <= 0 {
		cfg.Tick = time.Minute
	}
	if cfg.CatchUp <= 0 {
		cfg.CatchUp = DefaultCatchUp
	}
	if cfg.MaxRuns <= 0 {
		cfg.MaxRuns = 16
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Scheduler{cfg: cfg, log: cfg.Logger.With(logkey.Component, "scheduler"), clk: clock{cfg.Tick},
		slots: make(chan struct{}, cfg.MaxRuns), running: map[string]bool{}, synced: map[string]string{}}
}

// Open registers the idle-stop hook and starts the tick loop; the first
// pass (which fires the ticks missed while the server was down, per Due)
// runs at once.
func (s *Scheduler) Open(ctx context.Context) error {
	s.ctx, s.cancel = context.WithCancel(context.WithoutCancel(ctx))
	s.cfg.Placement.BeforeIdleStop(s.beforeIdleStop)
	s.wg.Add(1)
	go s.loop()
	return nil
}

// Close stops the loop, cancels the runs in progress (each records that it
// was cut off) and waits for them. It is idempotent.
func (s *Scheduler) Close(ctx context.Context) error {
	if s.cancel == nil || !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.cancel()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Lag is how late the last tick's work was dispatched: from the tick's
// boundary until every due job of it was claimed and started (a gauge for
// the metrics).
func (s *Scheduler) Lag() time.Duration { return time.Duration(s.lag.Load()) }

func (s *Scheduler) loop() {
	defer s.wg.Done()
	for {
		cur := s.clk.floor(s.cfg.Now())
		s.process(cur)
		wait := cur.Add(s.clk.tick).Sub(s.cfg.Now())
		t := time.NewTimer(max(wait, 0))
		select {
		case <-s.ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// process handles the tick cur (and those missed before it).
func (s *Scheduler) process(cur time.Time) {
	ctx := s.ctx
	last, err := s.cfg.Store.LastTick(ctx)
	if err != nil {
		s.logErr("read the last tick", err)
		return
	}
	if last.IsZero() { // a new catalog: start counting from here
		s.logErr("record the first tick", s.cfg.Store.SetLastTick(ctx, cur))
		return
	}
	ticks, skipped := Due(last, cur, s.clk.tick, s.cfg.CatchUp)
	if len(ticks) == 0 {
		return
	}
	if skipped > 0 {
		s.log.Warn("ticks missed while the scheduler was not running were skipped", "skipped", skipped,
			"last_tick", last, logkey.Tick, cur, "catch_up", s.cfg.CatchUp)
	}
	if len(ticks) > 1 {
		s.log.Info("catching up missed ticks: each job fires once, at its newest due tick", "ticks", len(ticks), "last_tick", last, logkey.Tick, cur)
	}
	s.syncRunning(ctx)
	s.fireSQLJobs(ctx, ticks)
	s.fireFunctions(ctx, ticks)
	s.lag.Store(int64(s.cfg.Now().Sub(cur)))
	if err := s.cfg.Store.SetLastTick(ctx, cur); err != nil {
		s.logErr("record the tick", err)
	}
	s.logErr("prune tick claims", s.cfg.Store.PruneClaims(ctx, cur.Add(-24*time.Hour)))
}

// fire claims (kind, db, job, tick) and, when this scheduler won the claim
// and no run of the same job is still going, runs run in a tracked
// goroutine.
func (s *Scheduler) fire(kind, db, job string, tick time.Time, run func(ctx context.Context)) {
	ok, err := s.cfg.Store.ClaimTick(s.ctx, kind, db, job, tick)
	if err != nil {
		s.logErr("claim a tick", err)
		return
	}
	if !ok {
		s.log.Debug("tick already claimed", "kind", kind, logkey.DB, db, "job", job, logkey.Tick, tick)
		return
	}
	key := kind + "/" + db + "/" + job
	s.mu.Lock()
	if s.running[key] {
		s.mu.Unlock()
		s.log.Warn("tick skipped: the previous run is still going", "kind", kind, logkey.DB, db, "job", job, logkey.Tick, tick)
		return
	}
	s.running[key] = true
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() {
			s.mu.Lock()
			delete(s.running, key)
			s.mu.Unlock()
		}()
		select {
		case s.slots <- struct{}{}:
		case <-s.ctx.Done():
			return
		}
		defer func() { <-s.slots }()
		run(s.ctx)
	}()
}

func (s *Scheduler) fireSQLJobs(ctx context.Context, ticks []time.Time) {
	jobs, err := s.cfg.Store.CronJobs(ctx)
	if err != nil {
		s.logErr("list cron jobs", err)
		return
	}
	for _, j := range jobs {
		sc, err := ParseSchedule(j.Schedule)
		if err != nil { // cron.job refuses these; a copy from a newer db9 might not parse here
			s.log.Warn("cron job with a schedule this server cannot read", logkey.DB, j.DatabaseID, "jobid", j.JobID, logkey.Err, err)
			continue
		}
		for _, t := range ticks {
			if sc.Matches(s.clk.minute(t)) {
				s.fire("sql", j.DatabaseID, jobKey(j.JobID), t, func(ctx context.Context) {
					s.runSQLJob(ctx, j.DatabaseID, j.JobID, t)
				})
				break
			}
		}
	}
}

func (s *Scheduler) fireFunctions(ctx context.Context, ticks []time.Time) {
	if s.cfg.Functions == nil || s.cfg.Firer == nil {
		return
	}
	fns, err := s.cfg.Functions.ScheduledFunctions(ctx)
	if err != nil {
		s.logErr("list scheduled functions", err)
		return
	}
	for _, f := range fns {
		sc, err := ParseSchedule(f.Schedule)
		if err != nil {
			s.log.Warn("function with a schedule this server cannot read", logkey.DB, f.DatabaseID, logkey.Function, f.FunctionID, logkey.Err, err)
			continue
		}
		for _, t := range ticks {
			if sc.Matches(s.clk.minute(t)) {
				s.fire("function", f.DatabaseID, f.FunctionID, t, func(ctx context.Context) {
					err := s.cfg.Firer.FireScheduled(ctx, f.DatabaseID, f.FunctionID, t)
					switch {
					case errors.Is(err, ErrSkipped):
						s.log.Warn("tick skipped: the function's previous run is still going", logkey.DB, f.DatabaseID, logkey.Function, f.FunctionID, logkey.Tick, t)
					case err != nil:
						s.log.Error("scheduled function failed to start", logkey.DB, f.DatabaseID, logkey.Function, f.FunctionID, logkey.Tick, t, logkey.Err, err)
					}
				})
				break
			}
		}
	}
}

func (s *Scheduler) logErr(what string, err error) {
	if err != nil && !errors.Is(err, context.Canceled) {
		s.log.Error(what, logkey.Err, err)
	}
}
