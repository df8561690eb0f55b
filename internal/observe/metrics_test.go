package observe_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/db9/db9/internal/observe"
	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/web"
)

// scrape serves /metrics of m and parses it with Prometheus' text parser.
func scrape(t *testing.T, m *observe.Metrics) map[string]*dto.MetricFamily {
	t.Helper()
	rec := httptest.NewRecorder()
	m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(rec.Body.String()))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, rec.Body.String())
	}
	return fams
}

// value is the value of the series of family name with the given labels
// (a counter, gauge or a histogram's count); -1 when absent.
func value(fams map[string]*dto.MetricFamily, name string, labels ...string) float64 {
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

func TestMetrics_Families_Move(t *testing.T) {
	m := observe.NewMetrics(prometheus.NewRegistry(), false)
	counts := observe.InstanceCounts{Running: 2, Stopped: 5, Warm: 1, Spare: 3}
	m.WatchInstances(func() observe.InstanceCounts { return counts })
	lag := 0 * time.Second
	m.SetSchedulerLag(func() time.Duration { return lag })
	mux := http.NewServeMux()
	mux.HandleFunc("GET /customer/databases/{database_id}", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(404) })
	h := m.HTTP(mux, mux)
	// As the server wraps it: the route comes from web.Middleware's match.
	hw := m.HTTP(mux, web.Middleware(mux, slog.New(slog.DiscardHandler)))

	cases := []struct {
		name   string
		family string
		labels []string
		event  func()
		delta  float64
	}{
		{"http request by pattern", "db9_http_requests_total", []string{"route", "GET /customer/databases/{database_id}", "code", "404"},
			func() {
				h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/customer/databases/secret-name-xyz", nil))
			}, 1},
		{"http latency", "db9_http_request_duration_seconds", []string{"route", "GET /customer/databases/{database_id}"},
			func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/customer/databases/a", nil)) }, 1},
		{"unmatched route", "db9_http_requests_total", []string{"route", "unmatched"},
			func() { h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nope/with/a/token-abc", nil)) }, 1},
		{"http request by pattern, through web.Middleware", "db9_http_requests_total",
			[]string{"route", "GET /customer/databases/{database_id}", "code", "404"},
			func() {
				hw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/customer/databases/secret-name-xyz", nil))
			}, 1},
		{"unmatched route, through web.Middleware", "db9_http_requests_total", []string{"route", "unmatched", "code", "404"},
			func() {
				hw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/nope/with/a/token-abc", nil))
			}, 1},
		{"wrong method, through web.Middleware", "db9_http_requests_total", []string{"route", "unmatched", "code", "405"},
			func() {
				hw.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("POST", "/customer/databases/x", nil))
			}, 1},
		{"sessions open", "db9_proxy_sessions", nil, func() { m.SessionStarted("db1") }, 1},
		{"sessions total", "db9_proxy_sessions_total", nil, func() { m.SessionStarted("db1") }, 1},
		{"sessions end", "db9_proxy_sessions", nil, func() { m.SessionEnded("db1", 10, 20) }, -1},
		{"bytes in", "db9_proxy_bytes_total", []string{"direction", "client_to_db"}, func() { m.SessionEnded("db1", 100, 7) }, 100},
		{"bytes out", "db9_proxy_bytes_total", []string{"direction", "db_to_client"}, func() { m.SessionEnded("db1", 1, 70) }, 70},
		{"cold starts", "db9_instance_starts_total", []string{"kind", "cold"}, func() { m.InstanceStarted(true, 30*time.Millisecond) }, 1},
		{"cold start latency", "db9_instance_cold_start_seconds", nil, func() { m.InstanceStarted(true, 30*time.Millisecond) }, 1},
		{"other starts", "db9_instance_starts_total", []string{"kind", "other"}, func() { m.InstanceStarted(false, time.Millisecond) }, 1},
		{"idle stops", "db9_instance_stops_total", []string{"reason", "idle"}, func() { m.InstanceStopped("idle") }, 1},
		{"running instances", "db9_instances", []string{"state", "running"}, func() { counts.Running++ }, 1},
		{"stopped instances", "db9_instances", []string{"state", "stopped"}, func() { counts.Stopped-- }, -1},
		{"warm pool", "db9_pool_instances", []string{"pool", "warm"}, func() { counts.Warm += 2 }, 2},
		{"spare pool", "db9_pool_instances", []string{"pool", "spare"}, func() { counts.Spare-- }, -1},
		{"branch ok", "db9_branch_duration_seconds", []string{"result", "ok"}, func() { m.BranchDone(time.Second, nil) }, 1},
		{"branch failed", "db9_branch_duration_seconds", []string{"result", "error"}, func() { m.BranchDone(time.Second, errors.New("x")) }, 1},
		{"backup", "db9_backup_duration_seconds", []string{"result", "ok"}, func() { m.BackupDone(time.Second, nil) }, 1},
		{"function runs", "db9_function_runs_total", []string{"status", "failed"}, func() { m.FunctionRuns.WithLabelValues("failed").Inc() }, 1},
		{"scheduler lag", "db9_scheduler_lag_seconds", nil, func() { lag = 3 * time.Second }, 3},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := value(scrape(t, m), c.family, c.labels...)
			if before < 0 { // series with open label values (routes) appear with their first event
				if !strings.HasPrefix(c.family, "db9_http_") {
					t.Fatalf("%s%v absent before the event", c.family, c.labels)
				}
				before = 0
			}
			c.event()
			if after := value(scrape(t, m), c.family, c.labels...); after-before != c.delta {
				t.Fatalf("%s%v went %v -> %v, want a change of %v", c.family, c.labels, before, after, c.delta)
			}
		})
	}
	// Nothing of the raw paths (names, tokens) became a label, and no
	// per-database series exist without the flag.
	for _, f := range scrape(t, m) {
		for _, s := range f.Metric {
			for _, l := range s.Label {
				if strings.Contains(l.GetValue(), "secret-name") || strings.Contains(l.GetValue(), "token-abc") || l.GetName() == "db" {
					t.Errorf("%s has label %s=%q", f.GetName(), l.GetName(), l.GetValue())
				}
			}
		}
	}
}

func TestMetrics_PerDatabase(t *testing.T) {
	m := observe.NewMetrics(prometheus.NewRegistry(), true)
	m.SessionStarted("abc123")
	end := observe.NewRequests(m).Begin("abc123")
	end(errors.New("x"))
	fams := scrape(t, m)
	if v := value(fams, "db9_database_proxy_sessions", "db", "abc123"); v != 1 {
		t.Errorf("per-database sessions = %v, want 1", v)
	}
	if v := value(fams, "db9_database_http_requests_total", "db", "abc123", "result", "error"); v != 1 {
		t.Errorf("per-database failed requests = %v, want 1", v)
	}
}

func TestMetrics_CatalogPool(t *testing.T) {
	pg := pgtest.Start(t)
	pool, err := pxpool(pg.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	m := observe.NewMetrics(prometheus.NewRegistry(), false)
	m.WatchPool("catalog", pool)
	before := value(scrape(t, m), "db9_catalog_pool_acquires_total")
	if _, err := pool.Exec(context.Background(), "select 1"); err != nil {
		t.Fatal(err)
	}
	fams := scrape(t, m)
	if after := value(fams, "db9_catalog_pool_acquires_total"); after != before+1 {
		t.Errorf("acquires %v -> %v, want +1", before, after)
	}
	if v := value(fams, "db9_catalog_pool_connections"); v < 1 {
		t.Errorf("connections %v, want at least 1", v)
	}
}

func pxpool(url string) (*pgxpool.Pool, error) { return pgxpool.New(context.Background(), url) }

func TestMetrics_DirSize(t *testing.T) {
	dir := t.TempDir()
	m := observe.NewMetrics(prometheus.NewRegistry(), false)
	m.WatchDirSize("archive", "test", dir, 0)
	if err := writeFile(dir+"/a", 1234); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for value(scrape(t, m), "db9_archive_bytes") != 1234 {
		if time.Now().After(deadline) {
			t.Fatalf("db9_archive_bytes = %v, want 1234", value(scrape(t, m), "db9_archive_bytes"))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
