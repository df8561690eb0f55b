package lifecycle

import (
	"context"
	"flag"
	"fmt"
	"net/url"
	"os/exec"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/walarchive"
)

// Archive: what archiving costs. WAL archived by an idle database
// (running, and stopped for idleness), and pgbench's TPC-B-like write
// throughput on one instance with archiving on, then off (the same data
// directory started by hand without archive_mode while db9 has it
// stopped), alternating. It drives the server through its surfaces only:
// a front-door session keeps an instance running, --idle-timeout stops it.
func Archive(args []string) error {
	fs := flag.NewFlagSet("archive", flag.ExitOnError)
	e := harness.Flags(fs)
	idle := fs.Duration("idle", time.Minute, "idle observation window (extrapolated to a day)")
	dur := fs.Duration("T", 30*time.Second, "pgbench duration per round")
	rounds := fs.Int("rounds", 2, "pgbench rounds per side")
	scale := fs.Int("s", 10, "pgbench scale")
	fs.Parse(args)
	if err := archiveIdle(e, *idle); err != nil {
		return err
	}
	return archiveWrites(e, *dur, *rounds, *scale)
}

// archiveIdle measures the WAL an idle database archives: running with no
// session for a window (the server's --idle-timeout is a little longer),
// its idle stop, and stopped for a window.
func archiveIdle(e *harness.Env, idle time.Duration) error {
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, 2*idle+10*time.Second) // the stop comes well after both running windows
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	id, err := api.Create("idle")
	if err != nil {
		return err
	}
	if err := api.SQL(id, "CREATE TABLE t (i int); INSERT INTO t VALUES (1)"); err != nil {
		return err
	}
	archive, err := (&walarchive.Local{Root: srv.Layout.Archive()}).WALDir(id)
	if err != nil {
		return err
	}
	// The first window holds what the write itself leaves behind (with
	// 1 MB segments, the first start's writes fill the current one, which
	// is archived once); the second is idleness.
	time.Sleep(2 * time.Second)
	settle := duBytes(archive)
	time.Sleep(idle)
	before := duBytes(archive)
	settled := before - settle
	time.Sleep(idle)
	runningIdle := duBytes(archive) - before
	if err := srv.WaitStopped(id, time.Minute); err != nil {
		return err
	}
	afterStop := duBytes(archive)
	time.Sleep(idle)
	stoppedIdle := duBytes(archive) - afterStop
	perDay := func(b int64) string {
		return fmt.Sprintf("%.1f MB", float64(b)*float64(24*time.Hour)/float64(idle)/1e6)
	}
	fmt.Println("| idle database | WAL archived in the window | per day (extrapolated) |\n|---|---|---|")
	fmt.Printf("| the first %s after a write (its WAL, once) | %d bytes | once per write burst |\n", idle, settled)
	fmt.Printf("| running, no sessions, the next %s | %d bytes | %s |\n", idle, runningIdle, perDay(runningIdle))
	fmt.Printf("| the stop itself (pg_switch_wal + shutdown) | %d bytes | once per idle stop |\n", afterStop-before-runningIdle)
	fmt.Printf("| stopped for idleness, %s | %d bytes | %s |\n", idle, stoppedIdle, perDay(stoppedIdle))
	return nil
}

// archiveWrites compares pgbench on a db9 instance (archiving on) with the
// same data directory started by hand without archiving.
func archiveWrites(e *harness.Env, dur time.Duration, rounds, scale int) error {
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, time.Second)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	bin, err := pgbin.Find()
	if err != nil {
		return err
	}
	runAs, err := pgbin.ResolveRunAs()
	if err != nil {
		return err
	}
	bid, err := api.Create("pgbench")
	if err != nil {
		return err
	}
	var tok struct {
		Token string `json:"token"`
	}
	if err := api.Do("POST", "/customer/databases/"+bid+"/connect-token", nil, 200, &tok); err != nil {
		return err
	}
	// hold keeps db9's instance running: a session through the front door.
	hold := func() (func(), error) {
		u := url.URL{Scheme: "postgresql", User: url.UserPassword(bid+".admin", tok.Token), Host: srv.PGAddr(), Path: "/postgres", RawQuery: "sslmode=disable"}
		c, err := pgx.Connect(ctx, u.String())
		if err != nil {
			return nil, err
		}
		return func() { c.Close(ctx) }, nil
	}
	cl := srv.Layout.DB(bid)
	base := []string{"-h", cl.SocketDir, "-p", strconv.Itoa(layout.Port), "-U", postgres.Superuser}
	release, err := hold()
	if err != nil {
		return err
	}
	out, err := exec.Command("pgbench", append(base, "-i", "-q", "-s", strconv.Itoa(scale), "postgres")...).CombinedOutput()
	release()
	if err != nil {
		return fmt.Errorf("pgbench -i: %v: %s", err, out)
	}
	psql := func(sql string) error {
		out, err := exec.Command("psql", append(base[:len(base):len(base)], "-X", "-q", "-d", "postgres", "-c", sql)...).CombinedOutput()
		if err != nil {
			return fmt.Errorf("psql %q: %v: %s", sql, err, out)
		}
		return nil
	}
	run := func(d time.Duration) (float64, error) {
		// Each run starts from the same state: tables vacuumed, nothing
		// dirty (a checkpoint), so neither side pays for the other's debt.
		if err := psql("VACUUM ANALYZE"); err != nil {
			return 0, err
		}
		if err := psql("CHECKPOINT"); err != nil {
			return 0, err
		}
		out, err := exec.Command("pgbench", append(base, "-n", "-c", "4", "-j", "2", "-T", strconv.Itoa(int(d.Seconds())), "postgres")...).CombinedOutput()
		if err != nil {
			return 0, fmt.Errorf("pgbench: %v: %s", err, out)
		}
		m := writeTPSRE.FindSubmatch(out)
		if m == nil {
			return 0, fmt.Errorf("pgbench output: %s", out)
		}
		return strconv.ParseFloat(string(m[1]), 64)
	}
	backups := func() int {
		bs, _ := (&walarchive.Local{Root: srv.Layout.Archive()}).ListBackups(ctx, bid)
		return len(bs)
	}
	runOn := func(d time.Duration) (float64, int, error) {
		release, err := hold()
		if err != nil {
			return 0, 0, err
		}
		defer release()
		b0 := backups()
		tps, err := run(d)
		return tps, backups() - b0, err
	}
	runOff := func(d time.Duration) (float64, error) {
		// db9 stops its instance a second after the last session (a
		// scheduled base backup may hold it a while longer).
		if err := srv.WaitStopped(bid, 5*time.Minute); err != nil {
			return 0, err
		}
		pm, err := postgres.Start(ctx, postgres.Options{Bin: bin, RunAs: runAs, DataDir: cl.Data, SocketDir: cl.SocketDir})
		if err != nil {
			return 0, err
		}
		defer pm.Stop(30 * time.Second)
		return run(d)
	}
	if _, _, err := runOn(5 * time.Second); err != nil { // warm-up, not counted
		return err
	}
	var on, off []float64
	taken := 0
	fmt.Println("\n| round | side | tps | base backups taken during the run |\n|---|---|---|---|")
	for r := range rounds {
		// ABBA: on, off, off, on, ... so drift over time hits both sides.
		sides := []bool{true, false}
		if r%2 == 1 {
			sides = []bool{false, true}
		}
		for _, isOn := range sides {
			if isOn {
				tps, nb, err := runOn(dur)
				if err != nil {
					return err
				}
				on = append(on, tps)
				taken += nb
				fmt.Printf("| %d | on | %.0f | %d |\n", r+1, tps, nb)
			} else {
				tps, err := runOff(dur)
				if err != nil {
					return err
				}
				off = append(off, tps)
				fmt.Printf("| %d | off | %.0f | |\n", r+1, tps)
			}
		}
	}
	mean := func(xs []float64) float64 {
		s := 0.0
		for _, x := range xs {
			s += x
		}
		return s / float64(len(xs))
	}
	fmt.Println("\n| pgbench TPC-B, -c 4 -j 2, scale", scale, "| rounds | tps (mean) |\n|---|---|---|")
	fmt.Printf("| archiving on (db9 instance; %d scheduled base backups during the runs) | %d | %.0f |\n", taken, len(on), mean(on))
	fmt.Printf("| archiving off (same data directory, archive_mode off) | %d | %.0f |\n", len(off), mean(off))
	fmt.Printf("| **on / off** | | **%.2f** |\n", mean(on)/mean(off))
	return nil
}
