package worker_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/functions/runtime"
	"github.com/db9/db9/internal/functions/worker"
)

// BenchmarkPool_Invoke_Warm is a trivial handler on a warm worker: IPC,
// the VM call and JSON, no process start.
func BenchmarkPool_Invoke_Warm(b *testing.B) {
	p := newPool(b, worker.Config{})
	in := inv(b, "db1", "warm", `exports.handler = async (input) => ({ ok: true, n: input.n })`)
	if r := p.Invoke(context.Background(), in, nil); r.Status != runtime.StatusSucceeded {
		b.Fatal(r)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if r := p.Invoke(context.Background(), in, nil); r.Status != runtime.StatusSucceeded {
			b.Fatal(r)
		}
	}
}

// BenchmarkPool_Invoke_Cold is the first run of a version: a new worker
// process, the bundle loaded, then the call.
func BenchmarkPool_Invoke_Cold(b *testing.B) {
	p := newPool(b, worker.Config{MaxIdlePerVersion: 1})
	in := inv(b, "db1", "cold", `exports.handler = async (input) => ({ ok: true, n: input.n })`)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		in.VersionID = fmt.Sprint("cold-", i)
		if r := p.Invoke(context.Background(), in, nil); r.Status != runtime.StatusSucceeded {
			b.Fatal(r)
		}
	}
}

// BenchmarkPool_Invoke_Parallel is the trivial handler of db9bench's
// throughput run (16 clients, one version, MaxWorkersPerDatabase workers)
// and reports the CPU per invoke of this process (the pool's side of the
// IPC) and of the workers, as db9bench does. The next run reaches a
// worker before it has gone to sleep more often than in the server.
func BenchmarkPool_Invoke_Parallel(b *testing.B) { benchParallel(b, 0) }

// BenchmarkPool_Invoke_Paced is the same with 100 µs of CPU per invoke on
// the caller's side, about what the server spends on HTTP and the catalog:
// every run wakes a sleeping worker, as in db9bench, whose worker CPU per
// invoke this one matches. pool-µs/op includes the 100 µs.
func BenchmarkPool_Invoke_Paced(b *testing.B) { benchParallel(b, 100*time.Microsecond) }

var spinSink int

func benchParallel(b *testing.B, spin time.Duration) {
	p := newPool(b, worker.Config{})
	in := inv(b, "db1", "par", `module.exports = { handler: async () => "ok" }`)
	in.Input = json.RawMessage("null")
	for range 4 {
		if r := p.Invoke(context.Background(), in, nil); r.Status != runtime.StatusSucceeded {
			b.Fatal(r)
		}
	}
	self0, workers0 := procCPU()
	b.SetParallelism(8) // 16 goroutines on 2 cores
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			for start := time.Now(); time.Since(start) < spin; {
				spinSink++
			}
			if r := p.Invoke(context.Background(), in, nil); r.Status != runtime.StatusSucceeded {
				b.Error(r)
				return
			}
		}
	})
	b.StopTimer()
	self1, workers1 := procCPU()
	b.ReportMetric(float64((self1-self0).Microseconds())/float64(b.N), "pool-µs/op")
	b.ReportMetric(float64((workers1-workers0).Microseconds())/float64(b.N), "worker-µs/op")
}

// procCPU is the CPU time of this process and of its running children,
// from /proc (clock ticks of 10 ms: meaningful over seconds).
func procCPU() (self, children time.Duration) {
	me := os.Getpid()
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		// The fields after the command, which may hold spaces, in parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 13 {
			continue
		}
		pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(path)))
		ppid, _ := strconv.Atoi(f[1])
		if pid != me && ppid != me {
			continue
		}
		var ticks int64
		for _, s := range f[11:13] { // utime, stime
			n, _ := strconv.ParseInt(s, 10, 64)
			ticks += n
		}
		d := time.Duration(ticks) * 10 * time.Millisecond
		if pid == me {
			self += d
		} else {
			children += d
		}
	}
	return self, children
}
