package httpapi

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"runtime"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/postgres"
)

// Handlers the functions benchmark deploys.
const (
	fnTrivial = `module.exports = { handler: async () => "ok" };`
	fnQuery   = `module.exports = { handler: async (input, ctx) => (await ctx.db.query("select 1")).rows[0][0] };`
	// fnHold waits input.hold ms: one run keeps the warm worker busy
	// while another, arriving meanwhile, must start a worker of its own.
	fnHold = `module.exports = { handler: async (input) => { if (input && input.hold) await new Promise(r => setTimeout(r, input.hold)); return "held"; } };`
)

// Functions measures invokes of deployed functions
// over the REST API, end to end over HTTP — a trivial handler warm and
// right after its deploy, one `ctx.db.query` warm, a run that needs a new
// worker — and invocations per second at -clients concurrent clients
// against `POST /sql` of `select 1`, the peer, in the same run.
func Functions(args []string) error {
	fs := flag.NewFlagSet("functions", flag.ExitOnError)
	e := harness.Flags(fs)
	n := fs.Int("n", 2000, "sequential invokes per warm latency measurement")
	cold := fs.Int("cold", 30, "deploys, each followed by its first invoke (and as many new-worker runs)")
	dur := fs.Duration("duration", 5*time.Second, "duration of each throughput run")
	clients := fs.Int("clients", 16, "concurrent clients of the throughput runs")
	rounds := fs.Int("rounds", 3, "throughput runs per side, alternating invoke and /sql; the table keeps the best of each")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the bench process (client and server) during the first invoke throughput run")
	sqlprofile := fs.String("sqlprofile", "", "write a CPU profile of the bench process during the first /sql throughput run")
	memprofile := fs.String("memprofile", "", "write allocation profiles of the bench process before (FILE.base) and after (FILE) the first invoke throughput run; compare with pprof -base")
	fs.Parse(args)
	srv, api, id, closeServer, err := harness.ServerWithDB(e, "fnbench")
	if err != nil {
		return err
	}
	defer closeServer()
	base := "/customer/databases/" + id
	fn := &fnClient{api: api, base: base}
	for name, src := range map[string]string{"trivial": fnTrivial, "query": fnQuery, "hold": fnHold, "fresh": fnTrivial} {
		if err := fn.create(name, src); err != nil {
			return err
		}
	}
	invoke := func(name, body string) (*rawHTTP, error) {
		return newRawHTTP(srv.HTTPAddr(), base+"/functions/"+name+"/invoke", api.Token, []byte(body))
	}
	succeeded := []byte(`"status":"succeeded"`)
	checkRun := func(b []byte, err error) error {
		if err == nil && !bytes.Contains(b, succeeded) {
			err = fmt.Errorf("run did not succeed: %s", b)
		}
		return err
	}
	sqlRows := []byte(`"rows":[[1]]`)
	checkSQL := func(b []byte, err error) error {
		if err == nil && !bytes.Contains(b, sqlRows) {
			err = fmt.Errorf("unexpected /sql answer %s", b)
		}
		return err
	}
	sql := func() (*rawHTTP, error) {
		return newRawHTTP(srv.HTTPAddr(), base+"/sql", api.Token, []byte(`{"query":"select 1"}`))
	}

	// Warm latency, one client: the trivial handler, the one query, and
	// /sql select 1 interleaved so that drift hits all three alike.
	triv, err := invoke("trivial", `{"input":null}`)
	if err != nil {
		return err
	}
	defer triv.close()
	query, err := invoke("query", `{"input":null}`)
	if err != nil {
		return err
	}
	defer query.close()
	peer, err := sql()
	if err != nil {
		return err
	}
	defer peer.close()
	var tl, ql, sl []time.Duration
	for i := 0; i < 200+*n; i++ {
		for _, m := range []struct {
			h     *rawHTTP
			check func([]byte, error) error
			into  *[]time.Duration
		}{{triv, checkRun, &tl}, {query, checkRun, &ql}, {peer, checkSQL, &sl}} {
			s := time.Now()
			if err := m.check(m.h.do()); err != nil {
				return err
			}
			if i >= 200 { // the first 200 warm up
				*m.into = append(*m.into, time.Since(s))
			}
		}
	}

	// Right after a deploy: each PUT makes a new version, whose first
	// invoke is timed. Then a run while the version's warm worker is busy,
	// which has to start a worker of its own (a cold worker).
	var deployL, firstL, newWorkerL []time.Duration
	for i := 0; i < *cold; i++ {
		s := time.Now()
		if err := fn.update("fresh", fnTrivial); err != nil {
			return err
		}
		deployL = append(deployL, time.Since(s))
		s = time.Now()
		if err := checkRun(fn.invokeOnce("fresh", `{"input":null}`)); err != nil {
			return err
		}
		firstL = append(firstL, time.Since(s))

		if err := fn.update("hold", fnHold); err != nil {
			return err
		}
		busy := make(chan error, 1)
		go func() { busy <- checkRun(fn.invokeOnce("hold", `{"input":{"hold":400}}`)) }()
		time.Sleep(100 * time.Millisecond) // the holding run has the warm worker
		s = time.Now()
		if err := checkRun(fn.invokeOnce("hold", `{"input":null}`)); err != nil {
			return err
		}
		newWorkerL = append(newWorkerL, time.Since(s))
		if err := <-busy; err != nil {
			return err
		}
	}

	// Throughput, -clients concurrent clients, rounds alternating sides.
	catPM := postgres.PostmasterPid(srv.Layout.Catalog().Data)
	instPM := srv.Postmaster(id)
	throughput := func(open func() (*rawHTTP, error), check func([]byte, error) error) (float64, harness.Stats, fnCPU, error) {
		cpu0 := fnCPU{self: harness.SelfCPU(), catalog: harness.PostmasterCPU(catPM), instance: harness.PostmasterCPU(instPM), workers: harness.WorkersCPU()}
		all, took, err := harness.Clients(*clients, *dur, func() (func() error, func(), error) {
			h, err := open()
			if err != nil {
				return nil, nil, err
			}
			return func() error { return check(h.do()) }, h.close, nil
		})
		cpu := fnCPU{n: len(all), self: harness.SelfCPU() - cpu0.self, catalog: harness.PostmasterCPU(catPM) - cpu0.catalog,
			instance: harness.PostmasterCPU(instPM) - cpu0.instance, workers: harness.WorkersCPU() - cpu0.workers}
		return float64(len(all)) / took.Seconds(), harness.Summarize(all), cpu, err
	}
	harness.WaitPools(srv, api, e.WarmPool, e.SparePool)
	var invTPS, sqlTPS float64
	var invS, sqlS harness.Stats
	var invCPU, sqlCPU fnCPU
	var roundRatios []string
	for r := 0; r < max(1, *rounds); r++ {
		if r == 0 && *memprofile != "" {
			if err := writeAllocs(*memprofile + ".base"); err != nil {
				return err
			}
		}
		stop, err := startCPUProfile(r == 0, *cpuprofile)
		if err != nil {
			return err
		}
		it, is, ic, err := throughput(func() (*rawHTTP, error) { return invoke("trivial", `{"input":null}`) }, checkRun)
		stop()
		if err != nil {
			return err
		}
		if r == 0 && *memprofile != "" {
			if err := writeAllocs(*memprofile); err != nil {
				return err
			}
		}
		if stop, err = startCPUProfile(r == 0, *sqlprofile); err != nil {
			return err
		}
		st, ss, sc, err := throughput(sql, checkSQL)
		stop()
		if err != nil {
			return err
		}
		roundRatios = append(roundRatios, fmt.Sprintf("%.0f/%.0f=%.2f", it, st, it/st))
		if it > invTPS {
			invTPS, invS, invCPU = it, is, ic
		}
		if st > sqlTPS {
			sqlTPS, sqlS, sqlCPU = st, ss, sc
		}
	}
	fmt.Fprintln(os.Stderr, "rounds invoke/sql per second:", strings.Join(roundRatios, " "))

	fmt.Println(harness.TableHead)
	fmt.Println(harness.Summarize(tl).Row("invoke, trivial handler, warm (goal p50 ≤ 3 ms)"))
	fmt.Println(harness.Summarize(ql).Row("invoke, one `ctx.db.query`, warm (goal p50 ≤ 5 ms)"))
	fmt.Println(harness.Summarize(sl).Row("peer: `POST /sql` select 1"))
	fmt.Println(harness.Summarize(firstL).Row("invoke, trivial handler, first after its deploy (goal p50 ≤ 60 ms)"))
	fmt.Println(harness.Summarize(deployL).Row("deploy (PUT a new version; loads it in a worker)"))
	fmt.Println(harness.Summarize(newWorkerL).Row("invoke needing a new worker (the warm one busy)"))
	fmt.Println(invS.Row(fmt.Sprintf("invoke, trivial handler, %d clients", *clients)))
	fmt.Println(sqlS.Row(fmt.Sprintf("`POST /sql` select 1, %d clients", *clients)))
	fmt.Printf("\n| throughput, %d clients | per second |\n|---|---|\n| invoke (trivial handler) | %.0f |\n| `POST /sql` select 1 | %.0f |\n| **ratio invoke / sql (goal ≥ 0.5)** | **%.2f** |\n",
		*clients, invTPS, sqlTPS, invTPS/sqlTPS)
	fmt.Printf("\n| CPU per request, %d clients, µs | bench process (client + server) | catalog PostgreSQL | database instance | function workers | total |\n|---|---|---|---|---|---|\n", *clients)
	fmt.Println(invCPU.row("invoke (trivial handler)"))
	fmt.Println(sqlCPU.row("`POST /sql` select 1"))
	return nil
}

// startCPUProfile starts a CPU profile into file when on and file is
// set; stop ends it (a no-op otherwise).
func startCPUProfile(on bool, file string) (stop func(), err error) {
	if !on || file == "" {
		return func() {}, nil
	}
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// writeAllocs writes the allocation profile so far (cumulative: two of
// them, one the -base of the other, give what was allocated in between).
func writeAllocs(file string) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	defer f.Close()
	runtime.GC() // the profile is as of the last collection
	return pprof.Lookup("allocs").WriteTo(f, 0)
}

// fnCPU is the CPU a throughput run used, by process, for n requests.
type fnCPU struct {
	n                                int
	self, catalog, instance, workers time.Duration
}

func (c fnCPU) row(name string) string {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / float64(max(c.n, 1)) }
	return fmt.Sprintf("| %s | %.0f | %.0f | %.0f | %.0f | %.0f |", name, per(c.self), per(c.catalog), per(c.instance), per(c.workers),
		per(c.self+c.catalog+c.instance+c.workers))
}

// fnClient deploys and invokes the benchmark's functions.
type fnClient struct {
	api  *harness.APIClient
	base string
}

// upload posts a bundle's raw bytes and returns its bundle_ref.
func (f *fnClient) upload(src string) (string, error) {
	req, err := http.NewRequest("POST", f.api.Base+f.base+"/functions/bundles", strings.NewReader(src))
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+f.api.Token)
	resp, err := f.api.HTTP.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 201 {
		return "", fmt.Errorf("upload bundle: %d: %s", resp.StatusCode, b)
	}
	const key = `"bundle_ref":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return "", fmt.Errorf("upload bundle: no bundle_ref in %s", b)
	}
	ref, _, _ := strings.Cut(string(b[i+len(key):]), `"`)
	return ref, nil
}

func (f *fnClient) create(name, src string) error {
	ref, err := f.upload(src)
	if err != nil {
		return err
	}
	return f.api.Do("POST", f.base+"/functions", map[string]any{"name": name, "entrypoint": "index.handler", "bundle_ref": ref}, 201, nil)
}

// update deploys src as a new version of name.
func (f *fnClient) update(name, src string) error {
	ref, err := f.upload(src)
	if err != nil {
		return err
	}
	return f.api.Do("PUT", f.base+"/functions/"+name, map[string]any{"bundle_ref": ref}, 200, nil)
}

// invokeOnce invokes name on a pooled connection and returns the run.
func (f *fnClient) invokeOnce(name, body string) ([]byte, error) {
	req, err := http.NewRequest("POST", f.api.Base+f.base+"/functions/"+name+"/invoke", strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+f.api.Token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := f.api.HTTP.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != 200 {
		err = fmt.Errorf("invoke %s: %d: %s", name, resp.StatusCode, b)
	}
	return b, err
}
