package httpapi

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"runtime/pprof"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/bench/internal/harness"
)

// SQLHTTP: `select 1` through POST .../sql against direct pgx on the
// same instance's socket, with 1 and 16 concurrent clients.
func SQLHTTP(args []string) error {
	fs := flag.NewFlagSet("sqlhttp", flag.ExitOnError)
	e := harness.Flags(fs)
	n := fs.Int("n", 3000, "sequential requests per side for the latency measurement")
	dur := fs.Duration("duration", 5*time.Second, "duration of each throughput run")
	clients := fs.Int("clients", 16, "concurrent clients for the throughput run")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole process during the HTTP throughput run to this file")
	memprofile := fs.String("memprofile", "", "write an allocation profile of the whole process, taken after the first HTTP throughput run, to this file")
	rounds := fs.Int("rounds", 1, "throughput runs per side, alternating HTTP and direct; the table reports the best of each")
	fs.Parse(args)
	srv, api, id, closeServer, err := harness.ServerWithDB(e, "sqlhttp")
	if err != nil {
		return err
	}
	defer closeServer()
	ctx := context.Background()
	direct := func() (*pgx.Conn, error) { return pgx.Connect(ctx, srv.DirectConn(id, "admin")) }
	path := "/customer/databases/" + id + "/sql"
	body := []byte(`{"query":"select 1"}`)
	want := []byte(`"rows":[[1]]`)
	raw := func() (*rawHTTP, error) { return newRawHTTP(srv.HTTPAddr(), path, api.Token, body) }
	check := func(b []byte, err error) error {
		if err == nil && !bytes.Contains(b, want) {
			err = fmt.Errorf("unexpected answer %s", b)
		}
		return err
	}
	if err := api.Select1(id); err != nil { // the API client agrees with the raw one
		return err
	}
	one, err := raw()
	if err != nil {
		return err
	}
	defer one.close()
	httpOnce := func() error { return check(one.do()) }

	// Latency, one client, interleaved in blocks so drift hits both sides.
	conn, err := direct()
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var hl, dl []time.Duration
	for i := 0; i < 200; i++ { // warm up
		if err := httpOnce(); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "select 1"); err != nil {
			return err
		}
	}
	for i := 0; i < *n; i++ {
		s := time.Now()
		if err := httpOnce(); err != nil {
			return err
		}
		hl = append(hl, time.Since(s))
		s = time.Now()
		if _, err := conn.Exec(ctx, "select 1"); err != nil {
			return err
		}
		dl = append(dl, time.Since(s))
	}
	h1, d1 := harness.Summarize(hl), harness.Summarize(dl)

	// Throughput with concurrent clients.
	pm := srv.Postmaster(id)
	throughput := func(open func() (func() error, func(), error)) (float64, harness.Stats, cpuUse, error) {
		cpu0, pg0, allocs0 := harness.SelfCPU(), harness.PostmasterCPU(pm), harness.Mallocs()
		all, took, err := harness.Clients(*clients, *dur, open)
		use := cpuUse{n: len(all), self: harness.SelfCPU() - cpu0, pg: harness.PostmasterCPU(pm) - pg0, allocs: harness.Mallocs() - allocs0}
		return float64(len(all)) / took.Seconds(), harness.Summarize(all), use, err
	}
	httpWorker := func() (func() error, func(), error) {
		h, err := raw()
		if err != nil {
			return nil, nil, err
		}
		return func() error { return check(h.do()) }, h.close, nil
	}
	directWorker := func() (func() error, func(), error) {
		c, err := direct()
		if err != nil {
			return nil, nil, err
		}
		return func() error { _, err := c.Exec(ctx, "select 1"); return err }, func() { c.Close(ctx) }, nil
	}
	// Rounds alternate the two sides so that load from elsewhere on the
	// machine hits both; each round's ratio is printed, the table keeps the
	// best round of each side.
	var httpTPS, directTPS float64
	var hN, dN harness.Stats
	var hCPU, dCPU cpuUse
	var roundRatios []string
	harness.WaitPools(srv, api, e.WarmPool, e.SparePool) // no instance copies or starts during the runs
	for r := 0; r < max(1, *rounds); r++ {
		if r == 0 && *cpuprofile != "" {
			f, err := os.Create(*cpuprofile)
			if err != nil {
				return err
			}
			if err := pprof.StartCPUProfile(f); err != nil {
				return err
			}
		}
		h, hs, hc, err := throughput(httpWorker)
		if r == 0 && *cpuprofile != "" {
			pprof.StopCPUProfile()
		}
		if r == 0 && *memprofile != "" {
			f, err := os.Create(*memprofile)
			if err != nil {
				return err
			}
			if err := pprof.Lookup("allocs").WriteTo(f, 0); err != nil {
				return err
			}
			f.Close()
		}
		if err != nil {
			return err
		}
		d, ds, dc, err := throughput(directWorker)
		if err != nil {
			return err
		}
		roundRatios = append(roundRatios, fmt.Sprintf("%.0f/%.0f=%.2f", h, d, h/d))
		if h > httpTPS {
			httpTPS, hN, hCPU = h, hs, hc
		}
		if d > directTPS {
			directTPS, dN, dCPU = d, ds, dc
		}
	}
	if len(roundRatios) > 1 {
		fmt.Fprintln(os.Stderr, "rounds HTTP/direct queries/s:", strings.Join(roundRatios, " "))
	}
	fmt.Println(harness.TableHead)
	fmt.Println(h1.Row("HTTP POST /sql select 1, 1 client"))
	fmt.Println(d1.Row("direct pgx select 1, 1 client"))
	fmt.Printf("| **added latency p50, 1 client** | | **%.3f ms** | | |\n", float64((h1.P50-d1.P50).Microseconds())/1000)
	fmt.Println(hN.Row(fmt.Sprintf("HTTP POST /sql select 1, %d clients", *clients)))
	fmt.Println(dN.Row(fmt.Sprintf("direct pgx select 1, %d clients", *clients)))
	fmt.Printf("| **added latency p50, %d clients** | | **%.3f ms** | | |\n", *clients, float64((hN.P50-dN.P50).Microseconds())/1000)
	fmt.Printf("\n| throughput, %d clients | queries/s |\n|---|---|\n| HTTP | %.0f |\n| direct pgx | %.0f |\n| **ratio HTTP/direct** | **%.2f** |\n",
		*clients, httpTPS, directTPS, httpTPS/directTPS)
	fmt.Printf("\n| CPU per query, %d clients | bench process (client+server) µs | PostgreSQL (instance) µs | total µs | bench process allocations |\n|---|---|---|---|---|\n", *clients)
	fmt.Println(hCPU.row("HTTP"))
	fmt.Println(dCPU.row("direct pgx"))
	return nil
}

// cpuUse is the CPU time a throughput run used, in this process and in the
// instance's PostgreSQL processes, for n queries.
type cpuUse struct {
	n        int
	self, pg time.Duration
	allocs   uint64
}

func (c cpuUse) row(name string) string {
	per := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1000 / float64(max(c.n, 1)) }
	return fmt.Sprintf("| %s | %.1f | %.1f | %.1f | %.1f |", name, per(c.self), per(c.pg), per(c.self+c.pg), float64(c.allocs)/float64(max(c.n, 1)))
}
