package instance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/platform"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrNotFound reports an instance that does not exist (or is being removed).
var ErrNotFound = errors.New("instance not found")

// ErrClosed reports a call after Close.
var ErrClosed = errors.New("instance manager closed")

// Config configures a Manager.
type Config struct {
	Bin     pgbin.Bin
	RunAs   pgbin.RunAs
	DataDir string // platform data directory; uses golden/<major>/ and dbs/<id>/
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
	Logger   *slog.Logger
	// Archive, when set, archives every instance's WAL and enables base
	// backups and point-in-time restores (archive.go).
	Archive *Archiving
}

// Manager owns every tenant instance of this machine.
type Manager struct {
	cfg    Config
	log    *slog.Logger
	golden string
	// goldenRedo is the WAL segment of the golden directory's checkpoint,
	// where replay from a golden base backup starts.
	goldenRedo string

	mu     sync.Mutex
	insts  map[string]*inst
	warm   []*ready
	spares []string // ids of ready copies under spare/
	// warmTarget is the warm pool's current size goal (WarmPool..WarmPoolMax);
	// lastMiss is when a create last found the warm pool empty.
	warmTarget int
	lastMiss   time.Time
	closed     bool

	refill chan struct{}
	quit   chan struct{}
	wg     sync.WaitGroup
}

// inst is one database's instance. mu serialises start and stop; the
// counters live under Manager.mu so the reaper and Acquire agree.
type inst struct {
	id  string
	dir string

	mu    sync.Mutex
	pm    *Postmaster
	pools map[string]*pgxpool.Pool

	// under Manager.mu
	leases   int
	lastUsed time.Time
	warm     bool
	deleted  bool
}

// New returns a Manager; it does no I/O until Open.
func New(cfg Config) *Manager {
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
	return &Manager{cfg: cfg, log: cfg.Logger, insts: map[string]*inst{}, refill: make(chan struct{}, 1), quit: make(chan struct{}),
		warmTarget: cfg.WarmPool}
}

func (m *Manager) dbsDir() string { return filepath.Join(m.cfg.DataDir, "dbs") }

// Open builds the golden directory if needed, removes every instance
// directory whose id is not in keep (half-made creates, unclaimed warm
// instances, interrupted deletes), and starts the reaper and the warm pool.
// It returns the ids in keep that have no directory.
func (m *Manager) Open(ctx context.Context, keep map[string]bool) (missing []string, err error) {
	if err := m.cfg.RunAs.CheckReachable(filepath.Join(m.cfg.DataDir, "x")); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(m.dbsDir(), 0o755); err != nil {
		return nil, err
	}
	if err := CheckSocketDir(filepath.Join(m.dbsDir(), platform.NewID(platform.DatabaseIDLen), "s")); err != nil {
		return nil, err
	}
	if m.golden, err = m.ensureGolden(ctx); err != nil {
		return nil, fmt.Errorf("golden data directory: %w", err)
	}
	if err := m.openArchive(ctx, keep); err != nil {
		return nil, fmt.Errorf("wal archive: %w", err)
	}
	if m.spares, err = m.openSpares(); err != nil {
		return nil, fmt.Errorf("spare instances: %w", err)
	}
	entries, err := os.ReadDir(m.dbsDir())
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, e := range entries {
		id := e.Name()
		if keep[id] {
			seen[id] = true
			m.insts[id] = &inst{id: id, dir: filepath.Join(m.dbsDir(), id), lastUsed: time.Now()}
			continue
		}
		m.log.Info("removing instance directory with no database", "component", "instance", "db", id)
		if err := m.removeDir(filepath.Join(m.dbsDir(), id)); err != nil {
			return nil, err
		}
	}
	for id := range keep {
		if !seen[id] {
			missing = append(missing, id)
		}
	}
	sort.Strings(missing)
	m.wg.Add(2)
	go m.reaper()
	go m.filler()
	if m.archiving() {
		m.wg.Add(1)
		go m.maintainer()
	}
	m.kickRefill()
	return missing, nil
}

func (m *Manager) removeDir(dir string) error {
	_ = killStale(filepath.Join(dir, "pgdata"))
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("remove %s: %w", dir, err)
	}
	if m.archiving() { // the instance's history goes with it
		if err := m.cfg.Archive.Store.DeleteDatabase(context.Background(), filepath.Base(dir)); err != nil {
			return fmt.Errorf("remove archive of %s: %w", filepath.Base(dir), err)
		}
	}
	return nil
}

// Close stops every instance (fast shutdown) and removes unclaimed warm ones.
func (m *Manager) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	for _, r := range m.warm {
		r.conn.Close(ctx)
	}
	m.warm = nil
	all := make([]*inst, 0, len(m.insts))
	for _, in := range m.insts {
		all = append(all, in)
	}
	m.mu.Unlock()
	close(m.quit)
	m.wg.Wait()
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.stop(in)
			if in.warm {
				_ = m.removeDir(in.dir)
			}
		}()
	}
	wg.Wait()
	return nil
}

// Lease keeps an instance running while held. Release it when done.
type Lease struct {
	m    *Manager
	in   *inst
	once sync.Once
}

// Acquire starts the instance if it is stopped (waiting until it accepts
// connections) and holds it running until the lease is released.
func (m *Manager) Acquire(ctx context.Context, id string) (*Lease, error) {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil, ErrClosed
	}
	in := m.insts[id]
	if in == nil || in.deleted || in.warm {
		m.mu.Unlock()
		return nil, ErrNotFound
	}
	in.leases++
	m.mu.Unlock()
	if err := m.ensureRunning(ctx, in); err != nil {
		m.release(in)
		return nil, err
	}
	return &Lease{m: m, in: in}, nil
}

// Release ends the lease; the idle clock starts when the last one ends.
func (l *Lease) Release() { l.once.Do(func() { l.m.release(l.in) }) }

func (m *Manager) release(in *inst) {
	m.mu.Lock()
	in.leases--
	in.lastUsed = time.Now()
	m.mu.Unlock()
}

// SocketDir is the directory of the instance's Unix socket.
func (l *Lease) SocketDir() string { return filepath.Join(l.in.dir, "s") }

// Pool returns the connection pool into the instance for role (created on
// first use). Connections are NOT reset when released (a connection left
// in a transaction is discarded by the pool): code that runs tenant SQL on
// them starts with a reset, as sqlexec.ExecFresh does.
func (l *Lease) Pool(role string) (*pgxpool.Pool, error) {
	in := l.in
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm == nil {
		return nil, fmt.Errorf("instance %s is not running", in.id)
	}
	if p := in.pools[role]; p != nil {
		return p, nil
	}
	cfg, err := pgxpool.ParseConfig(connString(l.SocketDir(), role))
	if err != nil {
		return nil, err
	}
	cfg.MaxConns = l.m.cfg.MaxConns
	cfg.MaxConnIdleTime = time.Minute
	cfg.ConnConfig.DefaultQueryExecMode = pgx.QueryExecModeExec

	p, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		return nil, err
	}
	if in.pools == nil {
		in.pools = map[string]*pgxpool.Pool{}
	}
	in.pools[role] = p
	return p, nil
}

// SuperuserConn opens a new connection as the platform superuser; the caller closes it.
func (l *Lease) SuperuserConn(ctx context.Context) (*pgconn.PgConn, error) {
	return pgconn.Connect(ctx, superuserConnString(l.SocketDir()))
}

// Running reports whether the instance's postmaster is up (for tests and status).
func (m *Manager) Running(id string) bool {
	m.mu.Lock()
	in := m.insts[id]
	m.mu.Unlock()
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	return in.pm != nil
}

// Pid returns the postmaster pid of a running instance, or 0.
func (m *Manager) Pid(id string) int {
	m.mu.Lock()
	in := m.insts[id]
	m.mu.Unlock()
	if in == nil {
		return 0
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm == nil {
		return 0
	}
	return in.pm.Pid()
}

// Dir returns the directory of an instance (dbs/<id>).
func (m *Manager) Dir(id string) string { return filepath.Join(m.dbsDir(), id) }

func (m *Manager) ensureRunning(ctx context.Context, in *inst) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm != nil {
		select {
		case <-in.pm.Done():
			m.afterExitLocked(in, in.pm)
		default:
			return nil
		}
	}
	m.mu.Lock()
	deleted, closed := in.deleted, m.closed
	m.mu.Unlock()
	if deleted {
		return ErrNotFound
	}
	if closed {
		return ErrClosed
	}
	return m.startLocked(ctx, in)
}

func (m *Manager) startLocked(ctx context.Context, in *inst) error {
	start := time.Now()
	pm, err := StartPostmaster(ctx, StartOptions{
		Bin: m.cfg.Bin, RunAs: m.cfg.RunAs,
		DataDir: filepath.Join(in.dir, "pgdata"), SocketDir: filepath.Join(in.dir, "s"),
		Settings: m.instSettings(in.id), Logger: m.log.With("db", in.id),
	})
	if err != nil {
		return fmt.Errorf("start instance %s: %w", in.id, err)
	}
	in.pm = pm
	m.log.Debug("instance started", "component", "instance", "db", in.id, "ms", time.Since(start).Milliseconds())
	go m.watch(in, pm)
	return nil
}

// watch is the supervisor of one postmaster: when it exits without being
// asked to, its pools are dropped and it is started again.
func (m *Manager) watch(in *inst, pm *Postmaster) {
	select {
	case <-pm.Done():
	case <-m.quit:
		return
	}
	in.mu.Lock()
	if in.pm != pm { // stopped on purpose
		in.mu.Unlock()
		return
	}
	m.log.Warn("instance exited unexpectedly; restarting", "component", "instance", "db", in.id, "err", pm.ExitErr())
	m.afterExitLocked(in, pm)
	m.mu.Lock()
	restart := !in.deleted && !m.closed
	m.mu.Unlock()
	var err error
	if restart {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		err = m.startLocked(ctx, in)
		cancel()
	}
	in.mu.Unlock()
	if err != nil {
		m.log.Error("restart instance failed; next use will retry", "component", "instance", "db", in.id, "err", err)
	}
}

// afterExitLocked forgets a postmaster that has exited. in.mu is held.
func (m *Manager) afterExitLocked(in *inst, pm *Postmaster) {
	if in.pm != pm {
		return
	}
	in.pm = nil
	for role, p := range in.pools {
		go p.Close()
		delete(in.pools, role)
	}
}

// stop shuts an instance down on purpose (idle, delete, server shutdown).
func (m *Manager) stop(in *inst) {
	in.mu.Lock()
	defer in.mu.Unlock()
	m.stopLocked(in)
}

func (m *Manager) stopLocked(in *inst) {
	pm := in.pm
	if pm == nil {
		return
	}
	m.mu.Lock()
	keep := !in.deleted && !in.warm // a warm instance's archive goes with it
	m.mu.Unlock()
	if keep {
		m.switchWALLocked(in)
	}
	in.pm = nil // tells watch this exit is intended
	pools := in.pools
	in.pools = nil
	if err := pm.Stop(10 * time.Second); err != nil {
		m.log.Warn("stop instance", "component", "instance", "db", in.id, "err", err)
	}
	for _, p := range pools {
		p.Close()
	}
}

// Destroy ends every session of the instance, stops it and removes its files.
// It is idempotent: destroying an unknown id removes whatever is on disk.
func (m *Manager) Destroy(ctx context.Context, id string) error {
	m.mu.Lock()
	in := m.insts[id]
	if in != nil {
		in.deleted = true
		delete(m.insts, id)
	}
	m.mu.Unlock()
	if in != nil {
		m.stop(in)
	}
	return m.removeDir(filepath.Join(m.dbsDir(), id))
}

// reaper stops instances that have had no lease for IdleTimeout, and
// shrinks a warm pool that grew for a burst that is long over.
func (m *Manager) reaper() {
	defer m.wg.Done()
	tick := time.Second
	if m.cfg.IdleTimeout > 0 {
		tick = max(min(m.cfg.IdleTimeout/4, time.Second), 50*time.Millisecond)
	}
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
		m.shrinkWarm()
		if m.cfg.IdleTimeout <= 0 {
			continue
		}
		now := time.Now()
		var idle []*inst
		m.mu.Lock()
		for _, in := range m.insts {
			if !in.warm && in.leases == 0 && now.Sub(in.lastUsed) >= m.cfg.IdleTimeout {
				idle = append(idle, in)
			}
		}
		m.mu.Unlock()
		for _, in := range idle {
			m.stopIfIdle(in)
		}
	}
}

func (m *Manager) stopIfIdle(in *inst) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm == nil {
		return
	}
	m.mu.Lock()
	idle := in.leases == 0 && time.Since(in.lastUsed) >= m.cfg.IdleTimeout && !m.closed
	m.mu.Unlock()
	if !idle {
		return
	}
	m.log.Debug("stopping idle instance", "component", "instance", "db", in.id)
	m.stopLocked(in)
}
