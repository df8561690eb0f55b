package local

import (
	"context"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/db9/db9/internal/backup"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/platformsql"
	"github.com/db9/db9/internal/postgres"
)

// Config configures a Driver.
type Config struct {
	Bin     pgbin.Bin
	RunAs   pgbin.RunAs
	DataDir string // platform data directory (layout.Layout)
	// IdleTimeout stops an instance with no leases for this long; 0 never stops.
	IdleTimeout time.Duration
	// WarmPool is how many provisioned, running, unclaimed instances to keep
	// ready so a create need not wait for copy and start.
	WarmPool int
	// WarmPoolMax lets the warm pool grow past WarmPool after creates
	// found it empty (one more per miss, up to this), so the next burst of
	// the same size is served warm; after WarmDecay without a miss it
	// shrinks back to WarmPool. Zero (or less than WarmPool) disables it.
	WarmPoolMax int
	// WarmDecay is how long a grown warm pool keeps its size after the last
	// miss (default 10 minutes).
	WarmDecay time.Duration
	// SparePool is how many copies of the golden directory to keep ready,
	// stopped, so a create that finds no warm instance skips the copy.
	SparePool int
	// MaxConns bounds each per-role connection pool into an instance.
	MaxConns int32
	// MaxConnections, when set, is every instance's max_connections
	// (given at start, so it follows the front door's limit without a
	// new golden directory; the recipe's 50 otherwise).
	MaxConnections int
	Logger         *slog.Logger
	// Archive, when set, archives every instance's WAL and enables base
	// backups and point-in-time restores.
	Archive *backup.Archiving
	// Platform, when set, is the platform's objects inside every database:
	// built into the golden directory, and ensured once in every other
	// database when its instance next starts.
	Platform *platformsql.Set
	// Events are told of starts, stops, restores and backups (metrics).
	Events Events
}

// Driver is the local placement driver: every database is a postgres
// child process of this server, in its own directory under the data
// directory, reached over a Unix socket.
type Driver struct {
	cfg  Config
	log  *slog.Logger
	lay  layout.Layout
	sup  *supervisor
	pool *pools
	gold *goldens
	arch *archiver // nil: no archiving

	quit      chan struct{} // closed at Close: ends the goroutines below
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ placement.Driver = (*Driver)(nil)

// New returns a Driver; it does no I/O until Open.
func New(cfg Config) *Driver {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxConns == 0 {
		cfg.MaxConns = 10
	}
	if cfg.WarmPoolMax < cfg.WarmPool {
		cfg.WarmPoolMax = cfg.WarmPool
	}
	if cfg.WarmDecay <= 0 {
		cfg.WarmDecay = 10 * time.Minute
	}
	// The driver logs as instance; the postmasters it starts log as
	// postgres and the backups it takes as backup, each named once here.
	d := &Driver{cfg: cfg, log: cfg.Logger.With(logkey.Component, "instance"), lay: layout.Layout{DataDir: cfg.DataDir}, quit: make(chan struct{})}
	d.gold = &goldens{bin: cfg.Bin, runAs: cfg.RunAs, lay: d.lay, log: d.log, pmLog: cfg.Logger, arch: cfg.Archive, recipe: postgres.Recipe("")}
	if cfg.Platform != nil {
		d.gold.extra = postgres.Extra{Version: cfg.Platform.Version(), Apply: cfg.Platform.Apply}
		d.gold.recipe = postgres.Recipe(cfg.Platform.Version())
	}
	d.sup = &supervisor{bin: cfg.Bin, runAs: cfg.RunAs, log: d.log, pmLog: cfg.Logger, idle: cfg.IdleTimeout, maxConns: cfg.MaxConns, platform: platformUpgrade{set: cfg.Platform, runAs: cfg.RunAs, log: d.log},
		insts: map[string]*inst{}, quit: d.quit, events: cfg.Events,
		settings: func(string) map[string]string { return nil }, beforeStop: func(*inst) {}}
	if cfg.Archive != nil {
		d.arch = &archiver{a: cfg.Archive, lay: d.lay, runAs: cfg.RunAs, bin: cfg.Bin, log: d.log, backupLog: cfg.Logger.With(logkey.Component, "backup"), sup: d.sup, gold: d.gold}
		d.sup.settings, d.sup.beforeStop = d.arch.settings, d.arch.switchWAL
	}
	if n := cfg.MaxConnections; n > 0 {
		base := d.sup.settings
		d.sup.settings = func(id string) map[string]string {
			m := maps.Clone(base(id))
			if m == nil {
				m = map[string]string{}
			}
			m["max_connections"] = strconv.Itoa(n)
			return m
		}
	}
	d.pool = newPools(cfg, d.lay, d.log, d.provisionReady, d.discard)
	d.pool.recipe = d.gold.recipe
	return d
}

// Open builds the golden directory if needed, removes every instance
// directory whose id is not in keep (half-made creates, unclaimed warm
// instances, interrupted deletes), and starts the reaper, the pools and
// the backup schedule. It returns the ids in keep that have no directory.
func (d *Driver) Open(ctx context.Context, keep map[string]bool) (missing []string, err error) {
	if err := d.cfg.RunAs.CheckReachable(filepath.Join(d.cfg.DataDir, "x")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(d.lay.DBs(), 0o755); err != nil {
		return nil, err
	}
	if err := postgres.CheckSocketDir(d.lay.DB(platform.NewID(platform.DatabaseIDLen)).SocketDir); err != nil {
		return nil, err
	}
	if err := d.gold.ensure(ctx); err != nil {
		return nil, fmt.Errorf("golden data directory: %w", err)
	}
	if d.arch != nil {
		if err := d.arch.open(ctx, keep); err != nil {
			return nil, fmt.Errorf("wal archive: %w", err)
		}
	}
	if err := d.pool.openSpares(d.gold.dir); err != nil {
		return nil, fmt.Errorf("spare instances: %w", err)
	}
	entries, err := os.ReadDir(d.lay.DBs())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		id := e.Name()
		if keep[id] {
			seen[id] = true
			if err := d.sup.add(newInst(d.lay, id, false)); err != nil {
				return nil, err
			}
			continue
		}
		d.log.Info("removing instance directory with no database", logkey.DB, id)
		if err := d.removeDir(id); err != nil {
			return nil, err
		}
	}
	for id := range keep {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	d.goLoop(d.sup.reaper)
	d.goLoop(func() { d.pool.run(d.quit) })
	if d.arch != nil {
		d.goLoop(func() { d.arch.maintain(d.quit) })
	}
	d.pool.kick()
	return missing, nil
}

func (d *Driver) goLoop(f func()) {
	d.wg.Add(1)
	go func() {
		defer d.wg.Done()
		f()
	}()
}

// removeDir removes an instance's directory and its history.
func (d *Driver) removeDir(id string) error {
	cl := d.lay.DB(id)
	_ = postgres.KillStale(cl.Data)
	if err := os.RemoveAll(cl.Dir); err != nil {
		return fmt.Errorf("remove %s: %w", cl.Dir, err)
	}
	if d.arch != nil { // the instance's history goes with it
		if err := d.arch.a.Store.DeleteDatabase(context.Background(), id); err != nil {
			return fmt.Errorf("remove archive of %s: %w", id, err)
		}
	}
	return nil
}

// Close stops every instance (fast shutdown) and removes unclaimed warm
// ones. It is idempotent.
func (d *Driver) Close(ctx context.Context) error {
	d.closeOnce.Do(func() {
		all := d.sup.close()
		d.pool.close(ctx)
		close(d.quit)
		d.wg.Wait()
		d.sup.stopAll(all, func(in *inst) {
			if in.warm.Load() {
				_ = d.removeDir(in.id)
			}
		})
		d.sup.watchers.Wait()
	})
	return nil
}

// Acquire implements placement.Connector.
func (d *Driver) Acquire(ctx context.Context, id string) (placement.Lease, error) {
	in, err := d.sup.acquire(ctx, id)
	if err != nil {
		return nil, err
	}
	return &lease{s: d.sup, in: in}, nil
}

// Running implements placement.Connector.
func (d *Driver) Running(id string) bool { return d.sup.pid(id) != 0 }

// Peek implements placement.Connector.
func (d *Driver) Peek(id string) (placement.Lease, bool) {
	in := d.sup.get(id)
	if in == nil || !d.sup.hold(in) {
		return nil, false
	}
	return &lease{s: d.sup, in: in, peek: true}, true
}

// BeforeIdleStop implements placement.Connector.
func (d *Driver) BeforeIdleStop(hook func(ctx context.Context, db placement.Lease)) {
	d.sup.mu.Lock()
	defer d.sup.mu.Unlock()
	d.sup.hooks = append(d.sup.hooks[:len(d.sup.hooks):len(d.sup.hooks)], hook)
}

// Stop implements placement.Provisioner.
func (d *Driver) Stop(id string) bool { return d.sup.stopNow(id) }

// Destroy implements placement.Provisioner.
func (d *Driver) Destroy(ctx context.Context, id string) error {
	if in := d.sup.remove(id); in != nil {
		d.sup.stop(in)
	}
	return d.removeDir(id)
}

// EarliestRestorable implements placement.Provisioner.
func (d *Driver) EarliestRestorable(ctx context.Context, id string) (time.Time, error) {
	if d.arch == nil {
		return time.Time{}, nil
	}
	return d.arch.a.Earliest(ctx, id)
}
