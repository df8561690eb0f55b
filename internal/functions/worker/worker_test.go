package worker_test

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/db9/db9/internal/functions/bundle"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/memfs"
	"github.com/db9/db9/internal/functions/runtime"
	"github.com/db9/db9/internal/functions/worker"
)

// workerBin is the test binary itself, started as a worker (TestMain). As
// root, workers run as nobody, who cannot enter go test's private build
// directory: the binary is copied where it can.
var workerBin string

func TestMain(m *testing.M) {
	if len(os.Args) == 2 && os.Args[1] == worker.Subcommand {
		os.Exit(worker.Main())
	}
	workerBin = os.Args[0]
	cleanup := func() {}
	if os.Geteuid() == 0 {
		dir, err := os.MkdirTemp(shm(), "db9-fnworker-")
		if err != nil {
			panic(err)
		}
		os.Chmod(dir, 0o755)
		workerBin = filepath.Join(dir, "worker")
		if err := copyFile(os.Args[0], workerBin); err != nil {
			panic(err)
		}
		cleanup = func() { os.RemoveAll(dir) }
	}
	code := m.Run()
	cleanup()
	os.Exit(code)
}

func shm() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return ""
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		return err
	}
	return out.Close()
}

func newPool(t testing.TB, cfg worker.Config) *worker.Pool {
	t.Helper()
	cfg.Command = workerBin
	p := worker.NewPool(cfg)
	if err := p.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(context.Background()) })
	return p
}

func inv(t testing.TB, db, version, src string) worker.Invocation {
	t.Helper()
	b, err := bundle.Build([]byte(src), "index.handler")
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	return worker.Invocation{DatabaseID: db, FunctionID: "fn-" + version, VersionID: version, RunID: "run",
		Script: b.Script, Export: b.Export, Input: json.RawMessage(`{"n":1}`), Trigger: "invoke"}
}

func TestPool_Invoke_Handlers(t *testing.T) {
	p := newPool(t, worker.Config{})
	cases := []struct{ name, src, want string }{
		{"cjs", `module.exports = { handler: async (input, ctx) => ({ n: input.n, run: ctx.self.runId, trigger: ctx.self.triggerType }) }`, `{"n":1,"run":"run","trigger":"invoke"}`},
		{"esm", `export async function handler(input) { return input.n + 1 }`, `2`},
		{"ts", `type In = { n: number }; export const handler = async (i: In): Promise<string> => "n=" + i.n`, `"n=1"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r := p.Invoke(context.Background(), inv(t, "db1", c.name, c.src), nil)
			if r.Status != runtime.StatusSucceeded || r.ResultJSON != c.want {
				t.Fatalf("result %+v, want %s", r, c.want)
			}
		})
	}
}

func TestPool_Invoke_LogsInOrderAndSecretsRedacted(t *testing.T) {
	p := newPool(t, worker.Config{})
	in := inv(t, "db1", "v1", `exports.handler = async (i, ctx) => {
		console.log("first"); await new Promise(r => setTimeout(r, 5)); console.warn("second");
		console.log("key is " + ctx.secrets.get("API_KEY")); throw new Error("bad " + ctx.secrets.get("API_KEY")) }`)
	in.Secrets = map[string]string{"API_KEY": "sk-live-123456"}
	r := p.Invoke(context.Background(), in, nil)
	var msgs []string
	for _, l := range r.Logs {
		msgs = append(msgs, l.Level+":"+l.Message)
	}
	want := "info:first|warn:second|info:key is [secret API_KEY]"
	if got := strings.Join(msgs, "|"); got != want || r.Status != runtime.StatusFailed {
		t.Fatalf("logs %q (status %s), want %q", got, r.Status, want)
	}
	if strings.Contains(r.Error, "sk-live") || !strings.Contains(r.Error, "bad [secret API_KEY]") {
		t.Fatalf("error %q", r.Error)
	}
}

func TestPool_Invoke_InfiniteLoopTimesOut(t *testing.T) {
	p := newPool(t, worker.Config{})
	in := inv(t, "db1", "loop", `exports.handler = () => { for (;;) {} }`)
	in.Limits.TimeoutMS = 300
	start := time.Now()
	r := p.Invoke(context.Background(), in, nil)
	if r.Status != runtime.StatusTimedOut {
		t.Fatalf("result %+v", r)
	}
	if d := time.Since(start); d > 300*time.Millisecond+time.Second {
		t.Fatalf("timed out after %v, more than timeout_ms + 1 s", d)
	}
	// The pool still serves the same function.
	in2 := inv(t, "db1", "loop", `exports.handler = () => 1`)
	if r := p.Invoke(context.Background(), in2, nil); r.Status != runtime.StatusSucceeded {
		t.Fatalf("after a timeout: %+v", r)
	}
}

// A loop that no VM interrupt reaches (the worker's timer goroutine keeps
// running, but a JSON.parse of a huge string is not interruptible in the
// middle) still ends at timeout_ms + KillGrace: the pool kills it.
func TestPool_Invoke_HardKill(t *testing.T) {
	p := newPool(t, worker.Config{KillGrace: 200 * time.Millisecond})
	in := inv(t, "db1", "sort", `exports.handler = () => { const a = []; for (let i = 0; i < 3e6; i++) a.push((i * 7919) % 1000003); for (;;) a.sort((x, y) => x - y) }`)
	in.Limits.TimeoutMS = 200
	start := time.Now()
	r := p.Invoke(context.Background(), in, nil)
	if r.Status != runtime.StatusTimedOut || time.Since(start) > 200*time.Millisecond+time.Second {
		t.Fatalf("result %+v after %v", r, time.Since(start))
	}
}

func TestPool_Invoke_MemoryLimit(t *testing.T) {
	p := newPool(t, worker.Config{})
	hog := inv(t, "db1", "hog", `exports.handler = () => { const keep = []; for (;;) keep.push(new Array(1 << 16).fill(keep.length)) }`)
	hog.Limits = worker.Limits{MemoryMB: 64, TimeoutMS: 60_000}
	r := p.Invoke(context.Background(), hog, nil)
	if r.Status != runtime.StatusFailed || !strings.Contains(r.Error, "memory") {
		t.Fatalf("result %+v", r)
	}
	t.Logf("array hog: %s after %v", r.Error, r.Duration)
	// Big strings grow outside goja's value arrays; same limit.
	str := inv(t, "db1", "str", `exports.handler = () => { let s = "x"; const keep = []; for (;;) { s = s + s; keep.push(s + "y") } }`)
	str.Limits = worker.Limits{MemoryMB: 64, TimeoutMS: 60_000}
	if r := p.Invoke(context.Background(), str, nil); r.Status != runtime.StatusFailed || !strings.Contains(r.Error, "memory") {
		t.Fatalf("string hog: %+v", r)
	} else {
		t.Logf("string hog: %s after %v", r.Error, r.Duration)
	}
	ok := inv(t, "db2", "fine", `exports.handler = () => "still serving"`)
	if r := p.Invoke(context.Background(), ok, nil); r.ResultJSON != `"still serving"` {
		t.Fatalf("after a memory failure: %+v", r)
	}
}

func TestPool_Invoke_NoEnvironmentNoFiles(t *testing.T) {
	p := newPool(t, worker.Config{})
	r := p.Invoke(context.Background(), inv(t, "db1", "env", `exports.handler = () => {
		const out = [typeof process, typeof require("util").format];
		for (const m of ["fs", "child_process", "os", "net", "process", "worker_threads"]) {
			try { require(m); out.push(m) } catch (e) { out.push(e.code) } }
		return out }`), nil)
	want := `["undefined","function","MODULE_NOT_FOUND","MODULE_NOT_FOUND","MODULE_NOT_FOUND","MODULE_NOT_FOUND","MODULE_NOT_FOUND","MODULE_NOT_FOUND"]`
	if r.ResultJSON != want {
		t.Fatalf("result %+v\nwant %s", r, want)
	}
}

func TestPool_Invoke_FS9ThroughParent(t *testing.T) {
	p := newPool(t, worker.Config{})
	fs := &memfs.FS{}
	host := &hostcall.Dispatcher{FS: fs}
	in := inv(t, "db1", "fs", `exports.handler = async (i, ctx) => {
		await ctx.fs9.write("/out/a.txt", "hello");
		let denied; try { await ctx.fs9.write("/etc/x", "no") } catch (e) { denied = e.code }
		return [await ctx.fs9.read("/out/a.txt"), denied] }`)
	in.Scope = hostcall.Scope{Write: []string{"/out"}}
	r := p.Invoke(context.Background(), in, host)
	if r.ResultJSON != `["hello","EACCES"]` {
		t.Fatalf("result %+v", r)
	}
	if _, err := fs.Read(context.Background(), "db1", "/etc/x"); err == nil {
		t.Fatal("a write outside fs9_scope happened")
	}
}

func TestPool_Validate(t *testing.T) {
	p := newPool(t, worker.Config{})
	for src, want := range map[string]string{
		`exports.other = 1`:            `does not export a function "handler"`,
		`throw new Error("top level")`: "Error: top level",
		`exports.handler = () => "ok"`: "",
	} {
		err := p.Validate(context.Background(), inv(t, "db1", "val", src))
		if want == "" && err != nil || want != "" && (err == nil || !strings.Contains(err.Error(), want)) {
			t.Errorf("%s: err = %v, want %q", src, err, want)
		}
		if want != "" {
			var le *worker.LoadError
			if !errorsAs(err, &le) {
				t.Errorf("%s: %T is not a *LoadError", src, err)
			}
		}
	}
}

// hits counts host calls: the 50 slow runs each make one when they start.
type slowHost struct{ started atomic.Int32 }

func (h *slowHost) Call(ctx context.Context, g *hostcall.Grant, op string, args json.RawMessage) (json.RawMessage, error) {
	h.started.Add(1)
	return json.RawMessage(`{"exists":false}`), nil
}

func TestPool_Invoke_SlowTenantDoesNotStarveAnother(t *testing.T) {
	p := newPool(t, worker.Config{MaxWorkers: 8, MaxWorkersPerDatabase: 3})
	host := &slowHost{}
	slow := inv(t, "noisy", "slow", `exports.handler = async (i, ctx) => {
		await ctx.fs9.exists("/x"); await new Promise(r => setTimeout(r, 200)); return "slow" }`)
	slow.Scope = hostcall.Scope{Read: []string{"/"}}
	fast := inv(t, "quiet", "fast", `exports.handler = () => "fast"`)
	var wg sync.WaitGroup
	var slowDone atomic.Int32
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s := slow
			s.Limits.TimeoutMS = 60_000
			if r := p.Invoke(context.Background(), s, host); r.ResultJSON != `"slow"` {
				t.Errorf("slow run: %+v", r)
			}
			slowDone.Add(1)
		}()
	}
	// Wait until the noisy database occupies its slots.
	for host.started.Load() < 3 {
		time.Sleep(5 * time.Millisecond)
	}
	for i := 0; i < 3; i++ {
		if r := p.Invoke(context.Background(), fast, nil); r.ResultJSON != `"fast"` {
			t.Fatalf("fast run: %+v", r)
		}
	}
	// The fast database was answered while most slow runs still waited
	// their turn behind the noisy database's own slots.
	if n := slowDone.Load(); n > 25 {
		t.Fatalf("fast runs finished only after %d of 50 slow runs", n)
	}
	wg.Wait()
}

func TestPool_Invoke_TenantsNeverShareAWorker(t *testing.T) {
	p := newPool(t, worker.Config{})
	// Module state persists in a warm worker; another database's run of
	// the very same version id must not see it.
	src := `let calls = 0; exports.handler = () => ++calls`
	a := inv(t, "dbA", "same-version", src)
	b := inv(t, "dbB", "same-version", src)
	got := []string{}
	for _, in := range []worker.Invocation{a, a, b, a, b} {
		got = append(got, p.Invoke(context.Background(), in, nil).ResultJSON)
	}
	if s := strings.Join(got, ","); s != "1,2,1,3,2" {
		t.Fatalf("calls seen %s, want 1,2,1,3,2", s)
	}
}

func TestLimits_Normalize(t *testing.T) {
	l, err := worker.Limits{}.Normalize()
	if err != nil || l.TimeoutMS != 10_000 || l.MemoryMB != 128 {
		t.Fatalf("%+v %v", l, err)
	}
	for _, bad := range []worker.Limits{{TimeoutMS: 300_001}, {MemoryMB: 1025}, {TimeoutMS: -1}} {
		if _, err := bad.Normalize(); err == nil {
			t.Errorf("%+v accepted", bad)
		}
	}
}

func errorsAs(err error, target **worker.LoadError) bool {
	le, ok := err.(*worker.LoadError)
	if ok {
		*target = le
	}
	return ok
}
