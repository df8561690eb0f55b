package local

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/postgres"
)

// inst is one database's instance.
//
// Locks: inst.mu serialises start and stop and guards pm and pools; the
// supervisor's mu guards its map. They are never held together. The
// counters and flags the reaper and Acquire must agree on are atomics, so
// neither needs the other's lock to read them.
type inst struct {
	id string
	cl layout.Cluster
	ep placement.Endpoint // cl's socket, made once: the proxy dials it per session

	mu    sync.Mutex
	pm    *postgres.Process
	pools map[string]*pgxpool.Pool

	leases   atomic.Int32
	lastUsed atomic.Int64 // unix nanoseconds
	warm     atomic.Bool  // provisioned, not yet committed: not leasable, not reaped
	deleted  atomic.Bool
}

func newInst(lay layout.Layout, id string, warm bool) *inst {
	cl := lay.DB(id)
	in := &inst{id: id, cl: cl, ep: placement.Endpoint{Network: "unix", Address: cl.SocketPath()}}
	in.warm.Store(warm)
	in.touch()
	return in
}

func (in *inst) touch() { in.lastUsed.Store(time.Now().UnixNano()) }

func (in *inst) idleFor() time.Duration {
	return time.Duration(time.Now().UnixNano() - in.lastUsed.Load())
}

// supervisor owns the postmasters of this machine's instances: it starts
// them on demand, restarts one that dies, stops them when idle.
type supervisor struct {
	bin      pgbin.Bin
	runAs    pgbin.RunAs
	log      *slog.Logger
	pmLog    *slog.Logger  // given to the postmasters, which name themselves
	idle     time.Duration // 0: never stopped for idleness
	maxConns int32
	platform platformUpgrade
	// settings are an instance's -c flags at start; beforeStop runs
	// (inst.mu held) before an instance that stays is stopped on purpose.
	settings   func(id string) map[string]string
	beforeStop func(in *inst)
	events     Events

	mu     sync.Mutex
	insts  map[string]*inst
	hooks  []func(context.Context, placement.Lease)
	closed atomic.Bool // set under mu, so add never races with close

	quit <-chan struct{} // the driver's: closed at Close
	// watchers counts the watch goroutines, which the driver's Close
	// waits for once every instance is stopped.
	watchers sync.WaitGroup
}

// add registers a new instance; it fails after close or when id is taken.
func (s *supervisor) add(in *inst) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return placement.ErrClosed
	}
	if s.insts[in.id] != nil {
		return fmt.Errorf("instance %s exists", in.id)
	}
	s.insts[in.id] = in
	return nil
}

func (s *supervisor) get(id string) *inst {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.insts[id]
}

// remove forgets an instance and marks it deleted; the caller stops it.
func (s *supervisor) remove(id string) *inst {
	s.mu.Lock()
	defer s.mu.Unlock()
	in := s.insts[id]
	if in != nil {
		in.deleted.Store(true)
		delete(s.insts, id)
	}
	return in
}

// committed lists the instances that are databases (not warm, not deleted).
func (s *supervisor) committed() []*inst {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]*inst, 0, len(s.insts))
	for _, in := range s.insts {
		if !in.warm.Load() && !in.deleted.Load() {
			out = append(out, in)
		}
	}
	return out
}

// acquire holds a committed instance running (starting it if needed).
func (s *supervisor) acquire(ctx context.Context, id string) (*inst, error) {
	if s.closed.Load() {
		return nil, placement.ErrClosed
	}
	in := s.get(id)
	if in == nil || in.deleted.Load() || in.warm.Load() {
		return nil, placement.ErrNotFound
	}
	in.leases.Add(1)
	if err := s.ensureRunning(ctx, in); err != nil {
		s.release(in)
		return nil, err
	}
	return in, nil
}

func (s *supervisor) release(in *inst) {
	in.touch()
	in.leases.Add(-1)
}

// hold takes a lease on an instance only if it is running and committed
// (for work that must not wake it); it reports whether it did.
func (s *supervisor) hold(in *inst) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm == nil || in.deleted.Load() || in.warm.Load() || s.closed.Load() {
		return false
	}
	in.leases.Add(1)
	return true
}

// pid is the postmaster pid of a running instance, or 0.
func (s *supervisor) pid(id string) int {
	in := s.get(id)
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

func (s *supervisor) ensureRunning(ctx context.Context, in *inst) error {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm != nil {
		select {
		case <-in.pm.Done():
			s.afterExitLocked(in, in.pm)
		default:
			return nil
		}
	}
	if in.deleted.Load() {
		return placement.ErrNotFound
	}
	if s.closed.Load() {
		return placement.ErrClosed
	}
	start := time.Now()
	if err := s.startLocked(ctx, in, 0); err != nil {
		return err
	}
	s.events.started(true, time.Since(start))
	return nil
}

// startLocked starts the instance's postmaster and its watch; in.mu is
// held. readyTimeout 0 is postgres.Start's default.
func (s *supervisor) startLocked(ctx context.Context, in *inst, readyTimeout time.Duration) error {
	start := time.Now()
	pm, err := postgres.Start(ctx, postgres.Options{
		Bin: s.bin, RunAs: s.runAs, DataDir: in.cl.Data, SocketDir: in.cl.SocketDir,
		Settings: startSettings(s.settings(in.id)), Logger: s.pmLog.With(logkey.DB, in.id), ReadyTimeout: readyTimeout,
	})
	if err != nil {
		return fmt.Errorf("start instance %s: %w", in.id, err)
	}
	in.pm = pm
	s.platform.ensure(ctx, in)
	s.log.Debug("instance started", logkey.DB, in.id, logkey.Ms, time.Since(start).Milliseconds())
	s.watchers.Add(1)
	go func() {
		defer s.watchers.Done()
		s.watch(in, pm)
	}()
	return nil
}

// watch is the supervisor of one postmaster: when it exits without being
// asked to, its pools are dropped and it is started again.
func (s *supervisor) watch(in *inst, pm *postgres.Process) {
	select {
	case <-pm.Done():
	case <-s.quit:
		return
	}
	in.mu.Lock()
	if in.pm != pm { // stopped on purpose
		in.mu.Unlock()
		return
	}
	s.log.Warn("instance exited unexpectedly; restarting", logkey.DB, in.id, logkey.Err, pm.ExitErr())
	s.afterExitLocked(in, pm)
	var err error
	if !in.deleted.Load() && !s.closed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		start := time.Now()
		if err = s.startLocked(ctx, in, 0); err == nil {
			s.events.started(false, time.Since(start))
		}
		cancel()
	}
	in.mu.Unlock()
	if err != nil {
		s.log.Error("restart instance failed; next use will retry", logkey.DB, in.id, logkey.Err, err)
	}
}

// afterExitLocked forgets a postmaster that has exited. in.mu is held.
func (s *supervisor) afterExitLocked(in *inst, pm *postgres.Process) {
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
func (s *supervisor) stop(in *inst) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm != nil {
		s.events.stopped("shutdown")
	}
	s.stopLocked(in)
}

func (s *supervisor) stopLocked(in *inst) {
	pm := in.pm
	if pm == nil {
		return
	}
	if !in.deleted.Load() && !in.warm.Load() { // a warm instance's archive goes with it
		s.beforeStop(in)
	}
	in.pm = nil // tells watch this exit is intended
	pools := in.pools
	in.pools = nil
	if err := pm.Stop(10 * time.Second); err != nil {
		s.log.Warn("stop instance", logkey.DB, in.id, logkey.Err, err)
	}
	for _, p := range pools {
		p.Close()
	}
}

// stopNow stops a committed instance no lease holds; it reports whether
// it stopped it.
func (s *supervisor) stopNow(id string) bool {
	in := s.get(id)
	if in == nil {
		return false
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.leases.Load() > 0 || in.warm.Load() || in.deleted.Load() || in.pm == nil {
		return false
	}
	s.stopLocked(in)
	s.events.stopped("requested")
	return true
}

// reaper stops instances that have had no lease for the idle timeout,
// until quit.
func (s *supervisor) reaper() {
	if s.idle <= 0 {
		return
	}
	t := time.NewTicker(max(min(s.idle/4, time.Second), 50*time.Millisecond))
	defer t.Stop()
	for {
		select {
		case <-s.quit:
			return
		case <-t.C:
		}
		for _, in := range s.committed() {
			if s.isIdle(in) {
				s.stopIfIdle(in)
			}
		}
	}
}

func (s *supervisor) isIdle(in *inst) bool {
	return in.leases.Load() == 0 && in.idleFor() >= s.idle && !s.closed.Load()
}

// stopIfIdle runs the BeforeIdleStop hooks on a running idle instance,
// then stops it if it is still idle.
func (s *supervisor) stopIfIdle(in *inst) {
	s.mu.Lock()
	hooks := s.hooks
	s.mu.Unlock()
	if len(hooks) > 0 && s.hold(in) {
		// A quiet lease: its end does not restart the idle clock.
		l := &lease{s: s, in: in, quiet: true}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		for _, h := range hooks {
			h(ctx, l)
		}
		cancel()
		in.leases.Add(-1)
	}
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.pm == nil || !s.isIdle(in) {
		return
	}
	s.log.Debug("stopping idle instance", logkey.DB, in.id)
	s.stopLocked(in)
	s.events.stopped("idle")
}

// close refuses new instances and leases from now on and returns every
// instance, for stopAll once the driver's goroutines are gone.
func (s *supervisor) close() []*inst {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed.Store(true)
	all := make([]*inst, 0, len(s.insts))
	for _, in := range s.insts {
		all = append(all, in)
	}
	return all
}

// stopAll stops instances in parallel, then runs after on each.
func (s *supervisor) stopAll(all []*inst, after func(*inst)) {
	var wg sync.WaitGroup
	for _, in := range all {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.stop(in)
			after(in)
		}()
	}
	wg.Wait()
}

// startSettings are an instance's -c flags: the archiver's, and settings of
// the current recipe that a data directory made by an older one lacks.
func startSettings(extra map[string]string) map[string]string {
	m := make(map[string]string, len(extra)+1)
	for k, v := range extra {
		m[k] = v
	}
	m["search_path"] = postgres.SearchPath
	return m
}
