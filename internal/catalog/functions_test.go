package catalog

import (
	"errors"
	"testing"
	"time"
)

func testFunction(t *testing.T, c *Catalog) Function {
	t.Helper()
	ctx := testCtx(t)
	db := insert(t, c, newCustomer(t, c), "fn", 0)
	next := time.Now().Add(-time.Minute).UTC()
	fn, err := c.Functions.Create(ctx, Function{ID: "f-" + db.ID, DatabaseID: db.ID, Name: "tick", CronSchedule: "* * * * *", NextRunAt: &next,
		Active: FunctionVersion{ID: "v-" + db.ID, Entrypoint: "index.handler", BundleRef: "db9://x", BundleDigest: "sha256:0", Script: "",
			Export: "handler", RunAs: "authenticated", TimeoutMS: 1000, MemoryMB: 64, NetworkAllowlist: []string{}, FS9Read: []string{},
			FS9Write: []string{}, SecretBindings: []string{}}})
	if err != nil {
		t.Fatal(err)
	}
	return fn
}

func TestCatalog_StartScheduledRun_SkipsWhileRunning(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	fn := testFunction(t, c)
	if due, err := c.Functions.Due(ctx, time.Now(), 1000); err != nil || !containsFn(due, fn.ID) {
		t.Fatalf("due %v %v; want the function", due, err)
	}
	next := time.Now().Add(time.Minute).UTC().Truncate(time.Second)
	r, err := c.Runs.StartScheduled(ctx, FunctionRun{ID: "r1-" + fn.ID, FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID}, &next)
	if err != nil || r.Status != "running" || r.TriggerType != "cron" {
		t.Fatalf("first tick: %+v %v", r, err)
	}
	later := next.Add(time.Minute)
	if _, err := c.Runs.StartScheduled(ctx, FunctionRun{ID: "r2-" + fn.ID, FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID}, &later); !errors.Is(err, ErrRunInProgress) {
		t.Fatalf("second tick while running: %v; want ErrRunInProgress", err)
	}
	got, _ := c.Functions.Get(ctx, fn.DatabaseID, fn.ID)
	if got.NextRunAt == nil || !got.NextRunAt.Equal(later) {
		t.Fatalf("next_run_at after a skipped tick: %v; want %v", got.NextRunAt, later)
	}
	if due, _ := c.Functions.Due(ctx, time.Now(), 1000); containsFn(due, fn.ID) {
		t.Fatal("the function is still due after its tick")
	}
	if n, err := c.Runs.FailUnfinished(ctx, "lost"); err != nil || n < 1 {
		t.Fatalf("fail unfinished: %d %v", n, err)
	}
	if r, _ := c.Runs.Get(ctx, fn.ID, "r1-"+fn.ID); r.Status != "failed" || deref(r.Error) != "lost" {
		t.Fatalf("unfinished run: %+v", r)
	}
	if _, err := c.Runs.StartScheduled(ctx, FunctionRun{ID: "r3-" + fn.ID, FunctionID: fn.ID, DatabaseID: fn.DatabaseID, VersionID: fn.Active.ID}, &later); err != nil {
		t.Fatalf("tick after the run ended: %v", err)
	}
}

func TestCatalog_PruneRuns_KeepsNewestOrRecent(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	fn := testFunction(t, c)
	// 5 old runs and 1 recent: keep=2 keeps the 2 newest (1 recent, 1 old); age keeps the recent one anyway.
	if _, err := c.Pool().Exec(ctx, `INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type, created_at)
		SELECT $1 || n, $1, $2, $3, 'succeeded', 'invoke', now() - make_interval(days => 10 + n) FROM generate_series(1, 5) n`,
		fn.ID, fn.DatabaseID, fn.Active.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pool().Exec(ctx, `INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type)
		VALUES ($1 || 'new', $1, $2, $3, 'succeeded', 'invoke')`, fn.ID, fn.DatabaseID, fn.Active.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Runs.Prune(ctx, 7*24*time.Hour, 2); err != nil {
		t.Fatal(err)
	}
	runs, err := c.Runs.List(ctx, fn.ID, "", 100)
	if err != nil || len(runs) != 2 || runs[0].ID != fn.ID+"new" || runs[1].ID != fn.ID+"1" {
		t.Fatalf("after prune: %d runs %v", len(runs), err)
	}
}

func containsFn(due []ScheduledFunction, id string) bool {
	for _, d := range due {
		if d.FunctionID == id {
			return true
		}
	}
	return false
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
