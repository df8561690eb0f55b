package worker

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	rt "runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/db9/db9/internal/functions/runtime"
)

// Subcommand is the first argument that makes the db9 binary a worker:
// `db9 function-worker`. cmd/db9 checks it before building the CLI.
const Subcommand = "function-worker"

// addressSpaceOverhead is what the Go runtime and goja reserve beyond the
// heap (page allocator summaries, arenas' granularity, stacks, the binary):
// RLIMIT_AS is memory_mb plus this, a hard ceiling above the soft limit
// that the heap watcher enforces. Measured: an idle worker maps ~1.2 GiB
// of address space (mostly PROT_NONE reservations), and each heap arena
// reservation is 64 MiB.
const addressSpaceOverhead = 2 << 30

// Main runs a worker on stdin/stdout and returns its exit code. The parent
// owns the process: EOF on stdin ends it.
func Main() int {
	debug.SetTraceback("none") // a crash must not print the VM's data
	// One VM runs one run at a time: one P hands a message from the
	// reading goroutine to the run without waking another thread. The
	// heap watcher and the timers still run, by preemption, while the
	// customer's code loops.
	rt.GOMAXPROCS(1)
	// Non-blocking, the pipes go through the runtime's poller: a read
	// waiting for the next message parks a goroutine, not a thread, and
	// the message's arrival wakes the worker once. rawPipe reads and
	// writes them without the scheduler's system-call bookkeeping.
	var in io.Reader = os.Stdin
	var out io.Writer = os.Stdout
	if syscall.SetNonblock(0, true) == nil && syscall.SetNonblock(1, true) == nil {
		r, rerr := newRawPipe(os.NewFile(0, "stdin"))
		w, werr := newRawPipe(os.NewFile(1, "stdout"))
		if rerr == nil && werr == nil {
			in, out = r, w
		}
	}
	c := newConn(in, out)
	if err := serve(c); err != nil && !errors.Is(err, io.EOF) {
		fmt.Fprintf(os.Stderr, "function worker: %v\n", err)
		return 1
	}
	return 0
}

// child is the state of a worker process.
type child struct {
	c       *conn
	mod     *runtime.Module
	nextID  atomic.Uint64
	mu      sync.Mutex
	pending map[uint64]chan *message
	invokes chan *message
	readErr error
	closed  chan struct{}
}

func serve(c *conn) error {
	m, err := c.recv()
	if err != nil {
		return err
	}
	if m.Type != msgLoad {
		return fmt.Errorf("first message is %q, want load", m.Type)
	}
	limit := int64(m.MemoryMB) << 20
	if err := applyLimits(m.MemoryMB, m.CPUSeconds); err != nil {
		return err
	}
	// The GC's own limit sits above the one the watcher enforces: at the
	// same value the GC would thrash to stay below it, and a hog would
	// crawl towards the limit for seconds instead of being stopped.
	debug.SetMemoryLimit(limit + limit/2)
	ch := &child{c: c, pending: map[uint64]chan *message{}, invokes: make(chan *message, 1), closed: make(chan struct{})}
	w := startWatcher(limit)
	defer w.stop()
	w.watch(true) // the module's top level is customer code too

	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(m.TimeoutMS)*time.Millisecond)
	w.setTarget(func(err error) { cancel() })
	mod, err := runtime.Load(ctx, m.Script, m.Export)
	cancel()
	w.watch(false)
	if err != nil {
		if w.tripped() {
			err = fmt.Errorf("load bundle: %w (%d MB)", runtime.ErrMemory, m.MemoryMB)
		}
		return c.send(&message{Type: msgLoaded, Err: err.Error(), Broken: true})
	}
	ch.mod = mod
	w.setTarget(mod.Interrupt)
	var cpu cpuClock
	if err := c.send(&message{Type: msgLoaded, CPUMS: cpu.read()}); err != nil {
		return err
	}
	go ch.readLoop()
	for {
		var m *message
		select {
		case m = <-ch.invokes:
		case <-ch.closed:
			return ch.readErr
		}
		w.watch(true)
		out := ch.invoke(m)
		w.watch(false)
		if out.Status == runtime.StatusFailed && w.tripped() {
			out = runtime.Outcome{Status: runtime.StatusFailed, Error: fmt.Sprintf("%v (%d MB)", runtime.ErrMemory, limit>>20), Logs: out.Logs}
		}
		broken := mod.Broken()
		if err := c.send(&message{Type: msgDone, Outcome: &out, CPUMS: cpu.read(), Broken: broken}); err != nil {
			return err
		}
		if broken {
			return nil
		}
	}
}

func (ch *child) readLoop() {
	defer close(ch.closed)
	for {
		m, err := ch.c.recv()
		if err != nil {
			ch.readErr = err
			ch.mu.Lock()
			for id, p := range ch.pending {
				close(p)
				delete(ch.pending, id)
			}
			ch.mu.Unlock()
			return
		}
		switch m.Type {
		case msgReply:
			ch.mu.Lock()
			p := ch.pending[m.ID]
			delete(ch.pending, m.ID)
			ch.mu.Unlock()
			if p != nil {
				p <- m
			}
		case msgInvoke:
			ch.invokes <- m
		}
	}
}

func (ch *child) invoke(m *message) runtime.Outcome {
	self := runtime.Self{}
	if m.Self != nil {
		self = *m.Self
	}
	// Call.Timeout, not a context deadline: the Module re-arms one timer.
	return ch.mod.Invoke(context.Background(), runtime.Call{Input: m.Input, Secrets: m.Secrets, Self: self, Host: ch,
		LogLimit: m.LogLimit, Timeout: time.Duration(max(m.TimeoutMS, 1)) * time.Millisecond})
}

// Call sends a host call to the parent and waits for its reply.
func (ch *child) Call(ctx context.Context, op string, args json.RawMessage) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		// A call whose goroutine first ran after its run ended: the pool
		// would serve it during the next run.
		return nil, err
	}
	id := ch.nextID.Add(1)
	reply := make(chan *message, 1)
	ch.mu.Lock()
	ch.pending[id] = reply
	ch.mu.Unlock()
	if err := ch.c.send(&message{Type: msgCall, ID: id, Op: op, Args: args}); err != nil {
		return nil, err
	}
	select {
	case m, ok := <-reply:
		if !ok {
			return nil, errors.New("the worker lost its parent")
		}
		if m.Error != nil {
			return nil, m.Error
		}
		return m.Result, nil
	case <-ctx.Done():
		ch.mu.Lock()
		delete(ch.pending, id)
		ch.mu.Unlock()
		return nil, ctx.Err()
	}
}

func applyLimits(memoryMB, cpuSeconds int) error {
	as := uint64(memoryMB)<<20 + addressSpaceOverhead
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &syscall.Rlimit{Cur: as, Max: as}); err != nil {
		return fmt.Errorf("set RLIMIT_AS: %w", err)
	}
	if cpuSeconds > 0 {
		// The soft limit's SIGXCPU ends the process; the hard one is the
		// kernel's SIGKILL should that signal be caught.
		lim := &syscall.Rlimit{Cur: uint64(cpuSeconds), Max: uint64(cpuSeconds) + 2}
		if err := syscall.Setrlimit(syscall.RLIMIT_CPU, lim); err != nil {
			return fmt.Errorf("set RLIMIT_CPU: %w", err)
		}
	}
	// No core files of customer data.
	_ = syscall.Setrlimit(syscall.RLIMIT_CORE, &syscall.Rlimit{})
	return nil
}

// cpuClock is the worker's CPU time as the done messages report it, for
// the pool's retiring of a worker before RLIMIT_CPU (with a 2 s margin).
// getrusage at every run was ~8% of a trivial run's CPU, so it is read at
// most every cpuSampleEvery of wall time; in between, the last reading
// plus twice the wall time since is reported: an upper bound, as one P runs
// the worker's Go code, so the pool errs on retiring a worker early.
type cpuClock struct {
	ms int64
	at time.Time
}

const cpuSampleEvery = 10 * time.Millisecond

func (c *cpuClock) read() int64 {
	if since := time.Since(c.at); !c.at.IsZero() && since < cpuSampleEvery {
		return c.ms + int64(2*since+time.Millisecond-1)/int64(time.Millisecond)
	}
	c.ms, c.at = cpuMS(), time.Now()
	return c.ms
}

func cpuMS() int64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return (ru.Utime.Nano() + ru.Stime.Nano()) / int64(time.Millisecond)
}

// watcher interrupts the VM when the heap's objects exceed the limit.
// Its first poll of a run is a timer armed by watch(true) and stopped by
// watch(false): a run shorter than watchEvery wakes no other goroutine.
// Polling is what a Go program can do without cgroups; the GC, held to the
// same limit by SetMemoryLimit, keeps garbage from counting for long, and
// RLIMIT_AS stops what grows faster than the poll. It polls only while
// customer code runs (watch): between runs no JavaScript runs and nothing
// grows, and a warm worker polling every 2 ms costs CPU for nothing — 30
// idle workers woke 15,000 times a second.
type watcher struct {
	limit  int64
	mu     sync.Mutex
	target func(error)
	trip   atomic.Bool
	done   chan struct{}
	on     atomic.Bool
	t      *time.Timer // the next poll, while on
}

const watchEvery = 2 * time.Millisecond

func startWatcher(limit int64) *watcher {
	w := &watcher{limit: limit, done: make(chan struct{}), t: time.NewTimer(time.Hour)}
	w.t.Stop()
	go w.run()
	return w
}

// watch starts (on) or pauses the polling.
func (w *watcher) watch(on bool) {
	w.on.Store(on)
	if on {
		w.t.Reset(watchEvery)
	} else {
		w.t.Stop()
	}
}

func (w *watcher) setTarget(f func(error)) {
	w.mu.Lock()
	w.target = f
	w.mu.Unlock()
}

func (w *watcher) tripped() bool { return w.trip.Load() }

func (w *watcher) stop() { close(w.done) }

func (w *watcher) run() {
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	defer w.t.Stop()
	for {
		select {
		case <-w.done:
			return
		case <-w.t.C:
		}
		if !w.on.Load() {
			continue // a poll armed just before watch(false)
		}
		// Re-armed before the poll; a watch(false) meanwhile stops it.
		w.t.Reset(watchEvery)
		metrics.Read(sample)
		if int64(sample[0].Value.Uint64()) <= w.limit {
			continue
		}
		// Garbage may be what is over: count only what survives a GC.
		rt.GC()
		metrics.Read(sample)
		if int64(sample[0].Value.Uint64()) <= w.limit {
			continue
		}
		w.trip.Store(true)
		w.mu.Lock()
		f := w.target
		w.mu.Unlock()
		if f != nil {
			f(runtime.ErrMemory)
		}
		return
	}
}
