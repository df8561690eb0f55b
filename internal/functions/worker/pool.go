package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/runtime"
	"github.com/db9/db9/internal/logkey"
)

// Limits of one function version, as API.md's limits object.
type Limits struct {
	TimeoutMS int `json:"timeout_ms"`
	MemoryMB  int `json:"memory_mb"`
}

// Defaults and maxima of Limits.
const (
	DefaultTimeoutMS = 10_000
	MaxTimeoutMS     = 300_000
	DefaultMemoryMB  = 128
	MaxMemoryMB      = 1024
	minMemoryMB      = 16
)

// Normalize fills defaults and checks the bounds; the control API answers
// 422 with the error.
func (l Limits) Normalize() (Limits, error) {
	if l.TimeoutMS == 0 {
		l.TimeoutMS = DefaultTimeoutMS
	}
	if l.MemoryMB == 0 {
		l.MemoryMB = DefaultMemoryMB
	}
	if l.TimeoutMS < 1 || l.TimeoutMS > MaxTimeoutMS {
		return l, fmt.Errorf("limits.timeout_ms must be between 1 and %d", MaxTimeoutMS)
	}
	if l.MemoryMB < minMemoryMB || l.MemoryMB > MaxMemoryMB {
		return l, fmt.Errorf("limits.memory_mb must be between %d and %d", minMemoryMB, MaxMemoryMB)
	}
	return l, nil
}

// Invocation is one run to execute.
type Invocation struct {
	DatabaseID string
	FunctionID string
	VersionID  string
	RunID      string
	Script     string // bundle.Bundle.Script of the version; "": LoadScript
	// LoadScript reads the script when a worker of the version must be
	// started and Script is "": a warm worker has it already, so invokes
	// need not carry a bundle that can be megabytes.
	LoadScript func(context.Context) (string, error)
	Export     string // bundle.Bundle.Export
	Input      json.RawMessage
	Limits     Limits
	RunAs      string
	BypassRLS  bool
	Allowlist  egress.Allowlist
	Scope      hostcall.Scope
	Secrets    map[string]string // the bound secrets' values
	Trigger    string            // "invoke" or "cron"
}

// Result is how a run ended. Logs and Error have the secrets' values
// redacted.
type Result struct {
	Status     runtime.Status
	ResultJSON string
	Error      string
	Logs       []runtime.LogEntry
	Duration   time.Duration
}

// LoadError is a bundle whose module does not load: its top level throws,
// or it lacks the handler export. The control API answers 422.
type LoadError struct{ Message string }

func (e *LoadError) Error() string { return e.Message }

// Host executes the ctx calls of runs; *hostcall.Dispatcher is one.
type Host interface {
	Call(ctx context.Context, g *hostcall.Grant, op string, args json.RawMessage) (json.RawMessage, error)
}

// Config configures a Pool. Zero values take the defaults.
type Config struct {
	Command string   // the db9 binary; default os.Executable()
	Args    []string // default [Subcommand]
	// Credential is the user workers run as; nil means nobody (65534)
	// when the server runs as root, and the server's own user otherwise.
	Credential            *syscall.Credential
	MaxWorkers            int           // live worker processes; default 32
	MaxWorkersPerDatabase int           // runs of one database at once; default 4
	MaxIdlePerVersion     int           // warm workers kept per version; default 4
	IdleTimeout           time.Duration // warm worker lifetime unused; default 5 min
	KillGrace             time.Duration // after timeout_ms before the kill; default 500 ms
	WorkerCPUSeconds      int           // RLIMIT_CPU of a worker's life; default 600
	MaxCallsInFlight      int           // host calls of one run at once; default 16
	Logger                *slog.Logger
}

// Pool runs invocations in worker processes. NewPool does no I/O; Close
// kills every worker and waits for them.
type Pool struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	idle    map[procKey][]*proc // most recently used last
	live    int
	busy    map[*proc]struct{}
	waiters []chan struct{}
	dbSlots map[string]chan struct{}
	closed  bool

	stopReaper chan struct{}
	reaperDone chan struct{}
}

// NewPool returns a pool; call Open before use.
func NewPool(cfg Config) *Pool {
	if cfg.Command == "" {
		cfg.Command = executable()
	}
	if cfg.Args == nil {
		cfg.Args = []string{Subcommand}
	}
	if cfg.Credential == nil && os.Geteuid() == 0 {
		cfg.Credential = &syscall.Credential{Uid: 65534, Gid: 65534, NoSetGroups: true}
	}
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&cfg.MaxWorkers, 32)
	def(&cfg.MaxWorkersPerDatabase, 4)
	def(&cfg.MaxIdlePerVersion, 4)
	def(&cfg.WorkerCPUSeconds, 600)
	def(&cfg.MaxCallsInFlight, 16)
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 5 * time.Minute
	}
	if cfg.KillGrace <= 0 {
		cfg.KillGrace = 500 * time.Millisecond
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Pool{cfg: cfg, log: log.With(logkey.Component, "functions"), idle: map[procKey][]*proc{},
		busy: map[*proc]struct{}{}, dbSlots: map[string]chan struct{}{}}
}

// Open starts the reaper of idle workers.
func (p *Pool) Open(context.Context) error {
	p.stopReaper = make(chan struct{})
	p.reaperDone = make(chan struct{})
	go p.reap()
	return nil
}

// Close kills every worker, idle or busy (their runs fail), and waits for
// them. It is idempotent.
func (p *Pool) Close(context.Context) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	var all []*proc
	for _, ws := range p.idle {
		all = append(all, ws...)
	}
	for w := range p.busy {
		all = append(all, w)
	}
	p.idle = map[procKey][]*proc{}
	for _, ch := range p.waiters {
		close(ch)
	}
	p.waiters = nil
	p.mu.Unlock()
	if p.stopReaper != nil {
		close(p.stopReaper)
		<-p.reaperDone
	}
	for _, w := range all {
		w.kill()
	}
	for _, w := range all {
		w.wait(5 * time.Second)
	}
	return nil
}

func (p *Pool) reap() {
	defer close(p.reaperDone)
	t := time.NewTicker(p.cfg.IdleTimeout / 4)
	defer t.Stop()
	for {
		select {
		case <-p.stopReaper:
			return
		case <-t.C:
		}
		var old []*proc
		p.mu.Lock()
		for key, ws := range p.idle {
			keep := ws[:0]
			for _, w := range ws {
				if time.Since(w.idleAt) > p.cfg.IdleTimeout {
					old = append(old, w)
					p.live--
				} else {
					keep = append(keep, w)
				}
			}
			if len(keep) == 0 {
				delete(p.idle, key)
			} else {
				p.idle[key] = keep
			}
		}
		p.wakeLocked()
		p.mu.Unlock()
		for _, w := range old {
			w.kill()
		}
	}
}

var errClosed = errors.New("the function pool is closed")

// procKey is what makes warm workers interchangeable: one database's one
// version under one memory limit.
type procKey struct {
	db, version string
	memoryMB    int
}

func workerKey(inv *Invocation) procKey {
	return procKey{inv.DatabaseID, inv.VersionID, inv.Limits.MemoryMB}
}

func (p *Pool) slots(db string) chan struct{} {
	p.mu.Lock()
	defer p.mu.Unlock()
	ch, ok := p.dbSlots[db]
	if !ok {
		ch = make(chan struct{}, p.cfg.MaxWorkersPerDatabase)
		p.dbSlots[db] = ch
	}
	return ch
}

// tryDBSlot takes one of the database's run slots if one is free.
func (p *Pool) tryDBSlot(db string) (func(), bool) {
	ch := p.slots(db)
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, true
	default:
		return nil, false
	}
}

// dbSlot takes one of the database's run slots, waiting for one.
func (p *Pool) dbSlot(ctx context.Context, db string) (func(), error) {
	ch := p.slots(db)
	select {
	case ch <- struct{}{}:
		return func() { <-ch }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// takeIdle returns a warm worker of key, or nil when there is none.
func (p *Pool) takeIdle(key procKey) (*proc, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, errClosed
	}
	ws := p.idle[key]
	if len(ws) == 0 {
		return nil, nil
	}
	w := ws[len(ws)-1]
	p.idle[key] = ws[:len(ws)-1]
	p.busy[w] = struct{}{}
	return w, nil
}

// acquire returns a warm worker of key, or a fresh one (loaded).
func (p *Pool) acquire(ctx context.Context, inv *Invocation) (*proc, error) {
	key := workerKey(inv)
	for {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return nil, errClosed
		}
		if ws := p.idle[key]; len(ws) > 0 {
			w := ws[len(ws)-1]
			p.idle[key] = ws[:len(ws)-1]
			p.busy[w] = struct{}{}
			p.mu.Unlock()
			return w, nil
		}
		var evict *proc
		if p.live >= p.cfg.MaxWorkers {
			evict = p.oldestIdleLocked()
		}
		if p.live < p.cfg.MaxWorkers || evict != nil {
			if evict == nil {
				p.live++
			}
			p.mu.Unlock()
			if evict != nil {
				evict.kill()
			}
			w, err := p.start(ctx, inv, key)
			p.mu.Lock()
			if err != nil {
				p.live--
				p.wakeLocked()
				p.mu.Unlock()
				return nil, err
			}
			p.busy[w] = struct{}{}
			p.mu.Unlock()
			return w, nil
		}
		wake := make(chan struct{})
		p.waiters = append(p.waiters, wake)
		p.mu.Unlock()
		select {
		case <-wake:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

func (p *Pool) oldestIdleLocked() *proc {
	var oldest *proc
	var oldestKey procKey
	for key, ws := range p.idle {
		if len(ws) > 0 && (oldest == nil || ws[0].idleAt.Before(oldest.idleAt)) {
			oldest, oldestKey = ws[0], key
		}
	}
	if oldest != nil {
		p.idle[oldestKey] = p.idle[oldestKey][1:]
		if len(p.idle[oldestKey]) == 0 {
			delete(p.idle, oldestKey)
		}
	}
	return oldest
}

func (p *Pool) wakeLocked() {
	for _, ch := range p.waiters {
		close(ch)
	}
	p.waiters = nil
}

// release returns w to the idle set, or ends it.
func (p *Pool) release(w *proc, reuse bool) {
	p.mu.Lock()
	delete(p.busy, w)
	keep := reuse && !p.closed && len(p.idle[w.key]) < p.cfg.MaxIdlePerVersion
	if keep {
		w.idleAt = time.Now()
		p.idle[w.key] = append(p.idle[w.key], w)
	} else {
		p.live--
	}
	p.wakeLocked()
	p.mu.Unlock()
	if !keep {
		w.kill()
		go w.wait(5 * time.Second)
	}
}

// start spawns a worker and loads the script into it.
func (p *Pool) start(ctx context.Context, inv *Invocation, key procKey) (*proc, error) {
	script := inv.Script
	if script == "" && inv.LoadScript != nil {
		var err error
		if script, err = inv.LoadScript(ctx); err != nil {
			return nil, fmt.Errorf("read the function's script: %w", err)
		}
	}
	w, err := p.spawn(key, inv.DatabaseID)
	if err != nil {
		return nil, err
	}
	load := &message{Type: msgLoad, Script: script, Export: inv.Export, MemoryMB: inv.Limits.MemoryMB,
		CPUSeconds: p.cfg.WorkerCPUSeconds, TimeoutMS: inv.Limits.TimeoutMS}
	if err := w.c.send(load); err != nil {
		w.kill()
		return nil, fmt.Errorf("load function: %w", err)
	}
	w.readDeadline(time.Now().Add(time.Duration(inv.Limits.TimeoutMS)*time.Millisecond + p.cfg.KillGrace))
	stop := context.AfterFunc(ctx, w.kill)
	m, err := w.c.recv()
	if !stop() {
		return nil, ctx.Err() // killed
	}
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.kill()
		return nil, &LoadError{Message: "load bundle: the module's top level did not finish within timeout_ms"}
	case err != nil:
		reason := w.crashReason(inv.Limits.MemoryMB)
		w.kill()
		return nil, &LoadError{Message: "load bundle: " + reason}
	case m.Type != msgLoaded:
		w.kill()
		return nil, fmt.Errorf("load function: worker answered %q", m.Type)
	case m.Err != "":
		w.kill()
		return nil, &LoadError{Message: m.Err}
	}
	w.cpuMS = m.CPUMS
	return w, nil
}

// Validate loads a version's script in a fresh worker, as deploy does to
// refuse a bundle whose module throws or lacks the handler export
// (*LoadError). The loaded worker stays warm for the version's first run.
func (p *Pool) Validate(ctx context.Context, inv Invocation) error {
	lim, err := inv.Limits.Normalize()
	if err != nil {
		return &LoadError{Message: err.Error()}
	}
	inv.Limits = lim
	release, err := p.dbSlot(ctx, inv.DatabaseID)
	if err != nil {
		return err
	}
	defer release()
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return errClosed
	}
	p.live++
	p.mu.Unlock()
	w, err := p.start(ctx, &inv, workerKey(&inv))
	if err != nil {
		p.mu.Lock()
		p.live--
		p.wakeLocked()
		p.mu.Unlock()
		return err
	}
	p.mu.Lock()
	p.busy[w] = struct{}{}
	p.mu.Unlock()
	p.release(w, true)
	return nil
}

// redact replaces every bound secret's value in s. Values shorter than
// three bytes are left: they cannot be told apart from ordinary text.
func redact(s string, secrets map[string]string) string {
	for name, v := range secrets {
		if len(v) >= 3 && strings.Contains(s, v) {
			s = strings.ReplaceAll(s, v, "[secret "+name+"]")
		}
	}
	return s
}
