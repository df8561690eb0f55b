package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/pgtest"
)

// obsReport is the answer of GET .../observability.
type obsReport struct {
	Summary struct {
		WindowSeconds     int     `json:"window_seconds"`
		QPS               float64 `json:"qps"`
		TPS               float64 `json:"tps"`
		LatencyAvgMS      float64 `json:"latency_avg_ms"`
		LatencyP99MS      float64 `json:"latency_p99_ms"`
		ActiveConnections int     `json:"active_connections"`
		StatementCount    int64   `json:"statement_count"`
		TxnCommitCount    int64   `json:"txn_commit_count"`
		ErrorCount        int64   `json:"error_count"`
		DBStorageBytes    int64   `json:"db_storage_bytes"`
		FSLogicalBytes    int64   `json:"fs_logical_bytes"`
	} `json:"summary"`
	Samples []struct {
		TS                time.Time `json:"ts"`
		QPS               float64   `json:"qps"`
		TPS               float64   `json:"tps"`
		LatencyAvgMS      float64   `json:"latency_avg_ms"`
		LatencyP99MS      float64   `json:"latency_p99_ms"`
		ActiveConnections int       `json:"active_connections"`
		ErrorCount        int64     `json:"error_count"`
	} `json:"samples"`
	TopQueries []struct {
		Query   string  `json:"query"`
		Calls   int64   `json:"calls"`
		TotalMS float64 `json:"total_ms"`
		MeanMS  float64 `json:"mean_ms"`
		Rows    int64   `json:"rows"`
	} `json:"top_queries"`
}

func (c *Client) observability(db string, window int) obsReport {
	c.t.Helper()
	var r obsReport
	c.MustDo("GET", fmt.Sprintf("/customer/databases/%s/observability?window=%d", db, window), nil, 200, &r)
	return r
}

// sampledStatements is the statements the samples add up to (qps is
// statements per minute / 60).
func (r obsReport) sampledStatements() int64 {
	var n float64
	for _, s := range r.Samples {
		n += s.QPS * 60
	}
	return int64(math.Round(n))
}

// TestObservability_EndToEnd: load through the
// front door, /sql and the data API; the database stops for idleness; the
// server restarts; observability still shows the load's minutes with the
// statement count the test sent (within 2 %), p99 at or above the
// average, and answering it does not start the stopped database.
func TestObservability_EndToEnd(t *testing.T) {
	t.Parallel()
	ext := pgtest.Start(t)
	s := StartServer(t, "--catalog-url", ext.ConnString(pgtest.Superuser), "--idle-timeout", "3s", "--observe-interval", "300ms")
	c := s.Anonymous()
	db := c.CreateDB("observed")
	sent := 0
	// Three statements in one call: each is one pg_stat_statements call.
	c.MustSQL(db.ID, `create table t (id int primary key, v int); grant select on t to anon; insert into t select g, g * 2 from generate_series(1, 100) g`)
	sent += 3
	key := c.createKey(db.ID, "publishable-keys", nil)

	const viaProxy, viaSQL, viaData = 300, 100, 100
	conn := s.mustPG(t, db.ID+".admin", db.AdminPassword, "disable")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for i := range viaProxy {
		var v int
		if err := conn.QueryRow(ctx, "select v from t where id = $1", i%100+1).Scan(&v); err != nil {
			t.Fatal(err)
		}
	}
	sent += viaProxy
	for i := range viaSQL {
		c.MustSQL(db.ID, "select count(*) from t where id < $1", i)
	}
	sent += viaSQL
	for i := range viaData {
		r := s.dataDo(t, "GET", db.ID, fmt.Sprintf("/t?id=eq.%d&select=v", i%100+1), map[string]string{"apikey": key.Key}, "")
		if r.Status != 200 {
			t.Fatalf("data API: %s", r)
		}
	}
	sent += viaData
	// A failing /sql call: an error, and a statement PostgreSQL never
	// finished (pg_stat_statements counts only finished ones).
	if r := c.SQL(db.ID, "select 1/0"); r.Error == nil {
		t.Fatal("select 1/0 did not fail")
	}
	if err := conn.Close(ctx); err != nil {
		t.Fatal(err)
	}

	// While it runs the collector reads it, but must not keep it awake.
	waitFor(t, 60*time.Second, "the idle stop", func() bool { return s.postmasterOf(db.ID) == 0 })
	s.Stop()
	s.Start()

	r := c.observability(db.ID, 3600)
	if pm := s.postmasterOf(db.ID); pm != 0 {
		t.Fatalf("observability started the stopped database (postmaster %d)", pm)
	}
	time.Sleep(time.Second) // a few collector passes: they must not start it either
	if pm := s.postmasterOf(db.ID); pm != 0 {
		t.Fatalf("the collector started the stopped database (postmaster %d)", pm)
	}
	b, _ := json.MarshalIndent(r.Summary, "", " ")
	t.Logf("sent %d statements; summary %s", sent, b)
	within := func(what string, got int64, want int) {
		t.Helper()
		if math.Abs(float64(got)-float64(want)) > 0.02*float64(want) {
			t.Errorf("%s = %d, want %d within 2 %%", what, got, want)
		}
	}
	within("summary.statement_count", r.Summary.StatementCount, sent)
	within("statements of the samples", r.sampledStatements(), sent)
	if len(r.Samples) != 60 {
		t.Errorf("%d samples for an hour, want 60", len(r.Samples))
	}
	busy := 0
	for i, sm := range r.Samples {
		if i > 0 && !sm.TS.After(r.Samples[i-1].TS) {
			t.Errorf("samples not oldest first: %v after %v", sm.TS, r.Samples[i-1].TS)
		}
		if sm.QPS > 0 {
			busy++
			if sm.LatencyAvgMS <= 0 || sm.LatencyP99MS < sm.LatencyAvgMS {
				t.Errorf("sample %v: avg %.4f ms, p99 %.4f ms: want 0 < avg <= p99", sm.TS, sm.LatencyAvgMS, sm.LatencyP99MS)
			}
		}
	}
	if busy == 0 {
		t.Error("no sample shows the load")
	}
	sm := r.Summary
	if sm.LatencyAvgMS <= 0 || sm.LatencyP99MS < sm.LatencyAvgMS {
		t.Errorf("summary: avg %.4f ms, p99 %.4f ms: want 0 < avg <= p99", sm.LatencyAvgMS, sm.LatencyP99MS)
	}
	if sm.ErrorCount < 1 {
		t.Errorf("error_count %d, want the failed /sql call", sm.ErrorCount)
	}
	if sm.TxnCommitCount < int64(sent)/2 || sm.TPS <= 0 {
		t.Errorf("txn_commit_count %d, tps %f: want most statements' commits", sm.TxnCommitCount, sm.TPS)
	}
	if sm.DBStorageBytes < 1<<20 || sm.ActiveConnections != 0 || sm.WindowSeconds != 3600 {
		t.Errorf("summary sizes/connections: %+v", sm)
	}
	found := false
	for _, q := range r.TopQueries {
		if strings.Contains(q.Query, "$1") && strings.HasPrefix(q.Query, "select v from t where id") {
			found = true
			if q.Calls != viaProxy || q.TotalMS <= 0 || q.Rows != viaProxy {
				t.Errorf("top query %+v, want %d calls and rows", q, viaProxy)
			}
		}
		if strings.Contains(q.Query, "_db9") || strings.Contains(strings.ToLower(q.Query), "pg_stat_statements") {
			t.Errorf("a platform statement among top_queries: %q", q.Query)
		}
	}
	if !found || len(r.TopQueries) > 20 {
		t.Errorf("top_queries %+v: want the front door's query, at most 20", r.TopQueries)
	}

	// The database wakes again: the counters it kept across its clean stop
	// must not be counted twice (the baselines survived the restart).
	c.MustSQL(db.ID, "select 1")
	sent++
	waitFor(t, 30*time.Second, "the next collection", func() bool {
		return c.observability(db.ID, 3600).Summary.StatementCount >= int64(sent)-int64(0.02*float64(sent))
	})
	time.Sleep(time.Second)
	within("statement_count after a wake", c.observability(db.ID, 3600).Summary.StatementCount, sent)

	for _, w := range []string{"59", "604801", "abc", "-1"} {
		if code, body := c.Do("GET", "/customer/databases/"+db.ID+"/observability?window="+w, nil); code != 400 {
			t.Errorf("window=%s: %d %s, want 400", w, code, body)
		}
	}
	if code, _ := c.Do("GET", "/customer/databases/"+db.ID+"/observability", nil); code != 200 {
		t.Errorf("default window: %d", code)
	}
	if code, _ := s.Anonymous().Do("GET", "/customer/databases/"+db.ID+"/observability", nil); code != 404 {
		t.Errorf("another account's database: %d, want 404", code)
	}
}
