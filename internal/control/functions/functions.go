package functions

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"sync"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/runjournal"
	"github.com/db9/db9/internal/s3store"
	"github.com/db9/db9/internal/sqlexec"
)

// Deps are the collaborators of Functions.
type Deps struct {
	Catalog *catalog.Catalog
	// Instances wakes databases for ctx.db and ctx.fs9 and for deploys.
	Instances placement.Connector
	Sealer    *auth.Sealer
	// Pool runs invocations in worker processes; the server opens it
	// before Functions.Open and closes it after Functions.Close.
	Pool *worker.Pool
	// Lookup is the database lookup of the /customer API.
	Lookup tenancy.DatabaseLookup
	// Fetcher performs fetch for functions; nil: a default one (public
	// HTTPS and HTTP origins only, system roots).
	Fetcher *egress.Fetcher
	// S3 reads s3:// bundles; nil: none configured (such deploys are 422).
	S3        *s3store.Store
	SQLLimits sqlexec.Limits
	Logger    *slog.Logger
	// RunEnded is told the status of every run as it is recorded
	// (metrics: observe.Metrics.FunctionRuns); nil: none.
	RunEnded func(status string)
	// RunJournal is the directory of this server's journal of runs in
	// progress (layout.Layout.RunJournal); "": none, every run is written
	// to the catalog at its start as well.
	RunJournal string
}

// Functions holds the use cases of db9 Functions (API.md "Functions,
// secrets, cron"): bundles, deploys and versions, synchronous and
// scheduled invocations with idempotency, and the retention of runs.
// Reading runs and logs is Runs'; database secrets are Secrets'. The
// runtime (internal/functions) executes the code; Functions decides what
// runs, under which grant, and records it.
type Functions struct {
	resolver // cat, lookup
	inst     placement.Connector
	sealer   *auth.Sealer
	pool     *worker.Pool
	log      *slog.Logger
	host     *fnHost
	disp     *hostcall.Dispatcher
	bundles  bundleReader        // deploy.go
	fns      *fnCache            // fncache.go
	records  *catalog.RunWriter  // run records, group commit
	jdir     string              // Deps.RunJournal
	journal  *runjournal.Journal // set by Open; nil without jdir
	live     *liveRuns           // runs in progress here (live.go)

	mu      sync.Mutex
	closed  bool
	runs    sync.WaitGroup // runs in progress, recorded before Close returns
	stop    chan struct{}  // closed by Close: the prune loop ends
	cancel  context.CancelFunc
	base    context.Context // runs are detached from requests, not from Close
	pruneWG sync.WaitGroup
	ended   func(status string) // Deps.RunEnded
}

// Retention of runs: a run is kept while it is younger than RunRetention
// or among the newest RunRetentionCount of its function.
const (
	RunRetention      = 7 * 24 * time.Hour
	RunRetentionCount = 1000
	pruneEvery        = time.Hour
)

// New wires the functions use cases. It does no I/O.
func New(d Deps) *Functions {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(logkey.Component, "functions")
	fetcher := d.Fetcher
	if fetcher == nil {
		fetcher = &egress.Fetcher{}
	}
	host := newFnHost(d.Instances, d.SQLLimits, log)
	base, cancel := context.WithCancel(context.Background())
	f := &Functions{resolver: resolver{cat: d.Catalog, lookup: d.Lookup}, inst: d.Instances, sealer: d.Sealer, pool: d.Pool, log: log,
		host: host, disp: &hostcall.Dispatcher{DB: host, FS: host, Fetcher: fetcher}, fns: newFnCache(d.Catalog),
		bundles: bundleReader{cat: d.Catalog, host: host, s3: d.S3},
		jdir:    d.RunJournal, live: newLiveRuns(), stop: make(chan struct{}), base: base, cancel: cancel, ended: d.RunEnded}
	f.records = d.Catalog.Runs.NewRunWriter()
	return f
}

// runLostReason is the error of runs a previous process left unfinished.
const runLostReason = "the server stopped while the run was in progress"

// Open marks the runs a previous process left unfinished as failed (no
// run survives its process): those of its run journal that have no row,
// and the rows still queued or running. Then it starts a new journal,
// prunes old runs and starts the periodic prune; control.Service.Open
// calls it.
func (f *Functions) Open(ctx context.Context) error {
	if f.jdir != "" {
		ents, err := runjournal.Read(f.jdir)
		if err != nil {
			return err
		}
		lost := make([]catalog.FunctionRun, len(ents))
		for i, e := range ents {
			lost[i] = catalog.FunctionRun{ID: e.ID, FunctionID: e.FunctionID, DatabaseID: e.DatabaseID, VersionID: e.VersionID,
				TriggerType: e.Trigger, InputJSON: e.Input, StartedAt: &e.StartedAt}
		}
		n, err := f.cat.Runs.FailLost(ctx, lost, runLostReason)
		if err != nil {
			return err
		}
		if n > 0 {
			f.log.Info("marked runs of a previous process failed", logkey.Count, n)
		}
		// Only now: until the lost runs are recorded, the old journal is
		// what remembers them.
		if f.journal, err = runjournal.Open(f.jdir); err != nil {
			return err
		}
	}
	n, err := f.cat.Runs.FailUnfinished(ctx, runLostReason)
	if err != nil {
		return fmt.Errorf("fail unfinished runs: %w", err)
	}
	if n > 0 {
		f.log.Info("marked runs of a previous process failed", logkey.Count, n)
	}
	f.pruneWG.Add(1)
	go f.pruneLoop()
	return nil
}

// Close lets the runs in progress end (the pool's Close, after this one,
// ends their workers) and stops the prune; control.Service.Close calls
// it. When ctx ends first, the runs are cut off. It is idempotent.
func (f *Functions) Close(ctx context.Context) {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	f.closed = true
	f.mu.Unlock()
	close(f.stop)
	f.pruneWG.Wait()
	done := make(chan struct{})
	go func() { f.runs.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		f.cancel()
		<-done
	}
	f.cancel()
	f.records.Close()
	if f.journal != nil {
		// Its file stays when a run's outcome could not be recorded.
		if err := f.journal.Close(); err != nil {
			f.log.Warn("close run journal", logkey.Err, err)
		}
	}
	f.host.close()
}

func (f *Functions) pruneLoop() {
	defer f.pruneWG.Done()
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-f.stop:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(f.base, time.Minute)
		n, err := f.cat.Runs.Prune(ctx, RunRetention, RunRetentionCount)
		cancel()
		if err != nil {
			f.log.Warn("prune function runs", logkey.Err, err)
		} else if n > 0 {
			f.log.Info("pruned function runs", logkey.Count, n)
		}
		t.Reset(pruneEvery)
	}
}

// ForgetDatabase drops a deleted database's functions (their schedules
// stop), runs and secrets, and its connection pools.
func (f *Functions) ForgetDatabase(id string) {
	ctx, cancel := context.WithTimeout(f.base, 30*time.Second)
	defer cancel()
	if err := f.cat.Functions.DeleteForDatabase(ctx, id); err != nil {
		f.log.Error("delete functions of a deleted database", logkey.DB, id, logkey.Err, err)
	}
	f.fns.forgetDatabase(id)
	f.host.forget(id)
}

// resolver finds what a call names: the caller's database and one of its
// functions. Functions, Runs and Secrets share it.
type resolver struct {
	cat    *catalog.Catalog
	lookup tenancy.DatabaseLookup
}

// database looks up the caller's ACTIVE database; write asks for rw access.
func (r resolver) database(ctx context.Context, p tenancy.Principal, idOrName string, write bool) (platform.Database, error) {
	db, err := r.lookup(ctx, p, idOrName)
	if err != nil {
		return db, err
	}
	if write {
		if err := tenancy.RequireWrite(p, db.ID); err != nil {
			return db, err
		}
	}
	if db.State != platform.StateActive {
		return db, platform.Errorf(platform.CodeConflict, "database is %s, not ACTIVE", db.State)
	}
	return db, nil
}

// function finds a function of db by id or name.
func (r resolver) function(ctx context.Context, dbID, idOrName string) (catalog.Function, error) {
	fn, err := r.cat.Functions.Get(ctx, dbID, idOrName)
	if errors.Is(err, catalog.ErrNotFound) {
		return fn, platform.NotFound("function")
	}
	return fn, err
}

var functionName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$`)

// GetFunction reads a function by id or name.
func (f *Functions) GetFunction(ctx context.Context, p tenancy.Principal, dbRef, fnRef string) (FunctionInfo, error) {
	db, err := f.database(ctx, p, dbRef, false)
	if err != nil {
		return FunctionInfo{}, err
	}
	fn, err := f.function(ctx, db.ID, fnRef)
	return functionInfo(fn), err
}

// ListFunctions lists a database's functions by name.
func (f *Functions) ListFunctions(ctx context.Context, p tenancy.Principal, dbRef string) ([]FunctionInfo, error) {
	db, err := f.database(ctx, p, dbRef, false)
	if err != nil {
		return nil, err
	}
	fns, err := f.cat.Functions.List(ctx, db.ID)
	if err != nil {
		return nil, fmt.Errorf("list functions: %w", err)
	}
	out := make([]FunctionInfo, len(fns))
	for i, fn := range fns {
		out[i] = functionInfo(fn)
	}
	return out, nil
}

// DeleteFunction removes a function, its schedule and its runs.
func (f *Functions) DeleteFunction(ctx context.Context, p tenancy.Principal, dbRef, fnRef string) error {
	db, err := f.database(ctx, p, dbRef, true)
	if err != nil {
		return err
	}
	fn, err := f.function(ctx, db.ID, fnRef)
	if err != nil {
		return err
	}
	err = f.cat.Functions.Delete(ctx, db.ID, fn.ID)
	f.fns.forget(fn.ID)
	if errors.Is(err, catalog.ErrNotFound) {
		return platform.NotFound("function")
	} else if err != nil {
		return fmt.Errorf("delete function: %w", err)
	}
	return nil
}

// FunctionInfo is a function as the API shows it.
type FunctionInfo struct {
	ID               string
	Name             string
	VersionID        string
	Version          int
	Entrypoint       string
	BundleRef        string
	BundleDigest     string
	RunAs            string
	BypassRLS        bool
	Limits           worker.Limits
	NetworkAllowlist []string
	FS9Scope         hostcall.Scope
	SecretBindings   []string
	CronSchedule     string // "" without one
	NextRunAt        *time.Time
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

func functionInfo(fn catalog.Function) FunctionInfo {
	v := fn.Active
	return FunctionInfo{ID: fn.ID, Name: fn.Name, VersionID: v.ID, Version: v.Version, Entrypoint: v.Entrypoint,
		BundleRef: v.BundleRef, BundleDigest: v.BundleDigest, RunAs: v.RunAs, BypassRLS: v.BypassRLS,
		Limits: worker.Limits{TimeoutMS: v.TimeoutMS, MemoryMB: v.MemoryMB}, NetworkAllowlist: v.NetworkAllowlist,
		FS9Scope: hostcall.Scope{Read: v.FS9Read, Write: v.FS9Write}, SecretBindings: v.SecretBindings,
		CronSchedule: fn.CronSchedule, NextRunAt: fn.NextRunAt, CreatedAt: fn.CreatedAt, UpdatedAt: fn.UpdatedAt}
}
