package lifecycle

import (
	"context"
	"flag"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/db9/db9/bench/internal/harness"
)

// Branch: a branch of an N MB database until ACTIVE — at now, and at
// a moment -back ago under steady writes — against the logical copy a user
// would otherwise make (a new database, then pg_dump | psql through the
// front door), on the same data in the same run.
func Branch(args []string) error {
	fs := flag.NewFlagSet("branch", flag.ExitOnError)
	e := harness.Flags(fs)
	sizes := fs.String("mb", "100", "database sizes in MB, comma separated")
	back := fs.Duration("back", time.Minute, "how far back the past-moment branch reaches (steady writes meanwhile)")
	settle := fs.Duration("settle", 30*time.Second, "steady writes between the end of the bulk load and the past moment (0: the moment right after the load, the worst case)")
	n := fs.Int("n", 3, "repetitions of each measurement")
	idleParent := fs.Bool("idle-parent", false, "also branch the parent at now after it was stopped for idleness (server --idle-timeout 2s)")
	fs.Parse(args)
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	ctx := context.Background()
	idle := time.Duration(0)
	if *idleParent {
		idle = 2 * time.Second // the steady writes keep the parent up until the end
	}
	srv, err := harness.StartServer(ctx, dir, e.WarmPool, e.SparePool, idle)
	if err != nil {
		return err
	}
	defer srv.Close(ctx)
	api, err := harness.NewAPIClient(srv.HTTPAddr())
	if err != nil {
		return err
	}
	fmt.Println("| size | measurement | n | p50 ms | max ms | ratio to logical copy p50 |\n|---|---|---|---|---|---|")
	for _, f := range strings.Split(*sizes, ",") {
		mb, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil {
			return fmt.Errorf("-mb %q", f)
		}
		if err := branchOneSize(api, srv, dir, mb, *settle, *back, *n, *idleParent); err != nil {
			return err
		}
	}
	return nil
}

type createdDB struct {
	ID            string `json:"id"`
	AdminPassword string `json:"admin_password"`
}

// branchUntilActive asks for a branch and polls until it is ACTIVE.
func branchUntilActive(c *harness.APIClient, parent, name string, at *time.Time) (string, time.Duration, error) {
	body := map[string]any{"name": name}
	if at != nil {
		body["snapshot_at"] = at.UTC().Format(time.RFC3339Nano)
	}
	start := time.Now()
	var d struct {
		ID          string  `json:"id"`
		State       string  `json:"state"`
		StateReason *string `json:"state_reason"`
	}
	if err := c.Do("POST", "/customer/databases/"+parent+"/branch", body, 202, &d); err != nil {
		return "", 0, err
	}
	for d.State == "CLONING" {
		time.Sleep(2 * time.Millisecond)
		if err := c.Do("GET", "/customer/databases/"+d.ID, nil, 200, &d); err != nil {
			return "", 0, err
		}
	}
	took := time.Since(start)
	if d.State != "ACTIVE" {
		return "", 0, fmt.Errorf("branch %s: %s %v", name, d.State, d.StateReason)
	}
	return d.ID, took, nil
}

func branchOneSize(api *harness.APIClient, srv *harness.Server, dir string, mb int, settle, back time.Duration, n int, idleParent bool) error {
	var p createdDB
	if err := api.Do("POST", "/customer/databases", map[string]string{"name": fmt.Sprintf("src-%d", mb)}, 201, &p); err != nil {
		return err
	}
	if err := api.SQL(p.ID, "CREATE TABLE big (g int, pad text) WITH (autovacuum_enabled = off); CREATE TABLE ticks (id bigserial PRIMARY KEY, at timestamptz DEFAULT clock_timestamp())"); err != nil {
		return err
	}
	const rowsPerMB = 1000 // ~1 KB a row with its overhead
	for done := 0; done < mb; done += 50 {
		step := min(50, mb-done)
		q := fmt.Sprintf("INSERT INTO big SELECT g, repeat(md5(g::text), 28) FROM generate_series(%d, %d) g", done*rowsPerMB+1, (done+step)*rowsPerMB)
		if err := api.SQL(p.ID, q); err != nil {
			return err
		}
	}
	if err := api.SQL(p.ID, "VACUUM ANALYZE big"); err != nil {
		return err
	}
	// Steady writes from here on: one small transaction every 10 ms.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(10 * time.Millisecond):
			}
			_ = api.SQL(p.ID, "INSERT INTO ticks DEFAULT VALUES")
		}
	}()
	var stopOnce sync.Once
	stopWrites := func() { stopOnce.Do(func() { close(stop); wg.Wait() }) }
	defer stopWrites()
	time.Sleep(settle)
	mark := time.Now()
	time.Sleep(back)
	label := fmt.Sprintf("%d MB", mb)
	var now, past, peer []time.Duration
	for i := range n {
		id, d, err := branchUntilActive(api, p.ID, fmt.Sprintf("now-%d-%d", mb, i), nil)
		if err != nil {
			return err
		}
		now = append(now, d)
		_ = api.Do("DELETE", "/customer/databases/"+id, nil, 200, nil)
		at := mark.Add(time.Duration(i) * 10 * time.Millisecond)
		id, d, err = branchUntilActive(api, p.ID, fmt.Sprintf("past-%d-%d", mb, i), &at)
		if err != nil {
			return err
		}
		past = append(past, d)
		_ = api.Do("DELETE", "/customer/databases/"+id, nil, 200, nil)
		d, err = logicalCopy(api, srv, p, fmt.Sprintf("copy-%d-%d", mb, i))
		if err != nil {
			return err
		}
		peer = append(peer, d)
	}
	var cold []time.Duration
	if idleParent {
		stopWrites()
		for i := range n {
			if err := srv.WaitStopped(p.ID, time.Minute); err != nil {
				return err
			}
			id, d, err := branchUntilActive(api, p.ID, fmt.Sprintf("cold-%d-%d", mb, i), nil)
			if err != nil {
				return err
			}
			cold = append(cold, d)
			_ = api.Do("DELETE", "/customer/databases/"+id, nil, 200, nil)
		}
	}
	pn, pp, pc := harness.Summarize(now), harness.Summarize(past), harness.Summarize(peer)
	fmt.Printf("| %s | db9 branch at now → ACTIVE | %d | %s | %s | **%s** |\n", label, pn.N, harness.MS(pn.P50), harness.MS(pn.Max), harness.Ratio(pn.P50, pc.P50))
	fmt.Printf("| %s | db9 branch at %s back (steady writes; load ended %s before) → ACTIVE | %d | %s | %s | **%s** |\n", label, back, settle, pp.N, harness.MS(pp.P50), harness.MS(pp.Max), harness.Ratio(pp.P50, pc.P50))
	if len(cold) > 0 {
		pi := harness.Summarize(cold)
		fmt.Printf("| %s | db9 branch at now of the parent stopped for idleness → ACTIVE | %d | %s | %s | **%s** |\n", label, pi.N, harness.MS(pi.P50), harness.MS(pi.Max), harness.Ratio(pi.P50, pc.P50))
	}
	fmt.Printf("| %s | peer: create + pg_dump \\| psql through the front door | %d | %s | %s | 1.00 |\n", label, pc.N, harness.MS(pc.P50), harness.MS(pc.Max))
	return nil
}

// logicalCopy is what a user does without branches: a new database, then
// the parent's tables dumped into it through the PostgreSQL front door.
func logicalCopy(api *harness.APIClient, srv *harness.Server, src createdDB, name string) (time.Duration, error) {
	start := time.Now()
	var dst createdDB
	if err := api.Do("POST", "/customer/databases", map[string]string{"name": name}, 201, &dst); err != nil {
		return 0, err
	}
	conn := func(d createdDB) string {
		u := url.URL{Scheme: "postgresql", User: url.UserPassword(d.ID+".admin", d.AdminPassword), Host: srv.PGAddr(), Path: "/postgres", RawQuery: "sslmode=disable"}
		return u.String()
	}
	cmd := exec.Command("bash", "-o", "pipefail", "-c", `pg_dump --no-owner --no-privileges -t 'public.*' "$SRC" | psql -q -v ON_ERROR_STOP=1 "$DST" >/dev/null`)
	cmd.Env = append(os.Environ(), "SRC="+conn(src), "DST="+conn(dst))
	if out, err := cmd.CombinedOutput(); err != nil {
		return 0, fmt.Errorf("pg_dump | psql: %v: %s", err, out)
	}
	took := time.Since(start)
	_ = api.Do("DELETE", "/customer/databases/"+dst.ID, nil, 200, nil)
	return took, nil
}

var writeTPSRE = regexp.MustCompile(`tps = ([0-9.]+) \(without initial connection time\)`)

func duBytes(dir string) int64 {
	var n int64
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				n += info.Size()
			}
		}
		return nil
	})
	return n
}
