package wire

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/config"
	"github.com/db9/db9/internal/layout"
)

// Proxy measures the PostgreSQL front door against its peers, all in
// one run against the same instance: pgbench -S through db9's proxy,
// directly on the instance's socket, and through PgBouncer (session mode);
// connection setup (connect + auth + select 1) with a password after the
// first login and with a connect token; and cold connects to a stopped
// database.
func Proxy(args []string) error {
	fs := flag.NewFlagSet("proxy", flag.ExitOnError)
	e := harness.Flags(fs)
	dur := fs.Duration("T", 30*time.Second, "pgbench -T per path, split over -rounds")
	rounds := fs.Int("rounds", 3, "rounds of pgbench, paths alternating")
	clients := fs.Int("c", 16, "pgbench -c")
	threads := fs.Int("j", 2, "pgbench -j")
	scale := fs.Int("s", 10, "pgbench -i -s")
	n := fs.Int("n", 500, "connection setups measured per kind")
	cold := fs.Int("cold", 30, "cold connects measured")
	only := fs.String("paths", "direct,db9,db9tls,bouncer", "pgbench paths, comma-separated, of direct, db9, db9goroutines (the relay before event loops), db9tls, bouncer")
	fs.Parse(args)
	for _, tool := range []string{"pgbench", "pgbouncer"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s not found (bench/run installs pgbouncer with apt-get)", tool)
		}
	}
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, 0)
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
	var tok struct {
		Token string `json:"token"`
	}
	if err := api.Do("POST", "/customer/databases/bench/connect-token", nil, 200, &tok); err != nil {
		return err
	}
	sock := srv.Layout.DB(db.ID).SocketDir
	proxyURL := func(pw, sslmode string) string { return harness.FrontDoorURL(srv, db.ID, pw, sslmode) }
	direct := srv.DirectConn(db.ID, "admin")

	bouncer, bouncerPID, stopBouncer, err := startPgBouncer(dir, sock, bouncerOpts{mode: "session", maxClients: 200, poolSize: 40})
	if err != nil {
		return err
	}
	defer stopBouncer()
	bouncerConn := fmt.Sprintf("host=127.0.0.1 port=%s user=admin dbname=bench sslmode=disable", bouncer)

	fmt.Fprintf(os.Stderr, "pgbench -i -s %d through the proxy\n", *scale)
	if out, err := exec.Command("pgbench", "-i", "-q", "-s", strconv.Itoa(*scale), proxyURL(db.AdminPassword, "disable")).CombinedOutput(); err != nil {
		return fmt.Errorf("pgbench -i: %v: %s", err, out)
	}
	// The relay before event loops runs on a second server of its own
	// (--pg-relay-loops off), with a database of the same size.
	goroutinesURL := ""
	if slices.Contains(strings.Split(*only, ","), "db9goroutines") {
		gsrv, gdb, closeG, err := harness.AuxServer(ctx, filepath.Join(dir, "goroutines"), 0, func(c *config.Server) { c.PGRelayLoops = -1 })
		if err != nil {
			return err
		}
		defer closeG()
		goroutinesURL = harness.FrontDoorURL(gsrv, gdb.ID, gdb.AdminPassword, "disable")
		if out, err := exec.Command("pgbench", "-i", "-q", "-s", strconv.Itoa(*scale), goroutinesURL).CombinedOutput(); err != nil {
			return fmt.Errorf("pgbench -i: %v: %s", err, out)
		}
	}
	type run struct {
		key, name, conn string
	}
	var runs []run
	for _, r := range []run{
		{"direct", "direct: instance Unix socket", direct},
		{"db9", "db9 proxy (TCP, password, sslmode=disable)", proxyURL(db.AdminPassword, "disable")},
		{"db9goroutines", "db9 proxy, goroutine relay (sslmode=disable; a second server, its own instance)", goroutinesURL},
		{"db9tls", "db9 proxy (TCP, password, sslmode=require)", proxyURL(db.AdminPassword, "require")},
		{"bouncer", "PgBouncer 1.18 session mode (TCP)", bouncerConn},
	} {
		if slices.Contains(strings.Split(*only, ","), r.key) {
			runs = append(runs, r)
		}
	}
	// The paths alternate in rounds, so load that changes during the run
	// (this machine is shared) falls on all of them alike.
	tps, lat := map[string]float64{}, map[string]float64{}
	// CPU time per transaction of pgbench and of the front door (this
	// process, which is the db9 server, or PgBouncer), summed over rounds.
	txs, benchCPU, doorCPU := map[string]float64{}, map[string]time.Duration{}, map[string]time.Duration{}
	per := max(*dur/time.Duration(*rounds), time.Second)
	for range *rounds {
		for _, r := range runs {
			door := 0
			switch {
			case strings.HasPrefix(r.key, "db9"):
				door = os.Getpid()
			case r.key == "bouncer":
				door = bouncerPID
			}
			door0 := procCPU(door)
			t, l, cpu, err := pgbench(r.conn, *clients, *threads, per)
			if err != nil {
				return fmt.Errorf("%s: %w", r.name, err)
			}
			doorCPU[r.name] += procCPU(door) - door0
			benchCPU[r.name] += cpu
			txs[r.name] += t * per.Seconds()
			tps[r.name] += t / float64(*rounds)
			lat[r.name] += l / float64(*rounds)
		}
	}
	fmt.Printf("`pgbench -S -c %d -j %d -T %d` (scale %d), same instance; %d rounds of %d s per path, paths alternating; mean of the rounds. "+
		"CPU µs per transaction: of pgbench, and of the front door (the db9 process, or PgBouncer)\n\n",
		*clients, *threads, int(per.Seconds()), *scale, *rounds, int(per.Seconds()))
	fmt.Println("| path | tps | latency avg ms | pgbench CPU µs/tx | front door CPU µs/tx |\n|---|---|---|---|---|")
	for _, r := range runs {
		perTx := func(d time.Duration) float64 { return float64(d.Microseconds()) / txs[r.name] }
		fmt.Printf("| %s | %.0f | %.3f | %.1f | %.1f |\n", r.name, tps[r.name], lat[r.name], perTx(benchCPU[r.name]), perTx(doorCPU[r.name]))
	}
	byKey := func(k string) float64 {
		for _, r := range runs {
			if r.key == k {
				return tps[r.name]
			}
		}
		return 0
	}
	if d, p, b := byKey("direct"), byKey("db9"), byKey("bouncer"); d > 0 && p > 0 && b > 0 {
		fmt.Printf("| **db9 / direct** | **%.2f** | | | |\n| **db9 / PgBouncer** | **%.2f** | | | |\n\n", p/d, p/b)
	}

	if *n == 0 {
		return nil
	}
	fmt.Printf("Connection setup: connect + authenticate + `select 1` + close, %d times each, sequential\n\n%s\n", *n, harness.TableHead)
	setups := []run{
		{name: "db9 proxy, password (checked once, then cached)", conn: proxyURL(db.AdminPassword, "disable")},
		{name: "db9 proxy, connect token", conn: proxyURL(tok.Token, "disable")},
		{name: "db9 proxy, password, sslmode=require", conn: proxyURL(db.AdminPassword, "require")},
		{name: "direct: instance Unix socket (trust)", conn: direct},
		{name: "PgBouncer session mode (TCP, trust)", conn: bouncerConn},
	}
	for _, s := range setups {
		ds, err := connectTimes(ctx, s.conn, *n)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Println(harness.Summarize(ds).Row(s.name))
	}

	// Cold connects go to a second server whose databases stop moments
	// after their last session (--idle-timeout).
	csrv, cdb, closeC, err := harness.AuxServer(ctx, filepath.Join(dir, "cold"), harness.ColdIdle, nil)
	if err != nil {
		return err
	}
	defer closeC()
	var ctok struct {
		Token string `json:"token"`
	}
	if err := cdb.API.Do("POST", "/customer/databases/"+cdb.ID+"/connect-token", nil, 200, &ctok); err != nil {
		return err
	}
	fmt.Printf("\nCold connect: the instance stopped for idleness, then connect + authenticate + `select 1`, %d times\n\n%s\n", *cold, harness.TableHead)
	for _, s := range []run{{name: "cold, password", conn: harness.FrontDoorURL(csrv, cdb.ID, cdb.AdminPassword, "disable")}, {name: "cold, connect token", conn: harness.FrontDoorURL(csrv, cdb.ID, ctok.Token, "disable")}} {
		var ds []time.Duration
		for range *cold {
			if err := csrv.WaitStopped(cdb.ID, time.Minute); err != nil {
				return err
			}
			one, err := connectTimes(ctx, s.conn, 1)
			if err != nil {
				return err
			}
			ds = append(ds, one...)
		}
		fmt.Println(harness.Summarize(ds).Row(s.name))
	}
	return nil
}

var latRE = regexp.MustCompile(`latency average = ([0-9.]+) ms`)

// pgbench runs pgbench -S and returns its tps, average latency and CPU
// time.
func pgbench(conn string, c, j int, d time.Duration) (tps, lat float64, cpu time.Duration, err error) {
	cmd := exec.Command("pgbench", "-n", "-S", "-c", strconv.Itoa(c), "-j", strconv.Itoa(j), "-T", strconv.Itoa(int(d.Seconds())), conn)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, 0, 0, fmt.Errorf("pgbench: %v: %s", err, out)
	}
	m, l := harness.TPSRE.FindSubmatch(out), latRE.FindSubmatch(out)
	if m == nil || l == nil {
		return 0, 0, 0, fmt.Errorf("pgbench output: %s", out)
	}
	tps, _ = strconv.ParseFloat(string(m[1]), 64)
	lat, _ = strconv.ParseFloat(string(l[1]), 64)
	return tps, lat, cmd.ProcessState.UserTime() + cmd.ProcessState.SystemTime(), nil
}

// procCPU is the CPU time (user and system) a process has used so far,
// from /proc/<pid>/stat; 0 for pid 0 or when unreadable.
func procCPU(pid int) time.Duration {
	if pid == 0 {
		return 0
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// Fields after the command name, which is in parentheses: utime and
	// stime are the 12th and 13th, in clock ticks (100 a second).
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}

// connectTimes connects n times in a row, each time running select 1.
func connectTimes(ctx context.Context, conn string, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for range n {
		start := time.Now()
		c, err := pgconn.Connect(ctx, conn)
		if err != nil {
			return nil, err
		}
		if _, err := c.Exec(ctx, "select 1").ReadAll(); err != nil {
			return nil, err
		}
		out = append(out, time.Since(start))
		c.Close(ctx)
	}
	return out, nil
}

// startPgBouncer runs PgBouncer (pool mode, client limit and pool size
// from o) in front of the instance socket, as the OS user PostgreSQL runs
// as (PgBouncer refuses root, and only that user can enter the socket
// directory). It returns its port and process id.
func startPgBouncer(dir, sock string, o bouncerOpts) (string, int, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", 0, nil, err
	}
	_, port, _ := net.SplitHostPort(l.Addr().String())
	l.Close()
	bdir := filepath.Join(dir, "pgbouncer-"+o.mode)
	if err := os.MkdirAll(bdir, 0o777); err != nil {
		return "", 0, nil, err
	}
	os.Chmod(bdir, 0o777)
	ini := fmt.Sprintf(`[databases]
bench = host=%s port=%d dbname=postgres user=admin
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = %s
unix_socket_dir =
auth_type = trust
auth_file = %s/users.txt
pool_mode = %s
max_client_conn = %d
default_pool_size = %d
logfile = %s/pgbouncer.log
pidfile = %s/pgbouncer.pid
`, sock, layout.Port, port, bdir, o.mode, o.maxClients, o.poolSize, bdir, bdir)
	if err := os.WriteFile(filepath.Join(bdir, "pgbouncer.ini"), []byte(ini), 0o644); err != nil {
		return "", 0, nil, err
	}
	if err := os.WriteFile(filepath.Join(bdir, "users.txt"), []byte(`"admin" ""`+"\n"), 0o644); err != nil {
		return "", 0, nil, err
	}
	args := []string{filepath.Join(bdir, "pgbouncer.ini")}
	if os.Geteuid() == 0 {
		user := os.Getenv("DB9_OS_USER")
		if user == "" {
			user = "postgres"
		}
		args = append([]string{"-u", user}, args...)
	}
	cmd := exec.Command("pgbouncer", append([]string{"-q"}, args...)...) // -q: log only to logfile
	if err := cmd.Start(); err != nil {
		return "", 0, nil, err
	}
	stop := func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() }
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", "127.0.0.1:"+port)
		if err == nil {
			c.Close()
			return port, cmd.Process.Pid, stop, nil
		}
		if time.Now().After(deadline) {
			stop()
			b, _ := os.ReadFile(filepath.Join(bdir, "pgbouncer.log"))
			return "", 0, nil, fmt.Errorf("pgbouncer did not start: %s", strings.TrimSpace(string(b)))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
