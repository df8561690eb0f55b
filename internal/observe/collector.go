package observe

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/placement"
)

// Store is the catalog's side of the collector (catalog.Observe).
type Store interface {
	AddObsMinute(ctx context.Context, db string, m catalog.ObsMinute, queries []catalog.ObsQuery) error
	ObsBaseline(ctx context.Context, db string) ([]byte, error)
	PutObsBaseline(ctx context.Context, db string, xactCommit int64, state []byte) error
	PruneObs(ctx context.Context, before time.Time) error
	ActiveDatabaseIDs(ctx context.Context) ([]string, error)
}

// Peeker leases a database only while it runs, without restarting its
// idle clock (placement.Connector.Peek): the collector must never start
// an instance nor keep one awake.
type Peeker interface {
	Peek(id string) (placement.Lease, bool)
}

// CollectorConfig configures a Collector.
type CollectorConfig struct {
	Store     Store
	Instances Peeker
	// Sessions is the front door's open sessions of a database
	// (pgproxy.Proxy.Sessions); nil: none.
	Sessions func(id string) int
	Requests *Requests // db9's own record of HTTP requests; nil: none
	Metrics  *Metrics  // nil: no collector metrics
	// Interval between passes over the running instances (default one
	// minute). Figures are stored per wall-clock minute whatever it is:
	// a shorter interval (tests) adds several readings into one minute.
	Interval time.Duration
	// Retention is how long figures are kept (default 7 days).
	Retention time.Duration
	Logger    *slog.Logger
}

// Collector reads every running instance's statistics on a schedule and
// once more before an idle stop (BeforeIdleStop), and stores the
// differences per minute in the catalog.
type Collector struct {
	cfg CollectorConfig
	log *slog.Logger
	now func() time.Time

	// mu serialises collections: a database's baseline is read and
	// replaced by one collection at a time.
	mu    sync.Mutex
	bases map[string]*baseline

	quit      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
}

// NewCollector returns a Collector; it does no I/O until Open.
func NewCollector(cfg CollectorConfig) *Collector {
	if cfg.Interval <= 0 {
		cfg.Interval = time.Minute
	}
	if cfg.Retention <= 0 {
		cfg.Retention = 7 * 24 * time.Hour
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Sessions == nil {
		cfg.Sessions = func(string) int { return 0 }
	}
	return &Collector{cfg: cfg, log: cfg.Logger.With("component", "observe"), now: time.Now,
		bases: map[string]*baseline{}, quit: make(chan struct{}), done: make(chan struct{})}
}

// Open starts the schedule.
func (c *Collector) Open() {
	go c.run()
}

// Close stops the schedule and reads every running instance once more,
// so that a server restart loses nothing. It is idempotent.
func (c *Collector) Close(ctx context.Context) {
	c.closeOnce.Do(func() {
		close(c.quit)
		<-c.done
		c.pass(ctx)
	})
}

func (c *Collector) run() {
	defer close(c.done)
	t := time.NewTicker(c.cfg.Interval)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-c.quit:
			return
		case <-t.C:
		}
		ctx, cancel := context.WithTimeout(context.Background(), max(c.cfg.Interval, 30*time.Second))
		c.pass(ctx)
		if time.Since(lastPrune) > time.Hour {
			lastPrune = time.Now()
			if err := c.cfg.Store.PruneObs(ctx, c.now().Add(-c.cfg.Retention)); err != nil {
				c.log.Warn("prune observability figures", "err", err)
			}
		}
		cancel()
	}
}

// pass collects every running database.
func (c *Collector) pass(ctx context.Context) {
	start := time.Now()
	ids, err := c.cfg.Store.ActiveDatabaseIDs(ctx)
	if err != nil {
		c.log.Warn("list databases", "err", err)
		return
	}
	live := make(map[string]bool, len(ids))
	for _, id := range ids {
		live[id] = true
		if l, ok := c.cfg.Instances.Peek(id); ok {
			c.Collect(ctx, l)
			l.Release()
		}
	}
	c.mu.Lock()
	for id := range c.bases {
		if !live[id] {
			delete(c.bases, id)
		}
	}
	c.mu.Unlock()
	if c.cfg.Requests != nil {
		c.cfg.Requests.Keep(live)
	}
	if c.cfg.Metrics != nil {
		c.cfg.Metrics.collectionSeconds.Observe(time.Since(start).Seconds())
	}
}

// BeforeIdleStop is the placement hook: the last reading of an instance
// before it stops for idleness.
func (c *Collector) BeforeIdleStop(ctx context.Context, l placement.Lease) { c.Collect(ctx, l) }

// Collect reads one running instance (held by l) and stores what
// happened since its last reading.
func (c *Collector) Collect(ctx context.Context, l placement.Lease) {
	err := c.collect(ctx, l)
	if m := c.cfg.Metrics; m != nil {
		m.collections.WithLabelValues(result(err)).Inc()
	}
	if err != nil && ctx.Err() == nil {
		c.log.Warn("collect statistics", "db", l.ID(), "err", err)
	}
}

func (c *Collector) collect(ctx context.Context, l placement.Lease) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	id := l.ID()
	pool, err := l.Pool(placement.Superuser)
	if err != nil {
		return err
	}
	snap, err := readSnapshot(ctx, pool)
	if err != nil {
		return err
	}
	base, err := c.baseline(ctx, id)
	if err != nil {
		return err
	}
	d := diff(base, snap)
	now := c.now()
	minute := now.Truncate(time.Minute)
	conns := c.cfg.Sessions(id)
	m := catalog.ObsMinute{Minute: minute, Calls: d.calls, TotalMS: d.totalMS, P99MS: d.p99MS, XactCommit: d.commits,
		DBSizeBytes: &snap.dbSize, FSLogicalBytes: snap.fsBytes}
	var reqs map[time.Time]ReqMinute
	if c.cfg.Requests != nil {
		conns += c.cfg.Requests.Inflight(id)
		reqs = c.cfg.Requests.Take(id)
	}
	m.Connections = conns
	if r, ok := reqs[minute]; ok {
		m.Errors, m.Connections = r.Errors, max(m.Connections, r.Peak)
		delete(reqs, minute)
	}
	if err := c.cfg.Store.AddObsMinute(ctx, id, m, d.queries); err != nil {
		return fmt.Errorf("store figures: %w", err)
	}
	for t, r := range reqs { // earlier minutes' requests (a collection was late)
		if err := c.cfg.Store.AddObsMinute(ctx, id, catalog.ObsMinute{Minute: t, Errors: r.Errors, Connections: r.Peak}, nil); err != nil {
			return fmt.Errorf("store figures: %w", err)
		}
	}
	nb := &baseline{Commits: snap.commits, Reset: snap.reset, Queries: snap.queries}
	state, err := json.Marshal(nb)
	if err != nil {
		return err
	}
	if err := c.cfg.Store.PutObsBaseline(ctx, id, snap.commits, state); err != nil {
		return fmt.Errorf("store baseline: %w", err)
	}
	c.bases[id] = nb
	return nil
}

// baseline is a database's last reading: remembered, else from the
// catalog (after a restart), else nil (never read).
func (c *Collector) baseline(ctx context.Context, id string) (*baseline, error) {
	if b := c.bases[id]; b != nil {
		return b, nil
	}
	raw, err := c.cfg.Store.ObsBaseline(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read baseline: %w", err)
	}
	var b baseline
	if err := json.Unmarshal(raw, &b); err != nil {
		return nil, nil // unreadable: start over rather than never collect again
	}
	return &b, nil
}

// LiveSizes reads a running database's storage figures now, without
// starting it; ok is false when it is stopped.
func (c *Collector) LiveSizes(ctx context.Context, id string) (dbSize, fsBytes int64, ok bool) {
	l, running := c.cfg.Instances.Peek(id)
	if !running {
		return 0, 0, false
	}
	defer l.Release()
	pool, err := l.Pool(placement.Superuser)
	if err != nil {
		return 0, 0, false
	}
	err = pool.QueryRow(ctx, `SELECT pg_database_size(current_database()),
		coalesce((SELECT total_logical_bytes::bigint FROM extensions.fs9_storage_stats()), 0)`).Scan(&dbSize, &fsBytes)
	return dbSize, fsBytes, err == nil
}

// Connections is the front door's sessions of a database plus the HTTP
// requests running on it now.
func (c *Collector) Connections(id string) int {
	n := c.cfg.Sessions(id)
	if c.cfg.Requests != nil {
		n += c.cfg.Requests.Inflight(id)
	}
	return n
}
