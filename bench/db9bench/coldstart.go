package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// coldIdle is the --idle-timeout of servers whose databases are measured
// cold: short, so the benchmark waits little for each stop.
const coldIdle = 200 * time.Millisecond

// benchColdStart: a stopped database's first `select 1` over the API, and,
// as the peer, the same call on a running database.
func benchColdStart(args []string) error {
	fs := flag.NewFlagSet("coldstart", flag.ExitOnError)
	e := commonFlags(fs)
	n := fs.Int("n", 30, "databases (each measured once cold)")
	fs.Parse(args)
	dir, cleanup, err := e.dataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	// Databases stop for idleness moments after their last use: the
	// benchmark waits for that, as a client would find them.
	srv, err := startServer(ctx, dir, e.warmPool, e.sparePool, coldIdle)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := newAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	ids := make([]string, *n)
	for i := range ids {
		if ids[i], err = api.create(fmt.Sprintf("cold-%d", i)); err != nil {
			return err
		}
		if err := api.select1(ids[i]); err != nil {
			return err
		}
	}
	var cold, warm []time.Duration
	for _, id := range ids {
		waitPools(srv, api, e.warmPool, e.sparePool)
		if err := srv.waitStopped(id, time.Minute); err != nil {
			return err
		}
		start := time.Now()
		if err := api.select1(id); err != nil {
			return err
		}
		cold = append(cold, time.Since(start))
		start = time.Now()
		if err := api.select1(id); err != nil {
			return err
		}
		warm = append(warm, time.Since(start))
	}
	c, w := summarize(cold), summarize(warm)
	fmt.Println(tableHead)
	fmt.Println(c.row("cold: stopped database → first select 1 over the API"))
	fmt.Println(w.row("warm: the next select 1 over the API"))
	return nil
}
