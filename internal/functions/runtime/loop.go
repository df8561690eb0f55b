package runtime

import (
	"sync"
	"time"

	"github.com/dop251/goja"
)

// loop is the event loop of one VM. JavaScript runs only on the goroutine
// that calls run; timers and host calls finish on other goroutines and post
// a job back. Jobs of an earlier invocation (gen) are dropped, so a timer a
// handler left behind never runs inside the next run.
type loop struct {
	mu     sync.Mutex
	queue  []job
	wake   chan struct{} // cap 1: "queue is not empty"
	gen    uint64        // guarded by mu
	timers map[int64]*timer
	nextID int64
	// pending counts what can still post a job for this invocation:
	// armed timers and host calls in flight. Loop goroutine only.
	pending int
}

type job struct {
	gen uint64
	fn  func()
}

type timer struct {
	t        *time.Timer
	fn       goja.Callable
	args     []goja.Value
	interval time.Duration // 0 for a one-shot timer
}

func newLoop() *loop {
	return &loop{wake: make(chan struct{}, 1), timers: map[int64]*timer{}}
}

// post queues fn for the loop goroutine, tagged with the invocation it
// belongs to. Safe from any goroutine.
func (l *loop) post(gen uint64, fn func()) {
	l.mu.Lock()
	if gen != l.gen {
		l.mu.Unlock()
		return
	}
	l.queue = append(l.queue, job{gen: gen, fn: fn})
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

func (l *loop) currentGen() uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.gen
}

// take returns the queued jobs of the current invocation.
func (l *loop) take() []job {
	l.mu.Lock()
	defer l.mu.Unlock()
	q := l.queue
	l.queue = nil
	return q
}

// reset ends the current invocation: its timers stop and whatever it
// still posts is dropped.
func (l *loop) reset() {
	for id, t := range l.timers {
		t.t.Stop()
		delete(l.timers, id)
	}
	l.pending = 0
	l.mu.Lock()
	l.gen++
	l.queue = nil
	l.mu.Unlock()
}

// setTimer arms a timer; fire runs on the loop goroutine.
func (l *loop) setTimer(fn goja.Callable, delay time.Duration, args []goja.Value, repeat bool, fire func(id int64)) int64 {
	if delay < 0 {
		delay = 0
	}
	if repeat && delay < time.Millisecond {
		// setInterval(f, 0) would otherwise spin the loop.
		delay = time.Millisecond
	}
	l.nextID++
	id := l.nextID
	t := &timer{fn: fn, args: args}
	if repeat {
		t.interval = delay
	}
	gen := l.currentGen()
	t.t = time.AfterFunc(delay, func() { l.post(gen, func() { fire(id) }) })
	l.timers[id] = t
	l.pending++
	return id
}

func (l *loop) clearTimer(id int64) {
	if t, ok := l.timers[id]; ok {
		t.t.Stop()
		delete(l.timers, id)
		l.pending--
	}
}
