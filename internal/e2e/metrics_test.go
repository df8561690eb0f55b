package e2e

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/db9/db9/internal/pgtest"
)

// scrapeMetrics reads the server's /metrics and parses it with
// Prometheus' text parser; its text is returned too.
func (s *Server) scrapeMetrics(t testing.TB) (map[string]*dto.MetricFamily, string) {
	t.Helper()
	resp, err := http.Get("http://" + s.Addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d %v", resp.StatusCode, err)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return fams, string(b)
}

// metricValue is a series' value (a histogram's count); -1 when absent.
func metricValue(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
	f := fams[name]
	if f == nil {
		return -1
	}
next:
	for _, m := range f.Metric {
		got := map[string]string{}
		for _, l := range m.Label {
			got[l.GetName()] = l.GetValue()
		}
		for i := 0; i+1 < len(labels); i += 2 {
			if got[labels[i]] != labels[i+1] {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue()
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount())
		}
	}
	return -1
}

// TestMetrics_Server against a real server: the
// exposition parses, and each family moves when its event happens in the
// running server (the same per family as observe's unit test, here
// through the real wiring: front door, HTTP routes, instances, branches,
// the collector, the catalog pool, the archive). No label carries a
// password, token, database name or SQL.
func TestMetrics_Server(t *testing.T) {
	t.Parallel()
	ext := pgtest.Start(t)
	s := StartServer(t, "--catalog-url", ext.ConnString(pgtest.Superuser), "--idle-timeout", "2s", "--observe-interval", "300ms", "--warm-pool", "1", "--spare-pool", "1")
	c := s.Anonymous()
	db := c.CreateDB("metered")
	before, _ := s.scrapeMetrics(t)
	for _, f := range []string{"db9_instances", "db9_pool_instances", "db9_catalog_pool_connections", "db9_archive_bytes",
		"db9_scheduler_lag_seconds", "db9_function_runs_total", "db9_backup_duration_seconds", "go_goroutines", "process_cpu_seconds_total"} {
		if before[f] == nil {
			t.Errorf("family %s missing", f)
		}
	}

	c.MustSQL(db.ID, "create table t (id int); insert into t select generate_series(1, 1000)")
	conn := s.mustPG(t, db.ID+".admin", db.AdminPassword, "disable")
	var n int
	if err := conn.QueryRow(context.Background(), "select count(*) from t").Scan(&n); err != nil || n != 1000 {
		t.Fatalf("count: %d %v", n, err)
	}
	mid, _ := s.scrapeMetrics(t)
	if v := metricValue(mid, "db9_proxy_sessions"); v != 1 {
		t.Errorf("db9_proxy_sessions = %v with one session open", v)
	}
	conn.Close(context.Background())
	waitFor(t, 30*time.Second, "the idle stop", func() bool { return s.postmasterOf(db.ID) == 0 })
	stopped, _ := s.scrapeMetrics(t)
	c.MustSQL(db.ID, "select 1") // a cold start
	f := fnDB{c: c, db: db.ID}
	f.deploy("metered-fn", []byte(`exports.handler = async (input, ctx) => (await ctx.db.query("select 1 as x")).rows`), nil)
	if r := f.invoke("metered-fn", nil, ""); r.Status != "succeeded" {
		t.Fatalf("function run: %+v", r)
	}
	b := c.StartBranch(db.ID, "metered-b", nil)
	c.WaitBranch(b.ID, 60*time.Second)
	time.Sleep(time.Second) // collector passes

	after, text := s.scrapeMetrics(t)
	moved := []struct {
		family string
		labels []string
		from   map[string]*dto.MetricFamily
	}{
		{"db9_http_requests_total", []string{"route", "POST /customer/databases/{database_id}/sql", "code", "200"}, before},
		{"db9_http_request_duration_seconds", []string{"route", "POST /customer/databases/{database_id}/branch"}, before},
		{"db9_proxy_sessions_total", nil, before},
		{"db9_proxy_bytes_total", []string{"direction", "client_to_db"}, before},
		{"db9_proxy_bytes_total", []string{"direction", "db_to_client"}, before},
		{"db9_instance_stops_total", []string{"reason", "idle"}, before},
		{"db9_instance_starts_total", []string{"kind", "cold"}, before},
		{"db9_instance_cold_start_seconds", nil, before},
		{"db9_branch_duration_seconds", []string{"result", "ok"}, before},
		{"db9_observe_collections_total", []string{"result", "ok"}, before},
		{"db9_catalog_pool_acquires_total", nil, before},
		{"db9_instances", []string{"state", "running"}, stopped},
		{"db9_function_runs_total", []string{"status", "succeeded"}, before},
	}
	for _, m := range moved {
		from, to := max(metricValue(m.from, m.family, m.labels...), 0), metricValue(after, m.family, m.labels...)
		if to <= from {
			t.Errorf("%s%v did not move: %v -> %v", m.family, m.labels, from, to)
		}
	}
	if v := metricValue(stopped, "db9_instances", "state", "stopped"); v < 1 {
		t.Errorf("db9_instances{state=stopped} = %v after the idle stop", v)
	}
	if v := metricValue(after, "db9_observe_collections_total", "result", "error"); v != 0 {
		t.Errorf("collector errors: %v\n%s", v, s.Log())
	}
	for _, secret := range []string{db.AdminPassword, c.Token, "metered", "generate_series", "select"} {
		if strings.Contains(text, secret) {
			t.Errorf("/metrics contains %q", secret)
		}
	}
	if strings.Contains(text, `db="`) {
		t.Error("per-database series without --metrics-per-database")
	}
}
