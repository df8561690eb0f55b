package wire

import (
	"bufio"
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/bench/internal/harness"
)

// Pooler measures the pooled endpoint (transaction pooling) against
// PgBouncer in transaction mode in front of the same instance, in one run,
// through public surfaces only (REST to create the database, the wire
// protocol for the rest): the memory of idle client connections held open
// (the growth of the db9 server process, which is this process, and of
// PgBouncer's; the clients run in a child process so that their memory is
// not counted), pgbench -S with many clients over few backends, paths
// alternating in rounds, and connection setup on a warm database.
func Pooler(args []string) error {
	fs := flag.NewFlagSet("pooler", flag.ExitOnError)
	e := harness.Flags(fs)
	idle := fs.Int("idle", 2000, "idle client connections held open per path")
	dur := fs.Duration("T", 60*time.Second, "pgbench -T per path, split over -rounds")
	rounds := fs.Int("rounds", 4, "rounds of pgbench, paths alternating")
	clients := fs.Int("c", 200, "pgbench -c")
	threads := fs.Int("j", 2, "pgbench -j")
	scale := fs.Int("s", 10, "pgbench -i -s")
	n := fs.Int("n", 500, "connection setups measured per path")
	poolSize := fs.Int("pool-size", 10, "PgBouncer default_pool_size (db9's pool bound is 10)")
	memProfile := fs.String("memprofile", "", "write the server's heap profile (and <file>.goroutine) while the idle connections are held")
	fs.Parse(args)
	if *memProfile != "" {
		runtime.MemProfileRate = 1 // every allocation: the profile is of bytes per connection
	}
	for _, tool := range []string{"pgbench", "pgbouncer"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (bench/run installs pgbouncer with apt-get)", tool)
		}
	}
	// Each held connection is a descriptor in the server (this process)
	// and in PgBouncer; the client process inherits the limit too.
	if err := raiseNoFile(uint64(*idle + *clients + 1024)); err != nil {
		return err
	}
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	// No warm or spare instances: nothing runs in the server's background
	// while its memory is measured.
	srv, err := harness.StartServer(ctx, dir, 0, 0, 0)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	var db struct {
		ID            string `json:"id"`
		AdminPassword string `json:"admin_password"`
	}
	if err := api.Do("POST", "/customer/databases", map[string]any{"name": "bench"}, 201, &db); err != nil {
		return err
	}
	pooledURL := (&url.URL{Scheme: "postgresql", User: url.UserPassword(db.ID+".admin", db.AdminPassword), Host: srv.PGPoolAddr(),
		Path: "/postgres", RawQuery: "sslmode=disable"}).String()
	sessionURL := harness.FrontDoorURL(srv, db.ID, db.AdminPassword, "disable")
	bouncer, bouncerPID, stopBouncer, err := startPgBouncer(dir, srv.Layout.DB(db.ID).SocketDir,
		bouncerOpts{mode: "transaction", maxClients: *idle + *clients + 50, poolSize: *poolSize})
	if err != nil {
		return err
	}
	defer stopBouncer()
	bouncerURL := fmt.Sprintf("host=127.0.0.1 port=%s user=admin dbname=bench sslmode=disable", bouncer)

	fmt.Fprintf(os.Stderr, "pgbench -i -s %d through the session endpoint\n", *scale)
	if out, err := exec.Command("pgbench", "-i", "-q", "-s", strconv.Itoa(*scale), sessionURL).CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %v: %s", err, out)
	}
	type path struct {
		key, name, conn string
		pid             int
	}
	paths := []path{
		{"db9", "db9 pooled endpoint (TCP, password)", pooledURL, os.Getpid()},
		{"bouncer", fmt.Sprintf("PgBouncer 1.18, transaction mode, pool size %d (TCP, trust)", *poolSize), bouncerURL, bouncerPID},
	}
	// Both pools have their backends open before anything is measured.
	for _, p := range paths {
		if _, _, _, err := pgbench(p.conn, 20, 2, time.Second); err != nil {
			return fmt.Errorf("warm-up through %s: %w", p.name, err)
		}
	}

	fmt.Printf("%d idle client connections (connected, authenticated, one `select 1` each, then held open), "+
		"held by a separate client process; growth of the front door's process: db9 server (RSS and anonymous memory, "+
		"before and after a forced GC and return of freed memory to the OS) and PgBouncer (its one process)\n\n", *idle)
	fmt.Println("| front door | RSS growth MB | bytes per connection (RSS) | anonymous growth MB | bytes per connection (anonymous) |\n|---|---|---|---|---|")
	var grown []idleGrowthResult
	for _, p := range paths {
		m, err := idleGrowth(p.conn, p.pid, p.key == "db9", *idle, *memProfile)
		if err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
		grown = append(grown, m)
		if p.key == "db9" {
			fmt.Println(m.asHeld.row(p.name+", as held", *idle))
			fmt.Println(m.afterGC.row(p.name+", after GC", *idle))
		} else {
			fmt.Println(m.asHeld.row(p.name, *idle))
		}
	}
	if b := float64(grown[1].asHeld.anon); b > 0 {
		// As held is the goal's figure: what the OS sees the server hold for
		// the idle clients; after GC shows the live part of it.
		fmt.Printf("| **db9 / PgBouncer, anonymous memory per connection** | | | | **%.2f** as held (the goal's figure), %.2f after GC |\n",
			float64(grown[0].asHeld.anon)/b, float64(grown[0].afterGC.anon)/b)
	}
	fmt.Println()

	tps, lat := map[string]float64{}, map[string]float64{}
	txs, benchCPU, doorCPU := map[string]float64{}, map[string]time.Duration{}, map[string]time.Duration{}
	per := max(*dur/time.Duration(*rounds), time.Second)
	for range *rounds {
		for _, p := range paths {
			door0 := procCPU(p.pid)
			t, l, cpu, err := pgbench(p.conn, *clients, *threads, per)
			if err != nil {
				return fmt.Errorf("%s: %w", p.name, err)
			}
			doorCPU[p.key] += procCPU(p.pid) - door0
			benchCPU[p.key] += cpu
			txs[p.key] += t * per.Seconds()
			tps[p.key] += t / float64(*rounds)
			lat[p.key] += l / float64(*rounds)
		}
	}
	fmt.Printf("`pgbench -S -c %d -j %d -T %d` (scale %d), same instance, %d rounds of %d s per path, paths alternating; "+
		"mean of the rounds. CPU µs per transaction: of pgbench, and of the front door (the db9 process, or PgBouncer)\n\n",
		*clients, *threads, int(per.Seconds()), *scale, *rounds, int(per.Seconds()))
	fmt.Println("| path | tps | latency avg ms | pgbench CPU µs/tx | front door CPU µs/tx |\n|---|---|---|---|---|")
	for _, p := range paths {
		perTx := func(d time.Duration) float64 { return float64(d.Microseconds()) / txs[p.key] }
		fmt.Printf("| %s | %.0f | %.3f | %.1f | %.1f |\n", p.name, tps[p.key], lat[p.key], perTx(benchCPU[p.key]), perTx(doorCPU[p.key]))
	}
	if b := tps["bouncer"]; b > 0 {
		fmt.Printf("| **db9 / PgBouncer** | **%.2f** | | | |\n", tps["db9"]/b)
	}
	fmt.Println()

	if *n == 0 {
		return nil
	}
	fmt.Printf("Connection setup on a warm database (its instance running, the pool's backends open): connect + "+
		"authenticate + `select 1` + close, %d times each after 20 not counted, sequential\n\n%s\n", *n, harness.TableHead)
	for _, s := range []struct{ name, conn string }{
		{"db9 pooled endpoint, password (checked once, then cached)", pooledURL},
		{"db9 session endpoint, password (a backend started per connection)", sessionURL},
		{"PgBouncer transaction mode (trust)", bouncerURL},
	} {
		if _, err := connectTimes(ctx, s.conn, 20); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		ds, err := connectTimes(ctx, s.conn, *n)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Println(harness.Summarize(ds).Row(s.name))
	}
	return nil
}

// raiseNoFile raises this process's limit of open files to at least n
// (children inherit it: a limit set explicitly is not reset for them).
func raiseNoFile(n uint64) error {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("get open files limit: %w", err)
	}
	if lim.Cur >= n {
		return syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	}
	lim.Cur = n
	lim.Max = max(lim.Max, n)
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return fmt.Errorf("raise open files limit to %d (ulimit -n): %w", n, err)
	}
	return nil
}

// memUse is a process's resident memory, in bytes: all of it (RSS), and
// its anonymous part (heap, stacks: what the process allocated, not the
// pages of its binary and libraries, which the measuring client process
// shares when it runs the same binary, so that PSS would fall as it
// starts).
type memUse struct{ rss, anon int64 }

func (m memUse) row(name string, n int) string {
	return fmt.Sprintf("| %s | %.1f | %.0f | %.1f | %.0f |", name, float64(m.rss)/(1<<20), float64(m.rss)/float64(n),
		float64(m.anon)/(1<<20), float64(m.anon)/float64(n))
}

// procMem reads a process's RSS and anonymous memory from
// /proc/<pid>/smaps_rollup.
func procMem(pid int) (memUse, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps_rollup", pid))
	if err != nil {
		return memUse{}, err
	}
	var m memUse
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "Rss:":
			m.rss = kb << 10
		case "Anonymous:":
			m.anon = kb << 10
		}
	}
	return m, nil
}

// settle lets this process's memory settle: garbage collected and freed
// memory returned to the OS, so its RSS is what it holds.
func settle() {
	for range 3 {
		runtime.GC()
	}
	debug.FreeOSMemory()
}

// idleGrowth is the growth of a front door's process while n idle client
// connections are held open through it.
type idleGrowthResult struct{ asHeld, afterGC memUse }

// idleGrowth has a child process (db9bench pooler-hold) open n connections
// to conn and hold them, and measures process pid before and while it
// does. self: pid is this process (the in-process db9 server), whose
// memory is settled before each reading; afterGC is then measured once
// more after settling.
func idleGrowth(conn string, pid int, self bool, n int, heapProfile string) (idleGrowthResult, error) {
	var r idleGrowthResult
	if self {
		settle()
	}
	time.Sleep(500 * time.Millisecond)
	before, err := procMem(pid)
	if err != nil {
		return r, err
	}
	exe, err := os.Executable()
	if err != nil {
		return r, err
	}
	cmd := exec.Command(exe, "pooler-hold", "-n", strconv.Itoa(n), "-conn", conn)
	cmd.Stderr = os.Stderr
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DB9BENCH_CPUPROFILE=") { // the server's profile, not the client's
			cmd.Env = append(cmd.Env, kv)
		}
	}
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return r, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return r, err
	}
	if err := cmd.Start(); err != nil {
		return r, err
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		return r, fmt.Errorf("pooler-hold: %q, %v", line, err)
	}
	time.Sleep(2 * time.Second)
	held, err := procMem(pid)
	if err != nil {
		return r, err
	}

	r.asHeld = memUse{held.rss - before.rss, held.anon - before.anon}
	r.afterGC = r.asHeld
	if self {
		settle()
		time.Sleep(500 * time.Millisecond)
		gc, err := procMem(pid)
		if err != nil {
			return r, err
		}
		r.afterGC = memUse{gc.rss - before.rss, gc.anon - before.anon}
		if heapProfile != "" {
			if err := writeProfiles(heapProfile); err != nil {
				return r, err
			}
		}
	}
	return r, nil
}

// writeProfiles writes this process's heap profile to file and its
// goroutine profile to file.goroutine.
func writeProfiles(file string) error {
	for _, p := range []struct{ name, file string }{{"heap", file}, {"goroutine", file + ".goroutine"}} {
		f, err := os.Create(p.file)
		if err != nil {
			return err
		}
		err = pprof.Lookup(p.name).WriteTo(f, 0)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("write %s profile: %w", p.name, err)
		}
	}
	return nil
}

// PoolerHold is the child process of idleGrowth: it opens n connections,
// each running select 1, prints "ready", and holds them until its stdin
// ends.
func PoolerHold(args []string) error {
	fs := flag.NewFlagSet("pooler-hold", flag.ExitOnError)
	n := fs.Int("n", 2000, "connections")
	conn := fs.String("conn", "", "connection string")
	fs.Parse(args)
	ctx := context.Background()
	conns := make([]*pgconn.PgConn, *n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	next := make(chan int)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				c, err := pgconn.Connect(ctx, *conn)
				if err == nil {
					_, err = c.Exec(ctx, "select 1").ReadAll()
				}
				mu.Lock()
				if err != nil && first == nil {
					first = fmt.Errorf("connection %d: %w", i, err)
				}
				conns[i] = c
				mu.Unlock()
			}
		}()
	}
	for i := range *n {
		next <- i
	}
	close(next)
	wg.Wait()
	if first != nil {
		return first
	}
	fmt.Println("ready")
	_, _ = io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close(ctx)
	}
	return nil
}

// bouncerOpts configures a PgBouncer of startPgBouncer.
type bouncerOpts struct {
	mode       string // pool_mode
	maxClients int
	poolSize   int
}
