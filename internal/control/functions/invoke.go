package functions

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/runjournal"
)

// Run is a function run as the API shows it.
type Run = catalog.FunctionRun

// RunLog is one line of a run's logs.
type RunLog = catalog.RunLog

// InvokeRequest is the body of POST .../invoke.
type InvokeRequest struct {
	Input          json.RawMessage // nil: null
	IdempotencyKey string
}

// ErrRunSkipped is returned by InvokeScheduled when a run of the function
// is still in progress: the tick is skipped, never queued.
var ErrRunSkipped = errors.New("tick skipped: a run of the function is still in progress")

const (
	maxIdempotencyKey = 255
	maxInputBytes     = 1 << 20
)

// Invoke runs a function synchronously and returns the ended run. With an
// idempotency key used within 24 hours it runs nothing and returns that
// key's run, once it has ended.
func (f *Functions) Invoke(ctx context.Context, p tenancy.Principal, dbRef, fnRef string, req InvokeRequest) (Run, error) {
	db, err := f.database(ctx, p, dbRef, true)
	if err != nil {
		return Run{}, err
	}
	if len(req.IdempotencyKey) > maxIdempotencyKey {
		return Run{}, platform.Errorf(platform.CodeInvalid, "idempotency_key: at most %d bytes", maxIdempotencyKey)
	}
	if len(req.Input) > maxInputBytes {
		return Run{}, platform.Errorf(platform.CodeTooLarge, "input: at most %d bytes of JSON", maxInputBytes)
	}
	input := "null"
	if len(req.Input) > 0 {
		input = string(req.Input)
	}
	for attempt := 0; ; attempt++ {
		fn, err := f.fns.active(ctx, db.ID, fnRef)
		if err != nil {
			return Run{}, err
		}
		r := catalog.FunctionRun{ID: platform.NewID(16), FunctionID: fn.ID, DatabaseID: db.ID, VersionID: fn.Active.ID,
			TriggerType: "invoke", InputJSON: &input, IdempotencyKey: req.IdempotencyKey}
		if r.IdempotencyKey == "" {
			// Its start goes to the run journal, the run to the catalog
			// once it ended (ADR 0007).
			now := time.Now().UTC().Truncate(time.Microsecond)
			r.Status, r.CreatedAt, r.StartedAt = "running", now, &now
			return f.execute(ctx, fn, r, true)
		}
		run, created, err := f.cat.Runs.Start(ctx, r)
		if errors.Is(err, catalog.ErrNotFound) {
			// The cached function was deleted (through another server):
			// resolve it once more, from the catalog.
			f.fns.forget(fn.ID)
			if attempt == 0 {
				continue
			}
			return Run{}, platform.NotFound("function")
		}
		if err != nil {
			return Run{}, err
		}
		if !created {
			return f.awaitRun(ctx, fn.ID, run)
		}
		return f.execute(ctx, fn, run, false)
	}
}

// InvokeScheduled runs a function for the scheduler's tick: trigger_type
// "cron", input null. It moves next_run_at past tick, and returns
// ErrRunSkipped (running nothing) while a run of the function is still in
// progress. A function or database that is gone is platform.CodeNotFound.
func (f *Functions) InvokeScheduled(ctx context.Context, databaseID, functionID string, tick time.Time) (Run, error) {
	fn, err := f.function(ctx, databaseID, functionID)
	if err != nil {
		return Run{}, err
	}
	var next *time.Time
	if fn.CronSchedule != "" {
		t, err := NextRun(fn.CronSchedule, tick)
		if err != nil { // stored schedules were checked at deploy
			return Run{}, fmt.Errorf("function %s: %w", fn.ID, err)
		}
		next = &t
	}
	input := "null"
	run, err := f.cat.Runs.StartScheduled(ctx, catalog.FunctionRun{ID: platform.NewID(16), FunctionID: fn.ID, DatabaseID: databaseID,
		VersionID: fn.Active.ID, InputJSON: &input}, next)
	if errors.Is(err, catalog.ErrRunInProgress) {
		f.log.Info("scheduled run skipped: the previous run is still in progress", logkey.DB, databaseID, logkey.Function, fn.ID, logkey.Tick, tick.UTC())
		return Run{}, ErrRunSkipped
	}
	if errors.Is(err, catalog.ErrNotFound) {
		return Run{}, platform.NotFound("function")
	}
	if err != nil {
		return Run{}, err
	}
	return f.execute(ctx, fn, run, false)
}

// execute runs a run to its end and records how it ended. A fresh run
// has no catalog row: its start is recorded here (recordStart), its end
// inserts it. The run is detached from ctx (a client that goes away does
// not cut the run of those waiting on its idempotency key) but not from
// Close.
func (f *Functions) execute(ctx context.Context, fn catalog.Function, run Run, fresh bool) (Run, error) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return f.finish(fn, run, worker.Result{Status: "failed", Error: "the server is shutting down"}, runjournal.Ticket{})
	}
	f.runs.Add(1)
	f.mu.Unlock()
	l := f.live.add(run)
	defer func() {
		f.live.remove(l)
		f.runs.Done()
	}()
	var ticket runjournal.Ticket
	if fresh {
		var err error
		if ticket, err = f.recordStart(fn, run); err != nil {
			return Run{}, err
		}
	}

	v := fn.Active
	inv := worker.Invocation{DatabaseID: fn.DatabaseID, FunctionID: fn.ID, VersionID: v.ID, RunID: run.ID, Script: v.Script, LoadScript: f.fns.scriptLoader(v.ID),
		Export: v.Export, Limits: worker.Limits{TimeoutMS: v.TimeoutMS, MemoryMB: v.MemoryMB}, RunAs: v.RunAs, BypassRLS: v.BypassRLS,
		Scope: hostcall.Scope{Read: v.FS9Read, Write: v.FS9Write}, Trigger: run.TriggerType}
	if run.InputJSON != nil {
		inv.Input = json.RawMessage(*run.InputJSON)
	}
	var res worker.Result
	allow, err := egress.ParseAllowlist(v.NetworkAllowlist)
	if err == nil {
		inv.Allowlist = allow
		inv.Secrets, err = f.boundSecrets(ctx, fn.DatabaseID, v.SecretBindings)
	}
	if err != nil {
		f.log.Error("prepare function run", logkey.DB, fn.DatabaseID, logkey.Function, fn.ID, logkey.Run, run.ID, logkey.Err, err)
		res = worker.Result{Status: "failed", Error: "the run could not be prepared"}
	} else {
		// A run without a catalog row still going after showRunningAfter
		// is a long one: it gets its row, so that other servers list it.
		var long *time.Timer
		shown := make(chan struct{})
		if fresh && ticket != (runjournal.Ticket{}) { // not started in the catalog instead
			long = time.AfterFunc(showRunningAfter, func() {
				defer close(shown)
				f.showRunning(run)
			})
		}
		// f.base is the run's context as it is: ended by Close, not by
		// the request; nothing below reads the request's values (deriving
		// a context that would keep them cost ten allocations a run).
		res = f.pool.Invoke(f.base, inv, f.disp)
		if long != nil && !long.Stop() {
			<-shown // the running row is written before the end
		}
	}
	return f.finish(fn, run, res, ticket)
}

// showRunningAfter is how long a run without a catalog row runs before it
// gets one (showRunning).
const showRunningAfter = time.Second

// finish records a run's outcome; it outlives the request's context. The
// run's journal entry (t) is forgotten once the outcome is recorded.
func (f *Functions) finish(fn catalog.Function, run Run, res worker.Result, t runjournal.Ticket) (Run, error) {
	var result, errText *string
	if res.Status == "succeeded" {
		result = &res.ResultJSON
	}
	if res.Error != "" {
		errText = &res.Error
	}
	logs := make([]catalog.RunLog, len(res.Logs))
	for i, l := range res.Logs {
		logs[i] = catalog.RunLog{TS: l.TS, Level: l.Level, Message: l.Message}
	}
	// The writer's flush outlives the request's context, as it must.
	out, err := f.records.Finish(catalog.RunEnd{Run: run, Status: string(res.Status), Result: result, Error: errText,
		Duration: res.Duration, Logs: logs})
	if errors.Is(err, catalog.ErrNotFound) {
		// The function was deleted while it ran, or (through another
		// server) before, while this server's cache still had it.
		f.journal.End(t)
		f.fns.forget(fn.ID)
		return Run{}, platform.NotFound("function")
	}
	if err != nil {
		// The journal keeps the run: the next start records it failed.
		f.log.Error("record function run", logkey.DB, fn.DatabaseID, logkey.Function, fn.ID, logkey.Run, run.ID, logkey.Err, err)
		return Run{}, platform.Wrap(platform.CodeUnavailable, err, "the run ended but could not be recorded")
	}
	f.journal.End(t)
	if f.log.Enabled(f.base, slog.LevelDebug) { // its arguments alone cost allocations
		f.log.Debug("function run", logkey.DB, fn.DatabaseID, logkey.Function, fn.ID, logkey.Run, run.ID, logkey.Status, out.Status, logkey.Ms, res.Duration.Milliseconds())
	}
	if f.ended != nil {
		f.ended(out.Status)
	}
	return out, nil
}

// awaitRun returns run once it has ended: at once when it has, on this
// process's signal when it runs here, else by polling the catalog (it
// runs in another server process).
func (f *Functions) awaitRun(ctx context.Context, fnID string, run Run) (Run, error) {
	for run.Status == "queued" || run.Status == "running" {
		done := f.live.done(run.ID)
		wait := (<-chan time.Time)(nil)
		if done == nil {
			wait = time.After(100 * time.Millisecond)
		}
		select {
		case <-done:
		case <-wait:
		case <-ctx.Done():
			return Run{}, platform.Wrap(platform.CodeUnavailable, ctx.Err(), "request cancelled while waiting for the run of this idempotency key")
		}
		var err error
		if run, err = f.cat.Runs.Get(ctx, fnID, run.ID); err != nil {
			return Run{}, fmt.Errorf("read run: %w", err)
		}
	}
	return run, nil
}

// boundSecrets opens the values of the secrets a version binds; a bound
// name without a secret is absent (ctx.secrets.get answers undefined).
func (f *Functions) boundSecrets(ctx context.Context, dbID string, names []string) (map[string]string, error) {
	if len(names) == 0 {
		return nil, nil
	}
	all, err := f.cat.Secrets.List(ctx, dbID)
	if err != nil {
		return nil, fmt.Errorf("read secrets: %w", err)
	}
	out := map[string]string{}
	for _, s := range all {
		for _, n := range names {
			if n == s.Name {
				v, err := f.sealer.Open(s.ValueEnc)
				if err != nil {
					return nil, fmt.Errorf("open secret %s: %w", s.Name, err)
				}
				out[n] = v
			}
		}
	}
	return out, nil
}
