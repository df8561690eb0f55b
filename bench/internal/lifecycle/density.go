package lifecycle

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/layout"
)

// Density creates many databases on one server (most end up
// stopped by the idle reaper), then reports memory, disk per database, and
// checks that every one still answers SQL.
func Density(args []string) error {
	fs := flag.NewFlagSet("density", flag.ExitOnError)
	e := harness.Flags(fs)
	n := fs.Int("n", 1000, "databases to create")
	idle := fs.Duration("idle", 2*time.Second, "server --idle-timeout")
	par := fs.Int("parallel", 4, "concurrent creates")
	fs.Parse(args)
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	memBefore := usedMemKB()
	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, *idle)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	ids := make([]string, *n)
	start := time.Now()
	var wg sync.WaitGroup
	sem := make(chan struct{}, *par)
	var mu sync.Mutex
	var firstErr error
	for i := range ids {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			id, err := api.Create(fmt.Sprintf("d-%d", i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil && firstErr == nil {
				firstErr = err
			}
			ids[i] = id
		}(i)
		if (i+1)%100 == 0 {
			fmt.Fprintf(os.Stderr, "created %d/%d (%.0fs)\n", i+1, *n, time.Since(start).Seconds())
		}
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	createTime := time.Since(start)
	time.Sleep(*idle + 3*time.Second) // let the reaper stop them
	running := countPostmasters(layout.Layout{DataDir: filepath.Join(dir, "db9")}.DBs())
	memAll := usedMemKB() - memBefore
	du := duKB(layout.Layout{DataDir: filepath.Join(dir, "db9")}.DBs())
	perDB := float64(du) / 1024 / float64(running.total)

	// Every one answers SQL (each a cold start).
	start = time.Now()
	failed := 0
	for i, id := range ids {
		if err := api.Select1(id); err != nil {
			failed++
			fmt.Fprintln(os.Stderr, "select 1:", err)
		}
		if (i+1)%100 == 0 {
			fmt.Fprintf(os.Stderr, "queried %d/%d (%.0fs)\n", i+1, *n, time.Since(start).Seconds())
		}
	}
	queryTime := time.Since(start)
	fmt.Printf("| measurement | value |\n|---|---|\n")
	fmt.Printf("| databases created | %d in %.0f s (%d at a time) |\n", *n, createTime.Seconds(), *par)
	fmt.Printf("| postmasters running after idle timeout | %d of %d instance directories |\n", running.running, running.total)
	fmt.Printf("| memory used by the whole machine, delta | %.0f MB |\n", float64(memAll)/1024)
	fmt.Printf("| disk, all instance directories | %.0f MB |\n", float64(du)/1024)
	fmt.Printf("| **disk per empty database** | **%.1f MB** |\n", perDB)
	fmt.Printf("| every database answers select 1 (cold) | %d of %d in %.0f s |\n", *n-failed, *n, queryTime.Seconds())
	if failed > 0 {
		return fmt.Errorf("%d databases did not answer", failed)
	}
	return nil
}

type pmCount struct{ running, total int }

func countPostmasters(dbs string) pmCount {
	entries, _ := os.ReadDir(dbs)
	c := pmCount{total: len(entries)}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err == nil && strings.Contains(string(b), "\x00-D\x00"+dbs) {
			c.running++
		}
	}
	return c
}

func usedMemKB() int64 {
	b, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	vals := map[string]int64{}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 {
			v, _ := strconv.ParseInt(f[1], 10, 64)
			vals[strings.TrimSuffix(f[0], ":")] = v
		}
	}
	return vals["MemTotal"] - vals["MemAvailable"]
}

func duKB(dir string) int64 {
	out, err := exec.Command("du", "-sk", dir).Output()
	if err != nil {
		return 0
	}
	v, _ := strconv.ParseInt(strings.Fields(string(out))[0], 10, 64)
	return v
}
