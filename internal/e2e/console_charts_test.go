package e2e

import (
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/db9/db9/internal/console"
	"github.com/db9/db9/internal/web"
)

// TestConsole_Browser_ObservabilityCharts renders the observability page
// from an answer in API.md's shape, because no db9 server serves
// .../observability yet: the console's own chart code is what is under
// test (lines drawn per series, legends, summary, top queries), at both
// viewports, with the same no-error and same-origin checks as the main
// browser test. When the server serves observability, TestConsole_Browser
// opens the page against real figures.
func TestConsole_Browser_ObservabilityCharts(t *testing.T) {
	needChromium(t)
	now := time.Now().UTC().Truncate(time.Minute)
	var samples []map[string]any
	for i := 59; i >= 0; i-- {
		x := float64(60 - i)
		samples = append(samples, map[string]any{
			"ts": now.Add(-time.Duration(i) * time.Minute).Format(time.RFC3339), "qps": 40 + 25*math.Sin(x/6), "tps": 12 + 6*math.Sin(x/9),
			"latency_avg_ms": 2 + math.Sin(x/5), "latency_p99_ms": 9 + 4*math.Sin(x/7), "active_connections": 3 + int(x)%5, "error_count": 0,
		})
	}
	db := map[string]any{"id": "abcdefabcdef", "name": "metrics", "state": "ACTIVE", "region": "local", "host": "127.0.0.1", "port": 5433,
		"database": "postgres", "admin_user": "admin", "connection_string": "postgresql://abcdefabcdef.admin@127.0.0.1:5433/postgres", "created_at": now.Format(time.RFC3339)}
	mux := http.NewServeMux()
	mux.Handle("GET /console", console.Handler())
	mux.Handle("GET /console/", console.Handler())
	mux.HandleFunc("GET /customer/me", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, 200, map[string]any{"id": "c1", "is_anonymous": true, "status": "active", "created_at": now.Format(time.RFC3339)})
	})
	mux.HandleFunc("GET /customer/databases", func(w http.ResponseWriter, r *http.Request) { web.WriteJSON(w, 200, []any{db}) })
	mux.HandleFunc("GET /customer/databases/{id}", func(w http.ResponseWriter, r *http.Request) { web.WriteJSON(w, 200, db) })
	mux.HandleFunc("GET /customer/databases/{id}/observability", func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Query().Get("window") == "" {
			http.Error(w, "window missing", 400)
			return
		}
		web.WriteJSON(w, 200, map[string]any{
			"summary": map[string]any{"window_seconds": 3600, "qps": 41.5, "tps": 12.2, "latency_avg_ms": 2.1, "latency_p99_ms": 11.8,
				"active_connections": 4, "statement_count": 149400, "txn_commit_count": 43920, "error_count": 3, "db_storage_bytes": 48 << 20, "fs_logical_bytes": 3 << 20},
			"samples": samples,
			"top_queries": []any{
				map[string]any{"query": "select * from orders where id = $1", "calls": 90210, "total_ms": 120.5, "mean_ms": 0.0013, "rows": 90210},
				map[string]any{"query": "insert into orders(customer, total) values ($1, $2)", "calls": 43920, "total_ms": 310.2, "mean_ms": 0.007, "rows": 43920},
			},
		})
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	artifacts := artifactsDir(t)

	for _, vp := range []struct {
		name          string
		width, height int64
		mobile        bool
	}{{"desktop-1280x800", 1280, 800, false}, {"phone-390x844", 390, 844, true}} {
		t.Run(vp.name, func(t *testing.T) {
			blog := &browserLog{origin: srv.URL}
			ctx := startBrowser(t, blog, vp.width, vp.height)
			var vpOpts []chromedp.EmulateViewportOption
			if vp.mobile {
				vpOpts = append(vpOpts, chromedp.EmulateScale(2), chromedp.EmulateMobile, chromedp.EmulateTouch)
			}
			err := chromedp.Do(ctx,
				chromedp.EmulateViewport(vp.width, vp.height, vpOpts...),
				chromedp.Navigate(srv.URL+"/console"),
				chromedp.SendKeys(chromedp.ID("token-input"), strings.Repeat("ab", 64)),
				chromedp.Click(chromedp.ID("sign-in")),
				chromedp.WaitVisible(chromedp.ID("new-db-name")),
				chromedp.Evaluate[chromedp.Void](`location.hash = '#/db/abcdefabcdef/observability'`),
				chromedp.WaitVisible(chromedp.CSS("#obs-body .charts")))
			if err != nil {
				t.Fatalf("open observability: %v (browser: %v)", err, blog.errs)
			}
			// Each chart draws one polyline per series with all 60 samples.
			counts, err := chromedp.Run(ctx, chromedp.Evaluate[[]int](`Array.from(document.querySelectorAll('#obs-body figure.chart')).map(f => Array.from(f.querySelectorAll('polyline')).map(p => p.points.numberOfItems)).flat()`))
			if err != nil {
				t.Fatal(err)
			}
			// QPS+TPS, avg+p99, connections: 60 points; storage from the summary: 2.
			if fmt.Sprint(counts) != "[60 60 60 60 60 2]" {
				t.Errorf("points per series %v", counts)
			}
			txt, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#obs-body")))
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []string{"Queries per second", "Latency", "p99", "Active connections", "Storage", "48 MiB", "select * from orders where id = $1"} {
				if !strings.Contains(txt, want) {
					t.Errorf("page lacks %q", want)
				}
			}
			png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(artifacts, vp.name+"-observability-charts.png")
			if err := os.WriteFile(p, png, 0o644); err != nil {
				t.Fatal(err)
			}
			t.Logf("screenshot %s", p)
			blog.mu.Lock()
			defer blog.mu.Unlock()
			for _, e := range blog.errs {
				t.Error(e)
			}
		})
	}
}
