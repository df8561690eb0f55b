package worker_test

import (
	"context"
	"fmt"
	"testing"

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
