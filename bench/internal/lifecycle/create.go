package lifecycle

import (
	"context"
	"flag"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/postgres"
)

// Create: API call to usable database (create, then the first
// `select 1` answered), sequential and concurrent, against CREATE DATABASE
// (then connect and `select 1`) in one shared PostgreSQL cluster on the
// same storage, with the same durability settings.
func Create(args []string) error {
	fs := flag.NewFlagSet("create", flag.ExitOnError)
	e := harness.Flags(fs)
	seq := fs.Int("seq", 100, "sequential creates")
	conc := fs.Int("conc", 20, "concurrent creates")
	fs.Parse(args)
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()

	// Peer: one shared cluster.
	bin, err := pgbin.Find()
	if err != nil {
		return err
	}
	runAs, err := pgbin.ResolveRunAs()
	if err != nil {
		return err
	}
	peer := layout.ClusterAt(filepath.Join(dir, "peer"))
	peerData, peerSock := peer.Data, peer.SocketDir
	if err := postgres.InitDB(ctx, bin, runAs, peerData, "postgres", 0); err != nil {
		return err
	}
	pm, err := postgres.Start(ctx, postgres.Options{Bin: bin, RunAs: runAs, DataDir: peerData, SocketDir: peerSock,
		Settings: map[string]string{"max_connections": "100", "shared_buffers": "128MB"}})
	if err != nil {
		return err
	}
	defer pm.Stop(30 * time.Second)
	peerConn := func(db string) string {
		return fmt.Sprintf("host=%s port=%d user=postgres dbname=%s sslmode=disable", peerSock, layout.Port, db)
	}
	peerCreate := func(name string) (time.Duration, error) {
		start := time.Now()
		c, err := pgx.Connect(ctx, peerConn("postgres"))
		if err != nil {
			return 0, err
		}
		defer c.Close(ctx)
		if _, err := c.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
			return 0, err
		}
		c2, err := pgx.Connect(ctx, peerConn(name))
		if err != nil {
			return 0, err
		}
		defer c2.Close(ctx)
		if _, err := c2.Exec(ctx, "select 1"); err != nil {
			return 0, err
		}
		return time.Since(start), nil
	}

	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, 0)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	var apiCall []time.Duration
	db9Create := func(name string) (time.Duration, error) {
		start := time.Now()
		id, err := api.Create(name)
		if err != nil {
			return 0, err
		}
		mid := time.Since(start)
		if err := api.Select1(id); err != nil {
			return 0, err
		}
		total := time.Since(start)
		return total, func() error { apiCall = append(apiCall, mid); return nil }()
	}

	run := func(label string, n, parallel int, f func(string) (time.Duration, error)) (harness.Stats, error) {
		var mu sync.Mutex
		var ds []time.Duration
		var firstErr error
		sem := make(chan struct{}, parallel)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			sem <- struct{}{}
			go func(i int) {
				defer wg.Done()
				defer func() { <-sem }()
				d, err := f(fmt.Sprintf("%s-%d", label, i))
				mu.Lock()
				defer mu.Unlock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				ds = append(ds, d)
			}(i)
		}
		wg.Wait()
		return harness.Summarize(ds), firstErr
	}

	fmt.Println(harness.TableHead)
	var rows []string
	for _, c := range []struct {
		label  string
		n, par int
	}{{"seq", *seq, 1}, {"conc", *conc, *conc}} {
		peer, err := run("peer"+c.label, c.n, c.par, peerCreate)
		if err != nil {
			return fmt.Errorf("peer: %w", err)
		}
		apiCall = nil
		harness.WaitPools(srv, api, e.WarmPool, e.SparePool)
		mine, err := run("db9"+c.label, c.n, c.par, db9Create)
		if err != nil {
			return fmt.Errorf("db9: %w", err)
		}
		call := harness.Summarize(apiCall)
		rows = append(rows,
			mine.Row(fmt.Sprintf("db9 create→first select 1, %s (%d at once)", c.label, c.par)),
			call.Row(fmt.Sprintf("db9 create API call alone, %s", c.label)),
			peer.Row(fmt.Sprintf("peer CREATE DATABASE→connect→select 1, %s", c.label)),
			fmt.Sprintf("| **ratio db9/peer p50, %s** | | **%s** | %s | |", c.label, harness.Ratio(mine.P50, peer.P50), harness.Ratio(mine.P95, peer.P95)))
	}
	for _, r := range rows {
		fmt.Println(r)
	}
	return nil
}
