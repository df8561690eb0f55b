package functions

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/runjournal"
)

// runsEnv is a real catalog (an external cluster) with one customer, one
// database and two functions, and the run journal directory of a server.
type runsEnv struct {
	cat      *catalog.Catalog
	p        tenancy.Principal
	db       catalog.DatabaseRow
	fn, fn2  catalog.Function
	jdir     string
	lookupFn tenancy.DatabaseLookup
}

func newRunsEnv(t *testing.T) *runsEnv {
	t.Helper()
	cl := pgtest.Start(t)
	cat := catalog.New(catalog.Config{URL: cl.ConnString(pgtest.Superuser)})
	ctx := context.Background()
	if err := cat.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cat.Close(context.Background()) })
	cust, err := cat.Accounts.Create(ctx, platform.Customer{ID: platform.NewUUID(), IsAnonymous: true}, auth.HashToken("s"+platform.NewID(8)),
		platform.NewID(16), "t", auth.HashToken(platform.NewID(20)), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	db, err := cat.Databases.Insert(ctx, catalog.DatabaseRow{Database: platform.Database{ID: platform.NewID(12), CustomerID: cust.ID,
		Name: "app", State: platform.StateActive, Region: "local"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	e := &runsEnv{cat: cat, p: tenancy.Principal{Customer: cust}, db: db, jdir: t.TempDir()}
	e.lookupFn = func(ctx context.Context, p tenancy.Principal, ref string) (platform.Database, error) {
		row, err := cat.Databases.Get(ctx, p.Customer.ID, ref)
		if errors.Is(err, catalog.ErrNotFound) {
			return platform.Database{}, platform.NotFound("database")
		}
		return row.Database, err
	}
	e.fn, e.fn2 = e.function(t, "one"), e.function(t, "two")
	return e
}

func (e *runsEnv) function(t *testing.T, name string) catalog.Function {
	t.Helper()
	id := platform.NewID(12)
	fn, err := e.cat.Functions.Create(context.Background(), catalog.Function{ID: "f-" + id, DatabaseID: e.db.ID, Name: name,
		Active: catalog.FunctionVersion{ID: "v-" + id, Entrypoint: "index.handler", BundleRef: "db9://x", BundleDigest: "sha256:0",
			Export: "handler", RunAs: "authenticated", TimeoutMS: 1000, MemoryMB: 64, NetworkAllowlist: []string{}, FS9Read: []string{},
			FS9Write: []string{}, SecretBindings: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

// open starts the functions use cases of a server over the env, as
// control.Service.Open does.
func (e *runsEnv) open(t *testing.T) (*Functions, *Runs) {
	t.Helper()
	f := New(Deps{Catalog: e.cat, Lookup: e.lookupFn, RunJournal: e.jdir})
	if err := f.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	return f, NewRuns(e.cat, e.lookupFn, f)
}

func (e *runsEnv) newRun(fn catalog.Function, at time.Time) Run {
	in := `{"n":1}`
	at = at.UTC().Truncate(time.Microsecond)
	return Run{ID: platform.NewID(16), FunctionID: fn.ID, DatabaseID: e.db.ID, VersionID: fn.Active.ID, Status: "running",
		TriggerType: "invoke", InputJSON: &in, CreatedAt: at, StartedAt: &at}
}

// TestFunctions_JournalRecovery: a run whose start is in the journal of a
// process that was killed, with no catalog row, is recorded failed at the
// next Open, with the reason and its start; a run whose end was recorded
// is left as it is; the journal is emptied.
func TestFunctions_JournalRecovery(t *testing.T) {
	e := newRunsEnv(t)
	ctx := context.Background()
	f, _ := e.open(t)
	lost, ended := e.newRun(e.fn, time.Now().Add(-time.Minute)), e.newRun(e.fn, time.Now())
	for _, r := range []Run{lost, ended} {
		if _, err := f.recordStart(e.fn, r); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.records.Finish(catalog.RunEnd{Run: ended, Status: "succeeded", Result: ptr(`"ok"`)}); err != nil {
		t.Fatal(err)
	}
	// Killed: no Close. The journal file is as the process left it.
	if ents, err := runjournal.Read(e.jdir); err != nil || len(ents) != 2 {
		t.Fatalf("journal after the kill: %v %v", ents, err)
	}
	if _, err := e.cat.Runs.Get(ctx, e.fn.ID, lost.ID); !errors.Is(err, catalog.ErrNotFound) {
		t.Fatalf("a run in progress has a catalog row: %v", err)
	}

	f2, rs := e.open(t)
	defer f2.Close(ctx)
	got, err := rs.GetRun(ctx, e.p, e.db.ID, e.fn.Name, lost.ID)
	if err != nil || got.Status != "failed" || deref(got.Error) != runLostReason || got.StartedAt == nil || !got.StartedAt.Equal(*lost.StartedAt) ||
		deref(got.InputJSON) != `{"n":1}` || got.TriggerType != "invoke" {
		t.Fatalf("run cut by the kill: %+v %v", got, err)
	}
	if got, err := rs.GetRun(ctx, e.p, e.db.ID, e.fn.Name, ended.ID); err != nil || got.Status != "succeeded" || got.Error != nil {
		t.Fatalf("run recorded before the kill: %+v %v", got, err)
	}
	if ents, err := runjournal.Read(e.jdir); err != nil || len(ents) != 0 {
		t.Fatalf("journal after Open: %v %v", ents, err)
	}
	f.records.Close()

	// Without a journal to write (here: closed), a run's start is a
	// running row in the catalog, as before the journal.
	if err := f2.journal.Close(); err != nil {
		t.Fatal(err)
	}
	late := e.newRun(e.fn, time.Now())
	if _, err := f2.recordStart(e.fn, late); err != nil {
		t.Fatal(err)
	}
	if got, err := e.cat.Runs.Get(ctx, e.fn.ID, late.ID); err != nil || got.Status != "running" {
		t.Fatalf("start without a journal: %+v %v", got, err)
	}
	if _, err := f2.recordStart(e.fn2, e.newRun(catalog.Function{ID: "gone", Active: e.fn.Active}, time.Now())); platform.ErrorCode(err) != platform.CodeNotFound {
		t.Fatalf("start of a run of a function that is gone: %v; want not found", err)
	}
}

// TestRuns_ListsRunsInProgress: the runs in progress in this process,
// which have no catalog row, are listed (newest first, with status
// running and no status filter, not with another status), read by id
// with empty logs, and only under their own function.
func TestRuns_ListsRunsInProgress(t *testing.T) {
	e := newRunsEnv(t)
	ctx := context.Background()
	f, rs := e.open(t)
	defer f.Close(ctx)
	old := e.newRun(e.fn, time.Now().Add(-time.Hour))
	if _, err := f.records.Finish(catalog.RunEnd{Run: old, Status: "succeeded", Result: ptr("1")}); err != nil {
		t.Fatal(err)
	}
	running, other := e.newRun(e.fn, time.Now()), e.newRun(e.fn2, time.Now())
	var ls []*liveRun
	for _, r := range []Run{running, other} {
		ls = append(ls, f.live.add(r))
	}

	ids := func(status string, limit int) []string {
		t.Helper()
		runs, err := rs.ListRuns(ctx, e.p, e.db.ID, e.fn.Name, status, limit)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, r := range runs {
			out = append(out, r.ID+":"+r.Status)
		}
		return out
	}
	want := func(got []string, want ...string) {
		t.Helper()
		if len(got) != len(want) {
			t.Fatalf("runs %v; want %v", got, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("runs %v; want %v", got, want)
			}
		}
	}
	want(ids("running", 0), running.ID+":running")
	want(ids("", 0), running.ID+":running", old.ID+":succeeded")
	want(ids("", 1), running.ID+":running")
	want(ids("succeeded", 0), old.ID+":succeeded")

	got, err := rs.GetRun(ctx, e.p, e.db.ID, e.fn.Name, running.ID)
	if err != nil || got.Status != "running" || got.ID != running.ID {
		t.Fatalf("run in progress: %+v %v", got, err)
	}
	if logs, err := rs.RunLogs(ctx, e.p, e.db.ID, e.fn.Name, running.ID); err != nil || logs == nil || len(logs) != 0 {
		t.Fatalf("logs of a run in progress: %v %v", logs, err)
	}
	if _, err := rs.GetRun(ctx, e.p, e.db.ID, e.fn.Name, other.ID); platform.ErrorCode(err) != platform.CodeNotFound {
		t.Fatalf("another function's run in progress under this one: %v", err)
	}

	// Once it ended and is recorded, the catalog's row is the one listed,
	// also while the run is still in memory (as execute leaves it until
	// the end is committed).
	if _, err := f.records.Finish(catalog.RunEnd{Run: running, Status: "failed", Error: ptr("boom")}); err != nil {
		t.Fatal(err)
	}
	want(ids("", 0), running.ID+":failed", old.ID+":succeeded")
	for _, l := range ls {
		f.live.remove(l)
	}
	want(ids("running", 0))
}

func ptr(s string) *string { return &s }

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
