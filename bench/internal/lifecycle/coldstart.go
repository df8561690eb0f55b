package lifecycle

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/db9/db9/bench/internal/harness"
)

// ColdStart: a stopped database's first `select 1` over the API, and,
// as the peer, the same call on a running database.
func ColdStart(args []string) error {
	fs := flag.NewFlagSet("coldstart", flag.ExitOnError)
	e := harness.Flags(fs)
	n := fs.Int("n", 30, "databases (each measured once cold)")
	fs.Parse(args)
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	// Databases stop for idleness moments after their last use: the
	// benchmark waits for that, as a client would find them.
	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, harness.ColdIdle)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	ids := make([]string, *n)
	for i := range ids {
		if ids[i], err = api.Create(fmt.Sprintf("cold-%d", i)); err != nil {
			return err
		}
		if err := api.Select1(ids[i]); err != nil {
			return err
		}
	}
	var cold, warm []time.Duration
	for _, id := range ids {
		harness.WaitPools(srv, api, e.WarmPool, e.SparePool)
		if err := srv.WaitStopped(id, time.Minute); err != nil {
			return err
		}
		start := time.Now()
		if err := api.Select1(id); err != nil {
			return err
		}
		cold = append(cold, time.Since(start))
		start = time.Now()
		if err := api.Select1(id); err != nil {
			return err
		}
		warm = append(warm, time.Since(start))
	}
	c, w := harness.Summarize(cold), harness.Summarize(warm)
	fmt.Println(harness.TableHead)
	fmt.Println(c.Row("cold: stopped database → first select 1 over the API"))
	fmt.Println(w.Row("warm: the next select 1 over the API"))
	return nil
}
