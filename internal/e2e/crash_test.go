package e2e

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgtest"
)

// noPostmastersWithin waits until no postgres process runs on a data
// directory under the server's data directory.
func noPostmastersWithin(t *testing.T, s *Server, d time.Duration, after string) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		pms := postmasters(s.DataDir)
		if len(pms) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("postgres processes still run %s after %s: %v", d, after, pms)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processGroupAlive reports whether any process is in process group pgid.
func processGroupAlive(pgid int) bool {
	stats, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range stats {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses and may hold spaces.
		i := strings.LastIndexByte(string(b), ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		// f[0] state, f[1] ppid, f[2] pgrp.
		if len(f) > 2 && f[0] != "Z" && f[2] == fmt.Sprint(pgid) {
			return true
		}
	}
	return false
}

// clusterState returns pg_controldata's "Database cluster state" of dir.
func clusterState(t *testing.T, dir string) string {
	t.Helper()
	bin, _ := pgtest.Env(t)
	out, err := exec.Command(bin.Path("pg_controldata"), "-D", dir).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_controldata %s: %v: %s", dir, err, out)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Database cluster state" {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("pg_controldata %s: no cluster state in %s", dir, out)
	return ""
}

func TestServer_RestartKeepsData(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous()
	type made struct {
		db   Database
		rows int
	}
	var dbs []made
	for i, name := range []string{"keep-a", "keep-b", "keep-c"} {
		d := c.CreateDB(name)
		n := 10 * (i + 1)
		c.MustSQL(d.ID, "create table t (v text)")
		c.MustSQL(d.ID, "insert into t select $1 || g from generate_series(1, $2::int) g", name, n)
		dbs = append(dbs, made{d, n})
	}

	s.Stop()
	if pms := postmasters(s.DataDir); len(pms) != 0 {
		t.Fatalf("postgres processes left after SIGTERM: %v", pms)
	}
	s.Start()

	listed := map[string]Database{}
	for _, d := range c.ListDBs(false) {
		listed[d.ID] = d
	}
	if len(listed) != len(dbs) {
		t.Errorf("after restart %d databases listed, want %d: %v", len(listed), len(dbs), listed)
	}
	for _, m := range dbs {
		got, ok := listed[m.db.ID]
		if !ok {
			t.Errorf("database %s (%s) not listed after restart", m.db.ID, m.db.Name)
			continue
		}
		if got.Name != m.db.Name || got.State != "ACTIVE" {
			t.Errorf("after restart %s is %+v", m.db.ID, got)
		}
		r := c.MustSQL(m.db.Name, "select count(*), min(v), max(v) from t where v like $1", m.db.Name+"%")
		want := fmt.Sprintf("[[%d %s1 %s9]]", m.rows, m.db.Name, m.db.Name)
		if fmt.Sprint(r.Rows) != want {
			t.Errorf("rows of %s after restart: %v, want %s", m.db.Name, r.Rows, want)
		}
		var cred struct {
			AdminUser        string `json:"admin_user"`
			AdminPassword    string `json:"admin_password"`
			ConnectionString string `json:"connection_string"`
		}
		c.MustDo("GET", "/customer/databases/"+m.db.ID+"/credentials", nil, 200, &cred)
		if cred.AdminPassword != m.db.AdminPassword || cred.AdminUser != "admin" || !strings.Contains(cred.ConnectionString, cred.AdminPassword) {
			t.Errorf("credentials of %s after restart: %+v, want the password given at create", m.db.ID, cred)
		}
	}
}

func TestServer_Kill9DuringConcurrentCreates(t *testing.T) {
	t.Parallel()
	// Crash with the default warm pool (instances with no row in flight
	// too); check with none, so dbs/ must hold exactly the listed databases.
	crashArgs := []string{"--anonymous-db-limit", "100"}
	checkArgs := []string{"--anonymous-db-limit", "100", "--warm-pool", "0"}
	s := StartServer(t, crashArgs...)
	c := s.Anonymous()

	const concurrent = 20
	acked := map[string]string{} // id -> name of every 201, over all rounds
	written := map[string]int{}  // id -> rows written into it by earlier checks
	moments := []struct {
		desc  string
		after int           // kill once this many 201s arrived...
		delay time.Duration // ...or, when after is 0, after this delay
	}{
		{desc: "after a random delay", delay: time.Duration(100+rand.IntN(400)) * time.Millisecond},
		{desc: "after 2 creates answered", after: 2},
		{desc: "after 10 creates answered", after: 10},
	}
	for round, moment := range moments {
		if round > 0 {
			s.Args = crashArgs
			s.Start()
		}
		type result struct {
			name string
			code int
			body []byte
			err  error
		}
		results := make(chan result, concurrent)
		var wg sync.WaitGroup
		for i := 0; i < concurrent; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("r%d-%02d", round, i)
				code, body, err := c.TryDo("POST", "/customer/databases", map[string]any{"name": name})
				results <- result{name, code, body, err}
			}()
		}
		var got []result
		if moment.after == 0 {
			time.Sleep(moment.delay)
		} else {
			for n := 0; n < moment.after; {
				r := <-results
				got = append(got, r)
				if r.err == nil && r.code == 201 {
					n++
				}
				if len(got) == concurrent {
					break
				}
			}
		}
		s.Kill9()
		wg.Wait()
		close(results)
		for r := range results {
			got = append(got, r)
		}
		var roundAcked, failed int
		for _, r := range got {
			switch {
			case r.err != nil:
				failed++
			case r.code == 201:
				var d Database
				if err := json.Unmarshal(r.body, &d); err != nil || d.ID == "" || d.Name != r.name {
					t.Fatalf("create %s answered 201 %s", r.name, r.body)
				}
				acked[d.ID] = d.Name
				roundAcked++
			default:
				t.Errorf("create %s before the kill answered %d %s, want 201", r.name, r.code, r.body)
			}
		}
		t.Logf("round %d, kill %s: %d creates answered 201, %d cut off", round, moment.desc, roundAcked, failed)
		if failed == 0 {
			t.Logf("round %d: every create finished before the kill; the kill cut nothing", round)
		}

		// The parent-death signal ends every postmaster without the server.
		noPostmastersWithin(t, s, 5*time.Second, "kill -9 of the server")
		unacked := 0
		for id := range s.instanceDirs() {
			if _, ok := acked[id]; !ok {
				unacked++
			}
		}
		t.Logf("round %d: %d instance directories without an acknowledged create left by the crash", round, unacked)

		s.Args = checkArgs
		s.Start()
		all := c.ListDBs(true)
		live := c.ListDBs(false)
		if len(all) != len(live) {
			t.Errorf("round %d: ?all=true lists %d databases, plain list %d: a create failed half-way: %+v", round, len(all), len(live), all)
		}
		listed := map[string]Database{}
		for _, d := range all {
			listed[d.ID] = d
			if d.State != "ACTIVE" {
				t.Errorf("round %d: database %s (%s) is %s after restart", round, d.ID, d.Name, d.State)
			}
		}
		for id, name := range acked {
			if d, ok := listed[id]; !ok || d.Name != name {
				t.Errorf("round %d: acknowledged database %s (%s) missing after restart (listed: %+v)", round, id, name, d)
			}
		}
		dirs := s.instanceDirs()
		if got, want := sortedKeys(dirs), sortedKeys(listed); strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("round %d: instance directories %v, want exactly the listed databases %v", round, got, want)
		}
		for id := range listed {
			if _, ok := acked[id]; !ok {
				// Committed but the 201 was cut off: a whole database all the same.
				acked[id] = listed[id].Name
			}
			c.MustSQL(id, "create table if not exists k (v int); insert into k values (1)")
			written[id]++
			r := c.MustSQL(id, "select count(*) from k")
			if fmt.Sprint(r.Rows) != fmt.Sprintf("[[%d]]", written[id]) {
				t.Errorf("round %d: database %s has %v rows in k, want %d", round, id, r.Rows, written[id])
			}
		}
		catalog := (layout.Layout{DataDir: s.DataDir}).Catalog().Data
		for pid, dir := range postmasters(s.DataDir) {
			id := filepath.Base(filepath.Dir(dir))
			if dir != catalog && (dir != (layout.Layout{DataDir: s.DataDir}).DB(id).Data || listed[id].ID == "") {
				t.Errorf("round %d: orphaned postmaster %d on %s", round, pid, dir)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
		s.Stop()
		noPostmastersWithin(t, s, 0, "SIGTERM")
	}
	if len(acked) == 0 {
		t.Fatal("no create ever succeeded")
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func TestServer_PostmasterKill9(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("crashy")
	c.MustSQL(db.ID, "create table t (v int)")
	c.MustSQL(db.ID, "insert into t select generate_series(1, 1000)")
	check := func(when string, batches int) {
		t.Helper()
		r := c.MustSQL(db.ID, "select count(*), sum(v) from t")
		want := fmt.Sprintf("[[%d %d]]", 1000*batches, 500500*batches)
		if len(r.Rows) != 1 || fmt.Sprintf("[[%.0f %.0f]]", r.Rows[0]...) != want {
			t.Fatalf("%s: %v, want %s", when, r.Rows, want)
		}
	}
	for round := 1; round <= 2; round++ {
		pid := s.postmasterOf(db.ID)
		if pid == 0 {
			t.Fatalf("round %d: no postmaster for %s", round, db.ID)
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		// Right away, while the supervisor may not have noticed yet: the
		// call must not fail because of the crash.
		check(fmt.Sprintf("round %d: right after kill -9 of the postmaster", round), round)
		c.MustSQL(db.ID, "insert into t select generate_series(1, 1000)")
		waitFor(t, 5*time.Second, "the killed postmaster's process group to go", func() bool { return !processGroupAlive(pid) })
		waitFor(t, 10*time.Second, "a new postmaster", func() bool { np := s.postmasterOf(db.ID); return np != 0 && np != pid })
		check(fmt.Sprintf("round %d: on the restarted postmaster", round), round+1)
	}
}

func TestServer_ShutdownStopsEverything(t *testing.T) {
	t.Parallel()
	s := StartServer(t) // default warm pool: unclaimed instances run too
	c := s.Anonymous()
	a, b := c.CreateDB("down-a"), c.CreateDB("down-b")
	c.MustSQL(a.ID, "create table t (v int); insert into t values (1)")
	assertSelect1(t, c, b.ID)
	// catalog, a, b and two warm instances
	waitFor(t, 20*time.Second, "warm pool to fill", func() bool { return len(postmasters(s.DataDir)) >= 5 })

	code, took := s.StopStatus(20 * time.Second)
	if code != 0 || took > 5*time.Second {
		t.Fatalf("SIGTERM: exit code %d after %s, want 0 within 5s", code, took)
	}
	t.Logf("shutdown took %s", took)
	if pms := postmasters(s.DataDir); len(pms) != 0 {
		t.Fatalf("postgres processes still run after the server exited: %v", pms)
	}
	for _, dir := range []string{
		(layout.Layout{DataDir: s.DataDir}).Catalog().Data,
		(layout.Layout{DataDir: s.DataDir}).DB(a.ID).Data,
		(layout.Layout{DataDir: s.DataDir}).DB(b.ID).Data,
	} {
		if st := clusterState(t, dir); st != "shut down" {
			t.Errorf("%s: cluster state %q, want a clean \"shut down\"", dir, st)
		}
	}
	if got := sortedKeys(s.instanceDirs()); strings.Join(got, ",") != strings.Join(sortedKeys(map[string]bool{a.ID: true, b.ID: true}), ",") {
		t.Errorf("instance directories after shutdown %v, want only the databases (warm ones removed)", got)
	}
}
