package wire

import (
	"context"
	"flag"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/bench/internal/harness"
)

// ResetCost measures what a session reset sent ahead of `select 1` in
// the same write (as sqlexec.ExecFresh does) costs the backend: queries/s
// and backend CPU per query of each variant, in alternating rounds on one
// instance, with concurrent clients on its Unix socket.
//
//	db9bench resetcost [-clients 16] [-duration 3s] [-rounds 3] [-variant 'DISCARD ALL' ...]
func ResetCost(args []string) error {
	fs := flag.NewFlagSet("resetcost", flag.ExitOnError)
	e := harness.Flags(fs)
	clients := fs.Int("clients", 16, "concurrent connections")
	dur := fs.Duration("duration", 3*time.Second, "duration of each run")
	rounds := fs.Int("rounds", 3, "rounds; each runs every variant once")
	var variants []string
	fs.Func("variant", "statements sent ahead of select 1, ';'-separated, each its own Query message, or with an ext: prefix Parse/Bind/Execute without Sync (repeatable; default: none and DISCARD ALL)", func(s string) error {
		variants = append(variants, s)
		return nil
	})
	fs.Parse(args)
	if len(variants) == 0 {
		variants = []string{"", "DISCARD ALL"}
	}
	srv, api, id, closeServer, err := harness.ServerWithDB(e, "resetcost")
	if err != nil {
		return err
	}
	defer closeServer()
	ctx := context.Background()
	harness.WaitPools(srv, api, e.WarmPool, e.SparePool)
	conns := make([]*pgconn.PgConn, *clients)
	for i := range conns {
		c, err := pgconn.Connect(ctx, srv.DirectConn(id, "admin"))
		if err != nil {
			return err
		}
		defer c.Close(ctx)
		conns[i] = c
	}
	backendsCPU := func() time.Duration {
		var t time.Duration
		for _, c := range conns {
			if f := harness.ProcStat(fmt.Sprintf("/proc/%d/stat", c.PID())); len(f) > 12 {
				var u, s int64
				fmt.Sscan(f[11], &u)
				fmt.Sscan(f[12], &s)
				t += time.Duration(u+s) * harness.ClockTick
			}
		}
		return t
	}
	// run sends the variant's statements and select 1 in one write per
	// query and reads every answer.
	run := func(variant string) (qps float64, cpuPerQuery time.Duration, err error) {
		var pre []string
		extended := 0 // statements sent with the extended protocol: no ReadyForQuery
		for _, s := range strings.Split(variant, ";") {
			if s = strings.TrimSpace(s); s != "" {
				pre = append(pre, s)
				if strings.HasPrefix(s, "ext:") {
					extended++
				}
			}
		}
		var stop atomic.Bool
		var n atomic.Int64
		var wg sync.WaitGroup
		var mu sync.Mutex
		var firstErr error
		cpu0, start := backendsCPU(), time.Now()
		for _, c := range conns {
			wg.Add(1)
			go func() {
				defer wg.Done()
				f := c.Frontend()
				for !stop.Load() {
					for _, s := range pre {
						if q, ok := strings.CutPrefix(s, "ext:"); ok {
							// Extended protocol without Sync: no ReadyForQuery, no flush of its own.
							f.SendParse(&pgproto3.Parse{Query: q})
							f.SendBind(&pgproto3.Bind{})
							f.SendExecute(&pgproto3.Execute{})
							continue
						}
						f.SendQuery(&pgproto3.Query{String: s})
					}
					f.SendQuery(&pgproto3.Query{String: "select 1"})
					err := f.Flush()
					for ready := 0; err == nil && ready <= len(pre)-extended; {
						var msg pgproto3.BackendMessage
						msg, err = c.ReceiveMessage(ctx)
						switch m := msg.(type) {
						case *pgproto3.ReadyForQuery:
							ready++
						case *pgproto3.ErrorResponse:
							err = pgconn.ErrorResponseToPgError(m)
						}
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = err
						}
						mu.Unlock()
						return
					}
					n.Add(1)
				}
			}()
		}
		time.Sleep(*dur)
		stop.Store(true)
		wg.Wait()
		cpu := backendsCPU() - cpu0
		q := n.Load()
		return float64(q) / time.Since(start).Seconds(), cpu / time.Duration(max(q, 1)), firstErr
	}
	name := func(v string) string {
		if v == "" {
			return "select 1 alone"
		}
		return v + "; select 1"
	}
	best := make([]float64, len(variants))
	cpus := make([][]string, len(variants))
	for r := 0; r < *rounds; r++ {
		for i, v := range variants {
			qps, cpu, err := run(v)
			if err != nil {
				return fmt.Errorf("%s: %w", name(v), err)
			}
			best[i] = max(best[i], qps)
			cpus[i] = append(cpus[i], fmt.Sprintf("%.1f", float64(cpu.Nanoseconds())/1000))
			fmt.Fprintf(os.Stderr, "round %d %-40s %8.0f q/s %6.1f µs backend CPU/query\n", r+1, name(v), qps, float64(cpu.Nanoseconds())/1000)
		}
	}
	fmt.Printf("| sent in one write, %d clients | best queries/s | ratio to first | backend CPU µs/query, each round |\n|---|---|---|---|\n", *clients)
	for i, v := range variants {
		fmt.Printf("| %s | %.0f | %.2f | %s |\n", name(v), best[i], best[i]/best[0], strings.Join(cpus[i], ", "))
	}
	return nil
}
