package worker_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/functions/runtime"
	"github.com/db9/db9/internal/functions/worker"
)

const holdSrc = `exports.handler = async (i) => { if (i && i.hold) await new Promise(r => setTimeout(r, i.hold)); return "done" }`

// A run whose caller goes away ends at once and takes its worker with it:
// the process group is killed and reaped, and the version's next run gets
// a fresh worker.
func TestPool_Invoke_CanceledRunKillsWorker(t *testing.T) {
	p := newPool(t, worker.Config{})
	in := inv(t, "db1", "hold", holdSrc)
	in.Limits.TimeoutMS = 60_000
	if r := p.Invoke(context.Background(), in, nil); r.ResultJSON != `"done"` {
		t.Fatalf("warm-up: %+v", r)
	}
	before := children(t)
	ctx, cancel := context.WithCancel(context.Background())
	time.AfterFunc(100*time.Millisecond, cancel)
	held := in
	held.Input = []byte(`{"hold":60000}`)
	start := time.Now()
	r := p.Invoke(ctx, held, nil)
	if r.Status != runtime.StatusFailed || !strings.Contains(r.Error, "canceled") || time.Since(start) > 5*time.Second {
		t.Fatalf("canceled run: %+v after %v", r, time.Since(start))
	}
	if r := p.Invoke(context.Background(), in, nil); r.ResultJSON != `"done"` {
		t.Fatalf("run after the cancel: %+v", r)
	}
	// The killed worker is reaped: no child of ours but the new one is
	// left, none a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for {
		now := children(t)
		gone := true
		for pid, state := range before {
			if _, ok := now[pid]; ok || state == "Z" {
				gone = false
			}
		}
		if gone && len(now) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("children before the cancel %v, after %v", before, now)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Workers started, timed out, evicted, crashed and closed leave no
// descriptor open in the server and no child process behind.
func TestPool_Close_NoLeakedDescriptorsOrChildren(t *testing.T) {
	// Without a GC, an *os.File lost unclosed stays open to be counted.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	warm := newPool(t, worker.Config{})
	if r := warm.Invoke(context.Background(), inv(t, "db0", "warm", holdSrc), nil); r.ResultJSON != `"done"` {
		t.Fatalf("warm-up: %+v", r)
	}
	warm.Close(context.Background())
	fds := openFDs(t)

	p := worker.NewPool(worker.Config{Command: workerBin, MaxWorkers: 2, MaxIdlePerVersion: 1})
	if err := p.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	for i := range 6 { // more versions than MaxWorkers: evictions
		if r := p.Invoke(context.Background(), inv(t, "db1", fmt.Sprint("v", i), holdSrc), nil); r.ResultJSON != `"done"` {
			t.Fatalf("run %d: %+v", i, r)
		}
	}
	loop := inv(t, "db1", "loop", `exports.handler = () => { for (;;) {} }`)
	loop.Limits.TimeoutMS = 100
	if r := p.Invoke(context.Background(), loop, nil); r.Status != runtime.StatusTimedOut {
		t.Fatalf("loop: %+v", r)
	}
	hog := inv(t, "db1", "hog", `exports.handler = () => { const keep = []; for (;;) keep.push(new Array(1 << 16).fill(1)) }`)
	hog.Limits = worker.Limits{MemoryMB: 32, TimeoutMS: 60_000}
	if r := p.Invoke(context.Background(), hog, nil); r.Status != runtime.StatusFailed {
		t.Fatalf("hog: %+v", r)
	}
	busy := make(chan worker.Result)
	go func() {
		held := inv(t, "db1", "held", holdSrc)
		held.Input = []byte(`{"hold":60000}`)
		held.Limits.TimeoutMS = 60_000
		busy <- p.Invoke(context.Background(), held, nil)
	}()
	time.Sleep(300 * time.Millisecond) // the held run is in its worker
	p.Close(context.Background())
	if r := <-busy; r.Status != runtime.StatusFailed {
		t.Fatalf("run busy at Close: %+v", r)
	}
	if now := children(t); len(now) != 0 {
		t.Fatalf("children left after Close: %v", now)
	}
	// Close has waited for every worker: nothing is left to close later
	// (and no GC ran to close a lost *os.File by its finalizer).
	if now := openFDs(t); now > fds {
		t.Fatalf("%d descriptors open after Close, %d before the pool", now, fds)
	}
}

// children is this process's child processes, pid to state.
func children(t *testing.T) map[int]string {
	t.Helper()
	me := os.Getpid()
	out := map[int]string{}
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid == me {
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
			out[pid] = f[0]
		}
	}
	return out
}

func openFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skip("no /proc/self/fd")
	}
	return len(ents)
}
