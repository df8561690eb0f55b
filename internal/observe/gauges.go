package observe

import (
	"io/fs"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
)

// InstanceCounts are the placement's instances by state.
type InstanceCounts struct {
	Running, Stopped, Warm, Spare int
}

// WatchInstances reports counts (called once per scrape; it must be cheap,
// no I/O) as the gauges db9_instances{state} and db9_pool_instances{pool}.
func (m *Metrics) WatchInstances(counts func() InstanceCounts) {
	m.reg.MustRegister(&instancesCollector{counts: counts,
		inst: prometheus.NewDesc("db9_instances", "Database instances by state (running or stopped).", []string{"state"}, nil),
		pool: prometheus.NewDesc("db9_pool_instances", "Instances ready ahead of creates: warm (running) and spare (stopped copies).", []string{"pool"}, nil)})
}

type instancesCollector struct {
	counts     func() InstanceCounts
	inst, pool *prometheus.Desc
}

func (c *instancesCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.inst; ch <- c.pool }

func (c *instancesCollector) Collect(ch chan<- prometheus.Metric) {
	n := c.counts()
	ch <- prometheus.MustNewConstMetric(c.inst, prometheus.GaugeValue, float64(n.Running), "running")
	ch <- prometheus.MustNewConstMetric(c.inst, prometheus.GaugeValue, float64(n.Stopped), "stopped")
	ch <- prometheus.MustNewConstMetric(c.pool, prometheus.GaugeValue, float64(n.Warm), "warm")
	ch <- prometheus.MustNewConstMetric(c.pool, prometheus.GaugeValue, float64(n.Spare), "spare")
}

// WatchPool reports a pgx pool's statistics as db9_<name>_pool_* (the
// catalog's: name "catalog").
func (m *Metrics) WatchPool(name string, pool *pgxpool.Pool) {
	d := func(what, help string) *prometheus.Desc {
		return prometheus.NewDesc("db9_"+name+"_pool_"+what, help, nil, nil)
	}
	m.reg.MustRegister(&poolCollector{pool: pool, descs: [...]*prometheus.Desc{
		d("connections", "Connections open (idle, acquired or being made)."),
		d("acquired_connections", "Connections in use."),
		d("idle_connections", "Connections idle in the pool."),
		d("max_connections", "The pool's connection limit."),
		d("acquires_total", "Connections handed out."),
		d("empty_acquires_total", "Acquires that had to wait for a connection."),
		d("acquire_seconds_total", "Time spent waiting for connections."),
	}})
}

type poolCollector struct {
	pool  *pgxpool.Pool
	descs [7]*prometheus.Desc
}

func (c *poolCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

func (c *poolCollector) Collect(ch chan<- prometheus.Metric) {
	s := c.pool.Stat()
	g, k := prometheus.GaugeValue, prometheus.CounterValue
	ch <- prometheus.MustNewConstMetric(c.descs[0], g, float64(s.TotalConns()))
	ch <- prometheus.MustNewConstMetric(c.descs[1], g, float64(s.AcquiredConns()))
	ch <- prometheus.MustNewConstMetric(c.descs[2], g, float64(s.IdleConns()))
	ch <- prometheus.MustNewConstMetric(c.descs[3], g, float64(s.MaxConns()))
	ch <- prometheus.MustNewConstMetric(c.descs[4], k, float64(s.AcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.descs[5], k, float64(s.EmptyAcquireCount()))
	ch <- prometheus.MustNewConstMetric(c.descs[6], k, s.AcquireDuration().Seconds())
}

// WatchDirSize reports the bytes of the files under root as
// db9_<name>_bytes. Walking a large archive at every scrape would make
// scrapes slow, so a scrape returns the last walk's result and starts a
// new walk in the background when that one is older than every.
func (m *Metrics) WatchDirSize(name, help, root string, every time.Duration) {
	d := &dirSize{root: root, every: every, walking: true}
	go d.refresh()
	m.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "db9_" + name + "_bytes", Help: help}, d.value))
}

type dirSize struct {
	root  string
	every time.Duration

	bytes   atomic.Int64
	mu      sync.Mutex
	walked  time.Time
	walking bool
}

func (d *dirSize) value() float64 {
	d.mu.Lock()
	stale := !d.walking && time.Since(d.walked) >= d.every
	if stale {
		d.walking = true
	}
	d.mu.Unlock()
	if stale {
		go d.refresh()
	}
	return float64(d.bytes.Load())
}

func (d *dirSize) refresh() {
	var n int64
	_ = filepath.WalkDir(d.root, func(_ string, e fs.DirEntry, err error) error {
		if err == nil && e.Type().IsRegular() {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	d.bytes.Store(n)
	d.mu.Lock()
	d.walked, d.walking = time.Now(), false
	d.mu.Unlock()
}
