package observe

import (
	"net/http"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus series. Build one with NewMetrics
// on a registry of the server's own (never the global default) and hand
// it to the components that count; its methods are safe for concurrent
// use and cheap enough for hot paths (an atomic add or two).
type Metrics struct {
	reg   *prometheus.Registry
	perDB bool

	httpRequests *prometheus.CounterVec
	httpDuration *prometheus.HistogramVec

	proxySessions      prometheus.Gauge
	proxySessionsTotal prometheus.Counter
	proxyBytes         *prometheus.CounterVec
	dbSessions         *prometheus.GaugeVec // per database, only with perDB

	instanceStarts *prometheus.CounterVec
	instanceStops  *prometheus.CounterVec
	coldStart      prometheus.Histogram

	branchDuration *prometheus.HistogramVec
	backupDuration *prometheus.HistogramVec

	// FunctionRuns counts function runs by final status ("succeeded",
	// "failed", "timed_out"); the functions engine increments it.
	FunctionRuns *prometheus.CounterVec

	collections       *prometheus.CounterVec
	collectionSeconds prometheus.Histogram
	dbRequests        *prometheus.CounterVec // per database, only with perDB

	schedulerLag atomic.Pointer[func() time.Duration]
}

// latencyBuckets suit both sub-millisecond API calls and multi-second
// cold starts and branches (seconds).
var latencyBuckets = []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60}

// NewMetrics registers db9's series on reg. perDatabase adds series
// labelled by database id (--metrics-per-database): one set per database,
// so off by default.
func NewMetrics(reg *prometheus.Registry, perDatabase bool) *Metrics {
	m := &Metrics{reg: reg, perDB: perDatabase}
	f := promFactory{reg}
	m.httpRequests = f.counterVec("db9_http_requests_total", "HTTP requests answered, by route pattern and status code.", "route", "code")
	m.httpDuration = f.histogramVec("db9_http_request_duration_seconds", "HTTP request latency by route pattern.", latencyBuckets, "route")
	m.proxySessions = f.gauge("db9_proxy_sessions", "PostgreSQL front-door client sessions open now.")
	m.proxySessionsTotal = f.counter("db9_proxy_sessions_total", "PostgreSQL front-door client sessions started.")
	m.proxyBytes = f.counterVec("db9_proxy_bytes_total", "Bytes relayed by the PostgreSQL front door after startup, counted when a session ends; direction client_to_db or db_to_client.", "direction")
	m.instanceStarts = f.counterVec("db9_instance_starts_total", "Instance (postmaster) starts; kind cold (woken by use), provision or restart.", "kind")
	m.instanceStops = f.counterVec("db9_instance_stops_total", "Instances stopped on purpose, by reason (idle, requested, shutdown).", "reason")
	m.coldStart = f.histogram("db9_instance_cold_start_seconds", "Time to wake a stopped instance until it accepts connections.", latencyBuckets)
	m.branchDuration = f.histogramVec("db9_branch_duration_seconds", "Restores of a database's history into a new instance (branches), by result.", latencyBuckets, "result")
	m.backupDuration = f.histogramVec("db9_backup_duration_seconds", "Scheduled base backups, by result.", latencyBuckets, "result")
	m.FunctionRuns = f.counterVec("db9_function_runs_total", "Function runs ended, by status.", "status")
	m.collections = f.counterVec("db9_observe_collections_total", "Statistics reads of running instances by the observability collector, by result.", "result")
	m.collectionSeconds = f.histogram("db9_observe_collection_seconds", "Time of one collector pass over every running instance.", latencyBuckets)
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "db9_scheduler_lag_seconds",
		Help: "How late the scheduler fired its last due tick (0 without a scheduler)."}, func() float64 {
		if fn := m.schedulerLag.Load(); fn != nil {
			return (*fn)().Seconds()
		}
		return 0
	}))
	// Known label values exist from the start (at zero), so a dashboard
	// sees every series before its first event.
	for _, d := range []string{"client_to_db", "db_to_client"} {
		m.proxyBytes.WithLabelValues(d)
	}
	for _, k := range []string{"cold", "other"} {
		m.instanceStarts.WithLabelValues(k)
	}
	for _, r := range []string{"idle", "requested", "shutdown"} {
		m.instanceStops.WithLabelValues(r)
	}
	for _, r := range []string{"ok", "error"} {
		m.branchDuration.WithLabelValues(r)
		m.backupDuration.WithLabelValues(r)
		m.collections.WithLabelValues(r)
	}
	for _, s := range []string{"succeeded", "failed", "timed_out"} {
		m.FunctionRuns.WithLabelValues(s)
	}
	if perDatabase {
		m.dbSessions = f.gaugeVec("db9_database_proxy_sessions", "Front-door sessions open now, per database.", "db")
		m.dbRequests = f.counterVec("db9_database_http_requests_total", "SQL-over-HTTP and data API requests, per database and result.", "db", "result")
	}
	return m
}

// Registry is the registry the metrics are on (for collectors of other
// components, and the /metrics handler).
func (m *Metrics) Registry() *prometheus.Registry { return m.reg }

// Handler serves the registry in the Prometheus exposition format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// HTTP counts every request next serves by the route pattern of mux that
// matches it (never the raw path, which would carry database names and
// unbounded values; "unmatched" for 404s and 405s), and its status code.
// It wraps the outermost handler, so that errors written by the shared
// middleware (a recovered panic, an unknown route) count too. The route is
// the one web.Middleware matched when next is (or wraps) it, told through
// web.RouteSetter; otherwise it is matched here once more.
func (m *Metrics) HTTP(mux *http.ServeMux, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		route := sw.route
		if !sw.routed {
			_, route = mux.Handler(r)
		}
		if route == "" {
			route = "unmatched"
		}
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		m.httpRequests.WithLabelValues(route, strconv.Itoa(code)).Inc()
		m.httpDuration.WithLabelValues(route).Observe(time.Since(start).Seconds())
	})
}

// SessionStarted implements pgproxy.Events.
func (m *Metrics) SessionStarted(db string) {
	m.proxySessions.Inc()
	m.proxySessionsTotal.Inc()
	if m.dbSessions != nil {
		m.dbSessions.WithLabelValues(db).Inc()
	}
}

// SessionEnded implements pgproxy.Events.
func (m *Metrics) SessionEnded(db string, fromClient, fromBackend int64) {
	m.proxySessions.Dec()
	m.proxyBytes.WithLabelValues("client_to_db").Add(float64(fromClient))
	m.proxyBytes.WithLabelValues("db_to_client").Add(float64(fromBackend))
	if m.dbSessions != nil {
		m.dbSessions.WithLabelValues(db).Dec()
	}
}

// InstanceStarted records a postmaster start (local.Events.Started).
func (m *Metrics) InstanceStarted(cold bool, d time.Duration) {
	if cold {
		m.instanceStarts.WithLabelValues("cold").Inc()
		m.coldStart.Observe(d.Seconds())
		return
	}
	m.instanceStarts.WithLabelValues("other").Inc()
}

// InstanceStopped records a stop on purpose (local.Events.Stopped).
func (m *Metrics) InstanceStopped(reason string) { m.instanceStops.WithLabelValues(reason).Inc() }

// BranchDone records a restore into a new instance (local.Events.Restored).
func (m *Metrics) BranchDone(d time.Duration, err error) {
	m.branchDuration.WithLabelValues(result(err)).Observe(d.Seconds())
}

// BackupDone records a base backup (local.Events.BackedUp).
func (m *Metrics) BackupDone(d time.Duration, err error) {
	m.backupDuration.WithLabelValues(result(err)).Observe(d.Seconds())
}

// SetSchedulerLag makes db9_scheduler_lag_seconds report lag() (the
// scheduler calls it once when it opens).
func (m *Metrics) SetSchedulerLag(lag func() time.Duration) { m.schedulerLag.Store(&lag) }

func (m *Metrics) dbRequest(db string, err bool) {
	if m != nil && m.dbRequests != nil {
		r := "ok"
		if err {
			r = "error"
		}
		m.dbRequests.WithLabelValues(db, r).Inc()
	}
}

func result(err error) string {
	if err != nil {
		return "error"
	}
	return "ok"
}

// statusWriter remembers the status code a handler wrote. It keeps
// http.Flusher and the rest reachable through Unwrap (ResponseController).
type statusWriter struct {
	http.ResponseWriter
	code   int
	route  string // routed: the pattern web.Middleware matched
	routed bool
}

// SetRoute implements web.RouteSetter.
func (w *statusWriter) SetRoute(pattern string) { w.route, w.routed = pattern, true }

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// Flush passes flushes through (streamed responses).
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
