package httpapi

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/config"
)

// Observe measures what observability costs:
//
//   - pgbench -S and TPC-B through the front door of two servers started
//     in the same run, one collecting (every -interval; the default 1s is
//     60 times the production rate of once a minute, so an upper bound)
//     and one with collection off (--observe-off), rounds alternating
//     ABBA so drift hits both sides;
//
//   - the time of a /metrics scrape of a server holding -dbs databases
//     (stopped for idleness, as most are on a busy server).
//
//     go run ./bench/db9bench observe [-T 10s] [-rounds 2] [-c 4] [-s 10] [-interval 1s] [-dbs 1000] [-scrapes 50]
func Observe(args []string) error {
	fs := flag.NewFlagSet("observe", flag.ExitOnError)
	dur := fs.Duration("T", 10*time.Second, "pgbench -T per side and round")
	rounds := fs.Int("rounds", 2, "rounds (each runs both sides); 0: only the scrape measurement")
	clients := fs.Int("c", 4, "pgbench -c")
	scale := fs.Int("s", 10, "pgbench -i -s")
	interval := fs.Duration("interval", time.Second, "collection interval of the collecting server")
	dbs := fs.Int("dbs", 1000, "databases of the scrape measurement (0: skip it)")
	scrapes := fs.Int("scrapes", 50, "scrapes measured")
	e := harness.Flags(fs)
	_ = fs.Parse(args)
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	if *rounds == 0 {
		return scrapeMany(ctx, filepath.Join(dir, "many"), e, *dbs, *scrapes)
	}

	type side struct {
		name string
		conn string
		tps  map[string][]float64
	}
	var sides []*side
	for _, on := range []bool{true, false} {
		name := "collection off"
		set := func(c *config.Server) { c.ObserveOff = true }
		if on {
			name = "collection on, every " + interval.String()
			set = func(c *config.Server) { c.ObserveInterval = *interval }
		}
		srv, db, closeSrv, err := harness.AuxServer(ctx, filepath.Join(dir, strconv.FormatBool(on)), 0, set)
		if err != nil {
			return err
		}
		defer closeSrv()
		conn := harness.FrontDoorURL(srv, db.ID, db.AdminPassword, "disable")
		if out, err := exec.Command("pgbench", "-i", "-q", "-s", strconv.Itoa(*scale), conn).CombinedOutput(); err != nil {
			return fmt.Errorf("pgbench -i: %v: %s", err, out)
		}
		sides = append(sides, &side{name: name, conn: conn, tps: map[string][]float64{}})
	}
	run := func(s *side, mode string) error {
		a := []string{"-n", "-c", strconv.Itoa(*clients), "-j", "2", "-T", strconv.Itoa(int(dur.Seconds()))}
		if mode == "-S" {
			a = append(a, "-S")
		}
		out, err := exec.Command("pgbench", append(a, s.conn)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("pgbench %s: %v: %s", mode, err, out)
		}
		m := harness.TPSRE.FindSubmatch(out)
		if m == nil {
			return fmt.Errorf("pgbench output: %s", out)
		}
		tps, _ := strconv.ParseFloat(string(m[1]), 64)
		s.tps[mode] = append(s.tps[mode], tps)
		fmt.Fprintf(os.Stderr, "%s %s: %.0f tps\n", s.name, mode, tps)
		return nil
	}
	for _, mode := range []string{"-S", "tpcb"} {
		for r := range *rounds {
			order := []*side{sides[0], sides[1]}
			if r%2 == 1 {
				order = []*side{sides[1], sides[0]}
			}
			for _, s := range order {
				if err := run(s, mode); err != nil {
					return err
				}
			}
		}
	}
	mean := func(xs []float64) float64 {
		t := 0.0
		for _, x := range xs {
			t += x
		}
		return t / float64(len(xs))
	}
	fmt.Printf("\n| pgbench through the front door, -c %d -j 2, scale %d, %s × %d rounds per side | -S tps | TPC-B tps |\n|---|---|---|\n", *clients, *scale, dur, *rounds)
	for _, s := range sides {
		fmt.Printf("| %s | %.0f | %.0f |\n", s.name, mean(s.tps["-S"]), mean(s.tps["tpcb"]))
	}
	fmt.Printf("| **on / off** (means) | **%.3f** | **%.3f** |\n", mean(sides[0].tps["-S"])/mean(sides[1].tps["-S"]), mean(sides[0].tps["tpcb"])/mean(sides[1].tps["tpcb"]))
	// The ratio of each round's pair (run back to back) cancels drift of
	// the machine's load better than the ratio of the means.
	median := func(mode string) float64 {
		var rs []float64
		for i := range sides[0].tps[mode] {
			rs = append(rs, sides[0].tps[mode][i]/sides[1].tps[mode][i])
		}
		sort.Float64s(rs)
		return rs[len(rs)/2]
	}
	fmt.Printf("| **on / off** (median of the rounds' ratios) | **%.3f** | **%.3f** |\n", median("-S"), median("tpcb"))
	if *dbs > 0 {
		return scrapeMany(ctx, filepath.Join(dir, "many"), e, *dbs, *scrapes)
	}
	return nil
}

// scrapeMany creates n databases on a server (stopped a second after
// their creation) and times GET /metrics.
func scrapeMany(ctx context.Context, dir string, e *harness.Env, n, scrapes int) error {
	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, time.Second)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	start := time.Now()
	for i := range n {
		// A loaded machine may refuse a create for a moment (503): retry.
		for try := 0; ; try++ {
			_, err := api.Create(fmt.Sprintf("db%d", i))
			if err == nil {
				break
			}
			if try == 5 || !strings.Contains(err.Error(), ": 503:") {
				return err
			}
			time.Sleep(time.Duration(try+1) * time.Second)
		}
	}
	fmt.Fprintf(os.Stderr, "created %d databases in %s\n", n, time.Since(start).Round(time.Second))
	// Scrape the steady state of a server of many idle databases, not the
	// minute in which a thousand instances stop at once.
	settle := time.Now()
	for time.Since(settle) < 3*time.Minute {
		time.Sleep(2 * time.Second)
		if running, err := runningInstances(srv.HTTPAddr()); err == nil && running <= 5 {
			break
		}
	}
	fmt.Fprintf(os.Stderr, "instances stopped for idleness after %s\n", time.Since(settle).Round(time.Second))
	var ds []time.Duration
	var size, series int
	for i := range scrapes + 3 {
		t0 := time.Now()
		resp, err := http.Get("http://" + srv.HTTPAddr() + "/metrics")
		if err != nil {
			return err
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return err
		}
		if i >= 3 { // the first scrapes warm up
			ds = append(ds, time.Since(t0))
		}
		size, series = len(b), 0
		for _, l := range strings.Split(string(b), "\n") {
			if l != "" && !strings.HasPrefix(l, "#") {
				series++
			}
		}
	}
	fmt.Printf("\n%s\n%s\n", harness.TableHead, harness.Summarize(ds).Row(fmt.Sprintf("GET /metrics, %d databases (%d series, %d KB)", n, series, size>>10)))
	return nil
}

// runningInstances reads db9_instances{state="running"} from /metrics.
func runningInstances(addr string) (int, error) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, `db9_instances{state="running"} `); ok {
			return strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return 0, fmt.Errorf("no db9_instances{state=\"running\"} in /metrics")
}
