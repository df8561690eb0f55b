package server

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/observe"
	"github.com/db9/db9/internal/placement/local"
)

// newMetrics builds the server's one registry (never the global default)
// with the Go runtime's and the process's own series.
func (s *Server) newMetrics() {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.metrics = observe.NewMetrics(reg, s.cfg.MetricsPerDatabase)
	s.reqs = observe.NewRequests(s.metrics)
}

// instanceEvents are the local driver's events, as metrics.
func (s *Server) instanceEvents() local.Events {
	m := s.metrics
	return local.Events{Started: m.InstanceStarted, Stopped: m.InstanceStopped, Restored: m.BranchDone, BackedUp: m.BackupDone}
}

// watch registers the gauges read from components at scrape time.
func (s *Server) watch(inst *local.Driver) {
	s.metrics.WatchInstances(func() observe.InstanceCounts {
		c := inst.Counts()
		return observe.InstanceCounts{Running: c.Running, Stopped: c.Stopped, Warm: c.Warm, Spare: c.Spare}
	})
	s.metrics.WatchPool("catalog", s.cat.Pool())
	s.metrics.WatchDirSize("archive", "Bytes of WAL and base backups in the archive (walked at most once a minute).",
		layout.Layout{DataDir: s.cfg.DataDir}.Archive(), time.Minute)
}

// openCollector starts the observability collector (unless --observe-off):
// every running instance read each interval and once before it stops for
// idleness. The collector also answers the live part of observability
// (connections, sizes of a running database) when collection is off.
func (s *Server) openCollector(inst *local.Driver) {
	s.col = observe.NewCollector(observe.CollectorConfig{
		Store: s.cat.Observe, Instances: inst, Sessions: s.pg.Sessions, Requests: s.reqs, Metrics: s.metrics,
		Interval: s.cfg.ObserveInterval, Logger: s.base,
	})
	if s.cfg.ObserveOff {
		return
	}
	inst.BeforeIdleStop(s.col.BeforeIdleStop)
	s.col.Open()
	s.colOpen = true
}
