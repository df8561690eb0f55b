package e2e

import (
	"fmt"
	"testing"
	"time"
)

// cronTick is the scheduler's minute in these tests (DB9_TEST_SCHEDULER_TICK).
const cronTick = 4 * time.Second

// hitsSQL is the table a job writes the tick it ran for into: the primary
// key makes a second run of one tick fail (and show as failed).
const hitsSQL = `CREATE TABLE hits (tick timestamptz PRIMARY KEY, pid int NOT NULL DEFAULT pg_backend_pid(),
	ran_at timestamptz NOT NULL DEFAULT clock_timestamp())`

const hitJob = `SELECT cron.schedule('tick', '* * * * *', $$INSERT INTO hits (tick) VALUES (current_setting('db9.cron_tick')::timestamptz)$$)`

// ticksOf reads the ticks a database's job ran for, in order.
func ticksOf(t *testing.T, c *Client, db string) []time.Time {
	t.Helper()
	r := c.MustSQL(db, `SELECT (extract(epoch FROM tick) * 1000)::bigint FROM hits ORDER BY tick`)
	out := make([]time.Time, len(r.Rows))
	for i, row := range r.Rows {
		ms, ok := row[0].(float64)
		if !ok {
			t.Fatalf("tick %v is not a number", row[0])
		}
		out[i] = time.UnixMilli(int64(ms))
	}
	return out
}

// checkRuns fails unless every run recorded in cron.job_run_details
// succeeded, there is one per hit, and the ticks are consecutive (none
// lost) from first to last.
func checkRuns(t *testing.T, c *Client, db string, ticks []time.Time) {
	t.Helper()
	r := c.MustSQL(db, `SELECT status, count(*), string_agg(DISTINCT return_message, ' | ') FROM cron.job_run_details GROUP BY status`)
	var succeeded int
	for _, row := range r.Rows {
		n, _ := row[1].(float64)
		if row[0] != "succeeded" {
			t.Errorf("%v runs ended %v: %v", n, row[0], row[2])
			continue
		}
		succeeded = int(n)
		if row[2] != "INSERT 0 1" {
			t.Errorf("return_message of succeeded runs = %v, want INSERT 0 1", row[2])
		}
	}
	if succeeded != len(ticks) {
		t.Errorf("%d succeeded runs for %d ticks", succeeded, len(ticks))
	}
	for i := 1; i < len(ticks); i++ {
		if d := ticks[i].Sub(ticks[i-1]); d != cronTick {
			t.Errorf("ticks %v and %v are %v apart, want %v (a tick lost)", ticks[i-1], ticks[i], d, cronTick)
		}
	}
}

// TestCron_SQLJob: a `* * * * *` job
// fires once per tick while its database is stopped for idleness between
// runs; a server restart across a tick neither loses nor doubles it; a
// branch has the parent's jobs and runs them.
func TestCron_SQLJob(t *testing.T) {
	t.Setenv("DB9_TEST_SCHEDULER_TICK", cronTick.String())
	s := StartServer(t, "--idle-timeout", "1s")
	c := s.Anonymous()
	db := c.CreateDB("cronjobs")
	c.MustSQL(db.ID, hitsSQL)
	if r := c.MustSQL(db.ID, hitJob); len(r.Rows) != 1 {
		t.Fatalf("cron.schedule answered %+v", r)
	}

	// Watch the postmaster only (any SQL would keep the database awake):
	// three runs, each waking a stopped instance that stops again.
	woken := map[int]bool{}
	var stops int
	last := s.postmasterOf(db.ID)
	waitFor(t, 8*cronTick, "three wakes by the scheduler, each followed by an idle stop", func() bool {
		pid := s.postmasterOf(db.ID)
		if pid != last {
			if pid == 0 {
				stops++
			} else if stops > 0 {
				woken[pid] = true
			}
			last = pid
		}
		return len(woken) >= 3 && pid == 0
	})
	ticks := ticksOf(t, c, db.ID)
	if len(ticks) < 3 {
		t.Fatalf("job ran for %d ticks, want at least 3", len(ticks))
	}
	checkRuns(t, c, db.ID, ticks)
	if r := c.MustSQL(db.ID, `SELECT count(DISTINCT pid) FROM hits`); fmt.Sprint(r.Rows[0][0]) != fmt.Sprint(len(ticks)) {
		t.Errorf("runs shared sessions: %v distinct pids for %d runs", r.Rows[0][0], len(ticks))
	}

	// Restart across a tick: stop just before a boundary, start just after.
	boundary := time.Now().Truncate(cronTick).Add(cronTick)
	if time.Until(boundary) < 2*time.Second {
		boundary = boundary.Add(cronTick)
	}
	time.Sleep(time.Until(boundary.Add(-1500 * time.Millisecond)))
	s.Stop()
	if time.Now().After(boundary) {
		t.Skip("the server took longer than 1.5s to stop: cannot place the restart across a tick")
	}
	time.Sleep(time.Until(boundary.Add(200 * time.Millisecond)))
	s.Start()
	time.Sleep(time.Until(boundary.Add(cronTick + 1500*time.Millisecond)))
	ticks = ticksOf(t, c, db.ID)
	checkRuns(t, c, db.ID, ticks)
	var missed, after bool
	for _, tk := range ticks {
		missed = missed || tk.Equal(boundary)
		after = after || tk.Equal(boundary.Add(cronTick))
	}
	if !missed || !after {
		t.Fatalf("ticks %v: want the one passed while the server was down (%v) and the next", ticks, boundary)
	}

	// A branch carries the job and runs it.
	b := c.BranchActive(db.ID, "cronjobs-branch", nil)
	jr := c.MustSQL(b.ID, `SELECT jobname, schedule, username, active FROM cron.job`)
	if len(jr.Rows) != 1 || jr.Rows[0][0] != "tick" || jr.Rows[0][2] != "admin" || jr.Rows[0][3] != true {
		t.Fatalf("branch's cron.job = %v, want the parent's job", jr.Rows)
	}
	branched := time.Now()
	waitFor(t, 4*cronTick, "the job to run in the branch", func() bool {
		r := c.MustSQL(b.ID, `SELECT count(*) FROM hits WHERE ran_at > $1`, branched.Format(time.RFC3339Nano))
		time.Sleep(200 * time.Millisecond)
		return fmt.Sprint(r.Rows[0][0]) != "0"
	})
}

// TestCron_FunctionSchedule: a
// `*/1 * * * *` function fires once per tick (trigger_type cron) while its
// database is stopped for idleness between runs; each run wakes it.
func TestCron_FunctionSchedule(t *testing.T) {
	t.Setenv("DB9_TEST_SCHEDULER_TICK", cronTick.String())
	s := StartServer(t, "--idle-timeout", "1s")
	c := s.Anonymous()
	db := c.CreateDB("cronfns")
	f := fnDB{c: c, db: db.ID}
	src := []byte(`module.exports = { handler: async (input, ctx) => {
  const r = await ctx.db.query('select 1 as one');
  return ctx.self.triggerType + ':' + r.rows[0][0];
} };`)
	fn := f.deploy("ticker", src, map[string]any{"cron_schedule": "*/1 * * * *"})

	woken := map[int]bool{}
	var stops int
	last := s.postmasterOf(db.ID)
	waitFor(t, 8*cronTick, "three wakes by scheduled runs, each followed by an idle stop", func() bool {
		pid := s.postmasterOf(db.ID)
		if pid != last {
			if pid == 0 {
				stops++
			} else if stops > 0 {
				woken[pid] = true
			}
			last = pid
		}
		return len(woken) >= 3 && pid == 0
	})
	var runs []struct {
		fnRun
		StartedAt time.Time `json:"started_at"`
	}
	c.MustDo("GET", f.path("/functions/"+fn.ID+"/runs?limit=50"), nil, 200, &runs)
	ticks := map[time.Time]int{}
	for _, r := range runs {
		if r.TriggerType != "cron" || r.Status != "succeeded" || deref(r.ResultJSON) != `"cron:1"` {
			t.Errorf("run %+v (error %v, result %v): want a succeeded cron run returning cron:1", r.fnRun, deref(r.Error), deref(r.ResultJSON))
		}
		ticks[r.StartedAt.Truncate(cronTick)]++
	}
	if len(runs) < 3 {
		t.Fatalf("%d scheduled runs, want at least 3", len(runs))
	}
	for tk, n := range ticks {
		if n != 1 {
			t.Errorf("%d runs in the tick of %v, want 1", n, tk)
		}
	}

	// Restart across a tick: stop just before a boundary, start just
	// after; the tick passed while down and the next each run once.
	cronRuns := func(db string) []cronRun {
		var rs []cronRun
		c.MustDo("GET", "/customer/databases/"+db+"/functions/ticker/runs?limit=200", nil, 200, &rs)
		return rs
	}
	boundary := time.Now().Truncate(cronTick).Add(cronTick)
	if time.Until(boundary) < 2*time.Second {
		boundary = boundary.Add(cronTick)
	}
	time.Sleep(time.Until(boundary.Add(-1500 * time.Millisecond)))
	s.Stop()
	stopped := time.Now()
	if stopped.After(boundary) {
		t.Skip("the server took longer than 1.5s to stop: cannot place the restart across a tick")
	}
	time.Sleep(time.Until(boundary.Add(200 * time.Millisecond)))
	s.Start()
	if time.Now().After(boundary.Add(cronTick - time.Second)) {
		t.Skip("the server took longer than a tick to start: the missed tick and the next would merge (the catch-up policy)")
	}
	time.Sleep(time.Until(boundary.Add(cronTick + 2500*time.Millisecond)))
	var after []cronRun
	for _, r := range cronRuns(db.ID) {
		if r.StartedAt.After(stopped) {
			after = append(after, r)
		}
	}
	if len(after) != 2 {
		t.Fatalf("%d scheduled runs since the restart across the tick of %v, want 2 (the missed tick and the next): %+v", len(after), boundary, after)
	}
	for _, r := range after {
		if r.Status != "succeeded" || r.TriggerType != "cron" {
			t.Errorf("run after the restart %+v (error %v)", r.fnRun, deref(r.Error))
		}
	}

	// A branch has the function and its schedule fires there too.
	b := c.BranchActive(db.ID, "cronfns-branch", nil)
	branched := time.Now()
	waitFor(t, 4*cronTick, "a scheduled run of the function in the branch", func() bool {
		for _, r := range cronRuns(b.ID) {
			if r.StartedAt.After(branched) && r.TriggerType == "cron" && r.Status == "succeeded" {
				return true
			}
		}
		time.Sleep(200 * time.Millisecond)
		return false
	})
}

// cronRun is a run with its start, as GET .../runs lists it.
type cronRun struct {
	fnRun
	StartedAt time.Time `json:"started_at"`
}
