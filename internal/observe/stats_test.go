package observe

import (
	"errors"
	"math"
	"testing"
	"time"

	"github.com/db9/db9/internal/dataapi"
)

func stat(calls int64, mean, sd float64) queryStat {
	c := float64(calls)
	return queryStat{Calls: calls, Total: c * mean, SumSq: c * (sd*sd + mean*mean), Rows: calls}
}

func TestDiff_CountsAndResets(t *testing.T) {
	s1 := &snapshot{commits: 100, reset: "r1", queries: map[string]queryStat{"1": stat(10, 1, 0), "2": stat(5, 2, 0)}}
	if d := diff(nil, s1); d.calls != 15 || d.commits != 100 || len(d.queries) != 2 {
		t.Fatalf("first reading: %+v, want everything counted", d)
	}
	base := &baseline{Commits: 100, Reset: "r1", Queries: s1.queries}
	s2 := &snapshot{commits: 130, reset: "r1", queries: map[string]queryStat{"1": stat(25, 1, 0), "2": stat(5, 2, 0), "3": stat(2, 4, 0)}}
	d := diff(base, s2)
	if d.calls != 17 || d.commits != 30 || len(d.queries) != 2 || math.Abs(d.totalMS-23) > 1e-9 {
		t.Fatalf("second reading: %+v, want 15 + 2 calls, 30 commits, 23 ms", d)
	}
	if d.queries[0].QueryID != 1 { // largest total first
		t.Errorf("queries not by total time: %+v", d.queries)
	}
	// The instance crashed and restarted: every counter starts again.
	s3 := &snapshot{commits: 7, reset: "r1", queries: map[string]queryStat{"1": stat(3, 1, 0)}}
	if d := diff(base, s3); d.calls != 3 || d.commits != 7 {
		t.Fatalf("after a reset: %+v, want the new counters whole", d)
	}
	// pg_stat_statements_reset(): a new reset time, counters may be higher.
	s4 := &snapshot{commits: 140, reset: "r2", queries: map[string]queryStat{"1": stat(12, 1, 0)}}
	if d := diff(base, s4); d.calls != 12 {
		t.Fatalf("after pg_stat_statements_reset: %+v, want 12 calls", d)
	}
}

func TestMixtureP99(t *testing.T) {
	cases := []struct {
		name     string
		parts    []queryStat
		min, max float64
	}{
		{"none", nil, 0, 0},
		{"constant", []queryStat{stat(100, 1, 0)}, 1, 1},
		{"normal", []queryStat{stat(1000, 10, 2)}, 10 + 2.32*2, 10 + 2.33*2},
		// 99 % of the calls take 1 ms: the 99th percentile is 1 ms, below
		// the mean of 1.99 ms; the mean is reported then.
		{"rare slow statement", []queryStat{stat(99, 1, 0), stat(1, 100, 0)}, 1.99, 1.99 + 1e-9},
		{"slow statement's tail", []queryStat{stat(50, 1, 0), stat(50, 10, 1)}, 10 + 2.05, 10 + 2.06},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := mixtureP99(c.parts)
			if got < c.min-1e-6 || got > c.max+1e-6 {
				t.Errorf("p99 = %v, want within [%v, %v]", got, c.min, c.max)
			}
		})
	}
}

func TestFraming(t *testing.T) {
	for q, want := range map[string]bool{
		"BEGIN": true, "begin read only": true, "COMMIT": true, "ROLLBACK": true, "DISCARD ALL": true, "start transaction": true,
		"SELECT _db9.dataapi_check_schema($1), set_config('role', $2, true)": true,
		dataapi.SetupMarker + " SELECT CASE WHEN":                            true, dataapi.SetupMarker + " RESET ALL": true, "RESET ALL": false,
		"select v from t where id = $1": false, "endless_table_scan()": false, "beginning": false, "update t set v = 1": false,
	} {
		if got := framing.MatchString(q); got != want {
			t.Errorf("framing(%q) = %v, want %v", q, got, want)
		}
	}
}

func TestRequests_BeginTakeKeep(t *testing.T) {
	r := NewRequests(nil)
	now := time.Date(2026, 1, 1, 10, 0, 30, 0, time.UTC)
	r.now = func() time.Time { return now }
	end1 := r.Begin("a")
	end2 := r.Begin("a")
	if n := r.Inflight("a"); n != 2 {
		t.Fatalf("inflight %d, want 2", n)
	}
	end1(nil)
	now = now.Add(time.Minute) // the second ends in the next minute
	end2(errors.New("x"))
	got := r.Take("a")
	m0, m1 := got[time.Date(2026, 1, 1, 10, 0, 0, 0, time.UTC)], got[time.Date(2026, 1, 1, 10, 1, 0, 0, time.UTC)]
	if m0.Count != 1 || m0.Errors != 0 || m0.Peak != 2 || m1.Count != 1 || m1.Errors != 1 {
		t.Fatalf("minutes %+v", got)
	}
	if len(r.Take("a")) != 0 || r.Inflight("a") != 0 {
		t.Fatal("Take did not forget")
	}
	// Without Takes a database keeps only the recent minutes.
	for range 30 {
		now = now.Add(time.Minute)
		r.Begin("b")(nil)
	}
	if n := len(r.dbs["b"].minutes); n > keptMinutes+1 {
		t.Errorf("%d minutes kept, want at most %d", n, keptMinutes+1)
	}
	r.Keep(map[string]bool{})
	if len(r.dbs) != 0 {
		t.Errorf("Keep left %d databases", len(r.dbs))
	}
}
