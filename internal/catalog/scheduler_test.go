package catalog

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Concurrent claims of one tick (two servers, or a restart racing the
// old process) have one winner; another tick or job is a new claim.
func TestCatalog_ClaimTick_OneWinner(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	tick := time.Now().UTC().Truncate(time.Minute).Add(time.Duration(time.Now().UnixNano()%1000) * time.Hour)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok, err := c.Scheduler.ClaimTick(ctx, "sql", "db1", "7", tick)
			if err != nil {
				t.Error(err)
			}
			if ok {
				wins.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wins.Load(); n != 1 {
		t.Fatalf("%d claims of one tick won, want 1", n)
	}
	for _, other := range []struct{ kind, job string }{{"sql", "8"}, {"function", "7"}} {
		if ok, err := c.Scheduler.ClaimTick(ctx, other.kind, "db1", other.job, tick); err != nil || !ok {
			t.Errorf("claim %v: %v %v, want a new claim", other, ok, err)
		}
	}
	if ok, _ := c.Scheduler.ClaimTick(ctx, "sql", "db1", "7", tick.Add(time.Minute)); !ok {
		t.Error("the next tick was already claimed")
	}
	if err := c.Scheduler.PruneClaims(ctx, tick.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if ok, _ := c.Scheduler.ClaimTick(ctx, "sql", "db1", "7", tick); !ok {
		t.Error("a pruned claim still blocks its tick")
	}
}

func TestCatalog_LastTick_NeverBack(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	t0 := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, tk := range []time.Time{t0, t0.Add(-time.Minute)} {
		if err := c.Scheduler.SetLastTick(ctx, tk); err != nil {
			t.Fatal(err)
		}
	}
	if got, err := c.Scheduler.LastTick(ctx); err != nil || !got.Equal(t0) {
		t.Fatalf("LastTick = %v %v, want %v", got, err, t0)
	}
}

// The jobs copy is replaced whole, listed only for ACTIVE databases, and
// ignored for a database that has no row.
func TestCatalog_ReplaceCronJobs(t *testing.T) {
	c := sharedCatalog(t)
	ctx := testCtx(t)
	d := insert(t, c, newCustomer(t, c), "cronjobs", 10)
	if err := c.Scheduler.ReplaceCronJobs(ctx, d.ID, []CronJob{{JobID: 1, Schedule: "* * * * *"}, {JobID: 2, Schedule: "@hourly"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Scheduler.ReplaceCronJobs(ctx, d.ID, []CronJob{{JobID: 2, Schedule: "@daily"}}); err != nil {
		t.Fatal(err)
	}
	if err := c.Scheduler.ReplaceCronJobs(ctx, "no-such-db", []CronJob{{JobID: 1, Schedule: "* * * * *"}}); err != nil {
		t.Fatalf("copy for a database without a row: %v", err)
	}
	all, err := c.Scheduler.CronJobs(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var mine []CronJob
	for _, j := range all {
		if j.DatabaseID == d.ID || j.DatabaseID == "no-such-db" {
			mine = append(mine, j)
		}
	}
	if diff := cmp.Diff([]CronJob{{DatabaseID: d.ID, JobID: 2, Schedule: "@daily"}}, mine); diff != "" {
		t.Errorf("jobs (-want +got):\n%s", diff)
	}
}
