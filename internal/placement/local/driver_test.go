package local

import (
	"context"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/backup"
	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platformsql"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/walarchive"
)

// The golden directory is built once per test process by a Manager's Open
// (TestManager_Open_BuildsGolden checks what it built) and copied into the
// data directory of every other test, so each test does not pay for initdb.
var (
	goldenOnce sync.Once
	goldenDir  string
	goldenErr  error
)

func sharedGolden(t *testing.T) (dir string, bin pgbin.Bin, runAs pgbin.RunAs) {
	t.Helper()
	bin, runAs = pgtest.Env(t)
	goldenOnce.Do(func() {
		base, err := os.MkdirTemp(shmBase(), "db9t-golden-")
		if err != nil {
			goldenErr = err
			return
		}
		_ = os.Chmod(base, 0o755)
		m := New(Config{Bin: bin, RunAs: runAs, DataDir: base})
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		if _, goldenErr = m.Open(ctx, nil); goldenErr != nil {
			return
		}
		goldenErr = m.Close(ctx)
		goldenDir = layout.Layout{DataDir: base}.Golden(bin.Major)
	})
	if goldenErr != nil {
		t.Fatalf("build golden: %v", goldenErr)
	}
	return goldenDir, bin, runAs
}

func shmBase() string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		return "/dev/shm"
	}
	return os.TempDir()
}

// TestMain removes the shared golden copy's directory at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if goldenDir != "" {
		_ = os.RemoveAll(filepath.Dir(filepath.Dir(goldenDir)))
	}
	os.Exit(code)
}

// env is one test's data directory with the golden directory in place.
type env struct {
	t       *testing.T
	dataDir string
	lay     layout.Layout
	bin     pgbin.Bin
	runAs   pgbin.RunAs
	golden  string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	golden, bin, runAs := sharedGolden(t)
	e := &env{t: t, dataDir: pgtest.TempDir(t), bin: bin, runAs: runAs}
	e.lay = layout.Layout{DataDir: e.dataDir}
	e.golden = e.lay.Golden(bin.Major)
	if err := os.MkdirAll(filepath.Dir(e.golden), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := dirtree.Copy(golden, e.golden); err != nil {
		t.Fatal(err)
	}
	return e
}

func (e *env) config() Config {
	return Config{Bin: e.bin, RunAs: e.runAs, DataDir: e.dataDir}
}

// open opens a Manager and closes it at cleanup.
func (e *env) open(cfg Config, keep map[string]bool) (*Driver, []string) {
	e.t.Helper()
	m := New(cfg)
	missing, err := m.Open(ctx(e.t), keep)
	if err != nil {
		e.t.Fatalf("Open: %v", err)
	}
	e.t.Cleanup(func() { _ = m.Close(context.Background()) })
	return m, missing
}

// instanceDir makes the directory of cluster cl (a database's or a
// spare's) holding a copy of the golden directory, owned as the driver
// would make it.
func (e *env) instanceDir(cl layout.Cluster) string {
	e.t.Helper()
	dir := cl.Dir
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.Mkdir(dir, 0o700); err != nil {
		e.t.Fatal(err)
	}
	if err := e.runAs.Chown(dir); err != nil {
		e.t.Fatal(err)
	}
	if err := dirtree.Copy(e.golden, cl.Data); err != nil {
		e.t.Fatal(err)
	}
	return dir
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return c
}

// provision makes and commits a new instance.
func provision(t *testing.T, m *Driver) placement.Provisioned {
	t.Helper()
	p, err := m.Provision(ctx(t))
	if err != nil {
		t.Fatalf("Provision: %v", err)
	}
	p.Commit()
	return p
}

func acquire(t *testing.T, m *Driver, id string) placement.Lease {
	t.Helper()
	l, err := m.Acquire(ctx(t), id)
	if err != nil {
		t.Fatalf("Acquire %s: %v", id, err)
	}
	return l
}

// query runs sql on conn and returns the rows as strings.
func query(t *testing.T, conn *pgconn.PgConn, sql string) [][]string {
	t.Helper()
	rs, err := conn.Exec(ctx(t), sql).ReadAll()
	if err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
	var out [][]string
	for _, r := range rs {
		for _, row := range r.Rows {
			var s []string
			for _, v := range row {
				s = append(s, string(v))
			}
			out = append(out, s)
		}
	}
	return out
}

func superuser(t *testing.T, l placement.Lease) *pgconn.PgConn {
	t.Helper()
	c, err := l.Connect(ctx(t), placement.Superuser)
	if err != nil {
		t.Fatalf("SuperuserConn: %v", err)
	}
	t.Cleanup(func() { c.Close(context.Background()) })
	return c
}

// postmastersUnder lists the data directories of postgres processes whose
// -D lies under root, each once: a child the postmaster has just forked
// shows the postmaster's command line until it sets its own title.
func postmastersUnder(root string) []string {
	var out []string
	seen := map[string]bool{}
	procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
	for _, p := range procs {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		args := strings.Split(string(b), "\x00")
		for i, a := range args {
			if a == "-D" && i+1 < len(args) && strings.HasPrefix(args[i+1], root+"/") && !seen[args[i+1]] {
				seen[args[i+1]] = true
				out = append(out, args[i+1])
			}
		}
	}
	sort.Strings(out)
	return out
}

func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pidAlive(pid int) bool {
	_, err := os.Stat(fmt.Sprintf("/proc/%d", pid))
	return err == nil
}

func TestManager_Open_BuildsGolden(t *testing.T) {
	t.Parallel()
	golden, bin, _ := sharedGolden(t)
	if golden != (layout.Layout{DataDir: filepath.Dir(filepath.Dir(golden))}).Golden(bin.Major) {
		t.Errorf("golden directory %s is not golden/<major>", golden)
	}
	for _, f := range []string{"PG_VERSION", "db9_golden_version", "postgresql.conf", "pg_hba.conf", "global/pg_control"} {
		if _, err := os.Stat(filepath.Join(golden, f)); err != nil {
			t.Errorf("golden lacks %s: %v", f, err)
		}
	}
	if _, err := os.Stat(golden + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("golden build left %s.tmp behind (%v)", golden, err)
	}
	if _, err := os.Stat(filepath.Join(golden, "postmaster.pid")); !os.IsNotExist(err) {
		t.Errorf("golden was not shut down cleanly: postmaster.pid present (%v)", err)
	}
	hba, _ := os.ReadFile(filepath.Join(golden, "pg_hba.conf"))
	if got := string(hba); got != "local all all trust\nlocal replication all trust\n" {
		t.Errorf("golden pg_hba.conf = %q, want only local trust (replication included, for base backups)", got)
	}
	conf, _ := os.ReadFile(filepath.Join(golden, "postgresql.conf"))
	for _, w := range []string{"listen_addresses = ''", "pg_stat_statements", "statement_timeout = 60s", "idle_in_transaction_session_timeout = 60s"} {
		if !strings.Contains(string(conf), w) {
			t.Errorf("golden postgresql.conf lacks %q", w)
		}
	}
	// The WAL was trimmed to the one segment of the shutdown checkpoint.
	wal, _ := filepath.Glob(filepath.Join(golden, "pg_wal", "0000*"))
	if len(wal) != 1 {
		t.Errorf("golden pg_wal holds %d segments, want 1: %v", len(wal), wal)
	}
}

// TestManager_Open_ReusesGolden checks that a golden directory of the same
// recipe is not rebuilt (its files keep their identity).
func TestManager_Open_ReusesGolden(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	before, err := os.Stat(filepath.Join(e.golden, "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	e.open(e.config(), nil)
	after, err := os.Stat(filepath.Join(e.golden, "PG_VERSION"))
	if err != nil {
		t.Fatal(err)
	}
	if !os.SameFile(before, after) {
		t.Error("Open rebuilt a golden directory of the current recipe")
	}
}

func TestManager_Open_Reconciles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const keepID, strayID, runningID = "keep00000001", "stray0000001", "running00001"
	e.instanceDir(e.lay.DB(keepID))
	if err := os.MkdirAll(filepath.Join(e.lay.DB(strayID).Data, "base"), 0o700); err != nil {
		t.Fatal(err)
	}
	// A postmaster left running on a directory nobody keeps (an unclaimed
	// warm instance of a crashed server) is stopped and removed.
	running := e.lay.DB(runningID)
	e.instanceDir(running)
	pm, err := postgres.Start(ctx(t), postgres.Options{
		Bin: e.bin, RunAs: e.runAs, DataDir: running.Data, SocketDir: running.SocketDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pm.Stop(10 * time.Second) })

	m, missing := e.open(e.config(), map[string]bool{keepID: true, "gone00000001": true, "gone00000002": true})
	if diff := cmp.Diff([]string{"gone00000001", "gone00000002"}, missing); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
	entries, err := os.ReadDir(e.lay.DBs())
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, d := range entries {
		left = append(left, d.Name())
	}
	if diff := cmp.Diff([]string{keepID}, left); diff != "" {
		t.Errorf("dbs/ after Open (-want +got):\n%s", diff)
	}
	select {
	case <-pm.Done():
	case <-time.After(10 * time.Second):
		t.Error("postmaster of a removed directory still runs")
	}

	// The kept instance is stopped until someone needs it.
	if m.Running(keepID) {
		t.Error("kept instance runs right after Open")
	}
	l := acquire(t, m, keepID)
	defer l.Release()
	if !m.Running(keepID) || !postgres.Alive(m.lay.DB(keepID).Data) {
		t.Fatal("Acquire did not start the kept instance")
	}
	if got := query(t, superuser(t, l), "SELECT 1"); !cmp.Equal(got, [][]string{{"1"}}) {
		t.Errorf("SELECT 1 = %v", got)
	}
	if _, err := m.Acquire(ctx(t), "gone00000001"); !errors.Is(err, placement.ErrNotFound) {
		t.Errorf("Acquire of a missing instance: %v, want ErrNotFound", err)
	}
}

// storedKeyOf checks a SCRAM verifier against a password, as the server
// would at login: the StoredKey derived from password and the verifier's
// salt must match the one stored.
func verifies(verifier, password string) bool {
	m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$([^:]+):(.+)$`).FindStringSubmatch(verifier)
	if m == nil {
		return false
	}
	iter, _ := strconv.Atoi(m[1])
	salt, err1 := base64.StdEncoding.DecodeString(m[2])
	stored, err2 := base64.StdEncoding.DecodeString(m[3])
	if err1 != nil || err2 != nil {
		return false
	}
	salted, err := pbkdf2.Key(sha256.New, password, salt, iter, 32)
	if err != nil {
		return false
	}
	h := hmac.New(sha256.New, salted)
	h.Write([]byte("Client Key"))
	sk := sha256.Sum256(h.Sum(nil))
	return hmac.Equal(sk[:], stored)
}

func TestManager_Provision_Commit(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p := provision(t, m)
	if !regexp.MustCompile(`^[a-z0-9]{12}$`).MatchString(p.ID()) {
		t.Errorf("instance id %q is not a database id", p.ID())
	}
	if len(p.AdminPassword()) < 20 {
		t.Errorf("admin password %q is too short", p.AdminPassword())
	}
	if _, err := os.Stat(filepath.Join(m.lay.DB(p.ID()).Data, "PG_VERSION")); err != nil {
		t.Fatalf("instance directory: %v", err)
	}
	l := acquire(t, m, p.ID())
	defer l.Release()
	su := superuser(t, l)
	rows := query(t, su, "SELECT rolpassword FROM pg_authid WHERE rolname = 'admin'")
	if len(rows) != 1 || !strings.HasPrefix(rows[0][0], "SCRAM-SHA-256$") {
		t.Fatalf("admin rolpassword = %v, want a SCRAM verifier", rows)
	}
	if !verifies(rows[0][0], p.AdminPassword()) {
		t.Error("admin's verifier does not verify Provisioned.AdminPassword")
	}
	if verifies(rows[0][0], p.AdminPassword()+"x") {
		t.Error("admin's verifier verifies a wrong password")
	}
	if strings.Contains(rows[0][0], p.AdminPassword()) {
		t.Error("plaintext password stored")
	}

	pool, err := l.Pool(placement.AdminRole)
	if err != nil {
		t.Fatal(err)
	}
	var user string
	if err := pool.QueryRow(ctx(t), "SELECT current_user").Scan(&user); err != nil || user != "admin" {
		t.Errorf("admin pool: current_user = %q, %v", user, err)
	}

	// Two provisions never share an id or a directory.
	p2 := provision(t, m)
	if p2.ID() == p.ID() || p2.AdminPassword() == p.AdminPassword() {
		t.Errorf("second provision repeats id or password: %s %s", p.ID(), p2.ID())
	}
}

func TestManager_Provision_SetAdminPassword(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p, err := m.Provision(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.SetAdminPassword(ctx(t), "chosen-by-customer"); err != nil {
		t.Fatal(err)
	}
	p.Commit()
	if p.AdminPassword() != "chosen-by-customer" {
		t.Errorf("AdminPassword = %q", p.AdminPassword())
	}
	l := acquire(t, m, p.ID())
	defer l.Release()
	rows := query(t, superuser(t, l), "SELECT rolpassword FROM pg_authid WHERE rolname = 'admin'")
	if !verifies(rows[0][0], "chosen-by-customer") {
		t.Error("admin's verifier does not verify the chosen password")
	}
}

func TestManager_Provision_Abort(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p, err := m.Provision(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	pgdata := m.lay.DB(p.ID()).Data
	if !postgres.Alive(pgdata) {
		t.Fatal("provisioned instance is not running")
	}
	// Until Commit the instance cannot be leased.
	if _, err := m.Acquire(ctx(t), p.ID()); !errors.Is(err, placement.ErrNotFound) {
		t.Errorf("Acquire before Commit: %v, want ErrNotFound", err)
	}
	p.Abort()
	if postgres.Alive(pgdata) {
		t.Error("aborted instance still runs")
	}
	if _, err := os.Stat(m.lay.DB(p.ID()).Dir); !os.IsNotExist(err) {
		t.Errorf("aborted instance's directory remains (%v)", err)
	}
}

func TestManager_Stop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p := provision(t, m)
	pgdata := m.lay.DB(p.ID()).Data
	pid := m.sup.pid(p.ID())
	if pid == 0 {
		t.Fatal("committed instance not running")
	}

	l := acquire(t, m, p.ID())
	if m.Stop(p.ID()) {
		t.Error("Stop stopped an instance held by a lease")
	}
	l.Release()
	l.Release() // a second Release is a no-op, not a negative lease count

	if !m.Stop(p.ID()) {
		t.Fatal("Stop refused an unleased instance")
	}
	if m.Running(p.ID()) || m.sup.pid(p.ID()) != 0 {
		t.Error("Manager still reports the instance running")
	}
	if pidAlive(pid) || postgres.Alive(pgdata) {
		t.Errorf("postmaster %d still alive after Stop", pid)
	}
	if m.Stop(p.ID()) {
		t.Error("Stop of a stopped instance reported a stop")
	}

	l = acquire(t, m, p.ID())
	defer l.Release()
	pid2 := m.sup.pid(p.ID())
	if pid2 == 0 || pid2 == pid || !postgres.Alive(pgdata) {
		t.Fatalf("Acquire after Stop: pid %d (before %d), want a new running postmaster", pid2, pid)
	}
	// The data survived the stop.
	query(t, superuser(t, l), "CREATE TABLE public.survives (a int); INSERT INTO public.survives VALUES (7)")
	l.Release()
	if !m.Stop(p.ID()) {
		t.Fatal("second Stop refused")
	}
	l = acquire(t, m, p.ID())
	defer l.Release()
	if got := query(t, superuser(t, l), "SELECT a FROM public.survives"); !cmp.Equal(got, [][]string{{"7"}}) {
		t.Errorf("after restart: %v", got)
	}
}

func TestManager_Destroy(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p := provision(t, m)
	dir := m.lay.DB(p.ID()).Dir
	pid := m.sup.pid(p.ID())
	l := acquire(t, m, p.ID())
	su := superuser(t, l)

	if err := m.Destroy(ctx(t), p.ID()); err != nil {
		t.Fatal(err)
	}
	l.Release() // a lease outliving Destroy is harmless
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("directory remains after Destroy (%v)", err)
	}
	if pidAlive(pid) {
		t.Errorf("postmaster %d alive after Destroy", pid)
	}
	if _, err := su.Exec(ctx(t), "SELECT 1").ReadAll(); err == nil {
		t.Error("a session of the destroyed instance still works")
	}
	if _, err := m.Acquire(ctx(t), p.ID()); !errors.Is(err, placement.ErrNotFound) {
		t.Errorf("Acquire after Destroy: %v, want ErrNotFound", err)
	}
	if err := m.Destroy(ctx(t), p.ID()); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := m.Destroy(ctx(t), "neverexisted"); err != nil {
		t.Errorf("Destroy of an unknown id: %v", err)
	}
	// Destroy of an unknown id still removes what is on disk.
	orphan := e.instanceDir(e.lay.DB("orphan000001"))
	if err := m.Destroy(ctx(t), "orphan000001"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(orphan); !os.IsNotExist(err) {
		t.Errorf("Destroy left an unknown id's directory (%v)", err)
	}
}

func TestManager_IdleTimeout(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.IdleTimeout = 500 * time.Millisecond
	m, _ := e.open(cfg, nil)
	idle := provision(t, m)
	start := time.Now() // idle's clock started at its Commit, just before
	held := provision(t, m)
	l := acquire(t, m, held.ID())
	waitFor(t, 10*time.Second, "the unleased instance to stop", func() bool { return !m.Running(idle.ID()) })
	if postgres.Alive(m.lay.DB(idle.ID()).Data) {
		t.Error("reaper forgot the instance but its postmaster runs")
	}
	if took := time.Since(start); took < 450*time.Millisecond {
		t.Errorf("idle instance stopped after %s, before its idle timeout", took)
	}
	// Several idle timeouts later the leased one still runs.
	time.Sleep(1500 * time.Millisecond)
	if !m.Running(held.ID()) {
		t.Fatal("the reaper stopped an instance held by a lease")
	}
	if got := query(t, superuser(t, l), "SELECT 1"); len(got) != 1 {
		t.Errorf("leased instance query: %v", got)
	}
	l.Release()
	waitFor(t, 10*time.Second, "the released instance to stop", func() bool { return !m.Running(held.ID()) })

	// A stopped instance starts again on demand.
	l = acquire(t, m, idle.ID())
	defer l.Release()
	if !m.Running(idle.ID()) {
		t.Error("Acquire did not start the reaped instance")
	}
}

func TestManager_Open_Spares(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	marker, err := os.ReadFile(filepath.Join(e.golden, "db9_golden_version"))
	if err != nil {
		t.Fatal(err)
	}
	const goodID, badID, halfID = "goodspare001", "badspare0001", "halfspare001"
	good := e.instanceDir(e.lay.Spare(goodID))
	if err := os.WriteFile(filepath.Join(good, "golden_version"), marker, 0o600); err != nil {
		t.Fatal(err)
	}
	bad := e.instanceDir(e.lay.Spare(badID))
	if err := os.WriteFile(filepath.Join(bad, "golden_version"), []byte("0123456789abcdef\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	half := e.instanceDir(e.lay.Spare(halfID + ".tmp"))
	if err := os.WriteFile(filepath.Join(half, "golden_version"), marker, 0o600); err != nil {
		t.Fatal(err)
	}
	noMarker := e.instanceDir(e.lay.Spare("nomarker0001"))

	m, _ := e.open(e.config(), nil) // SparePool 0: no new spares are made
	for _, gone := range []string{bad, half, noMarker} {
		if _, err := os.Stat(gone); !os.IsNotExist(err) {
			t.Errorf("Open kept unusable spare %s (%v)", filepath.Base(gone), err)
		}
	}
	if _, err := os.Stat(good); err != nil {
		t.Fatalf("Open removed the good spare: %v", err)
	}
	if _, spares := m.pool.sizes(); spares != 1 {
		t.Errorf("PoolSizes spares = %d, want 1", spares)
	}

	p := provision(t, m)
	if p.ID() != goodID {
		t.Errorf("Provision made %s, want the spare %s", p.ID(), goodID)
	}
	if _, err := os.Stat(good); !os.IsNotExist(err) {
		t.Errorf("spare directory remains after it was taken (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(m.lay.DB(goodID).Dir, "golden_version")); !os.IsNotExist(err) {
		t.Errorf("the spare marker came along into dbs/ (%v)", err)
	}
	l := acquire(t, m, goodID)
	defer l.Release()
	if got := query(t, superuser(t, l), "SELECT current_database()"); !cmp.Equal(got, [][]string{{"postgres"}}) {
		t.Errorf("instance from spare: %v", got)
	}
	// With the spare used, the next instance is a fresh copy.
	if p2 := provision(t, m); p2.ID() == goodID {
		t.Error("spare used twice")
	}
}

func TestManager_SparePool_Fills(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.SparePool = 2
	m, _ := e.open(cfg, nil)
	waitFor(t, 20*time.Second, "two spares", func() bool { _, s := m.pool.sizes(); return s == 2 })
	entries, _ := os.ReadDir(e.lay.Spares())
	var ids []string
	for _, d := range entries {
		ids = append(ids, d.Name())
	}
	if len(ids) != 2 {
		t.Fatalf("spare/ holds %v, want two spares", ids)
	}
	if got := postmastersUnder(e.lay.Spares()); len(got) != 0 {
		t.Errorf("spares run: %v", got)
	}
	p := provision(t, m)
	if p.ID() != ids[0] && p.ID() != ids[1] {
		t.Errorf("Provision made %s, not one of the spares %v", p.ID(), ids)
	}
	waitFor(t, 20*time.Second, "the spare pool to refill", func() bool { _, s := m.pool.sizes(); return s == 2 })
}

func TestManager_GoldenRoles(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p := provision(t, m)
	l := acquire(t, m, p.ID())
	defer l.Release()
	su := superuser(t, l)

	got := query(t, su, `SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls, r.rolcanlogin,
		(SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = 'postgres'),
		(SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = 'public')
		FROM pg_roles r WHERE r.rolname = 'admin'`)
	want := [][]string{{"f", "f", "f", "f", "t", "t", "admin", "admin"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("admin (super, createrole, createdb, replication, bypassrls, login, owner of postgres, owner of public) (-want +got):\n%s", diff)
	}
	got = query(t, su, `SELECT rolname, rolsuper::text FROM pg_roles WHERE rolname IN ('anon', 'authenticated', '_db9_sys_readonly', '_db9_super') ORDER BY rolname`)
	want = [][]string{{"_db9_super", "true"}, {"_db9_sys_readonly", "false"}, {"anon", "false"}, {"authenticated", "false"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("golden roles (-want +got):\n%s", diff)
	}
	got = query(t, su, `SELECT datname, datistemplate::text, datallowconn::text FROM pg_database ORDER BY datname`)
	want = [][]string{{"postgres", "false", "true"}, {"template1", "true", "true"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("databases of an instance (template0 dropped) (-want +got):\n%s", diff)
	}

	admin, err := l.Pool(placement.AdminRole)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx(t), "CREATE TABLE owned_by_admin (a int); INSERT INTO owned_by_admin VALUES (1), (2)"); err != nil {
		t.Fatalf("admin creates a table: %v", err)
	}
	ro, err := l.Pool(placement.ReadOnlyRole)
	if err != nil {
		t.Fatal(err)
	}
	var n int
	if err := ro.QueryRow(ctx(t), "SELECT count(*) FROM owned_by_admin").Scan(&n); err != nil || n != 2 {
		t.Errorf("read-only role reads admin's table: %d, %v", n, err)
	}
	for _, sql := range []string{
		"INSERT INTO owned_by_admin VALUES (3)",
		"SET default_transaction_read_only = off; INSERT INTO owned_by_admin VALUES (3)",
		"DELETE FROM owned_by_admin",
		"CREATE TABLE ro_made (a int)",
	} {
		_, err := ro.Exec(ctx(t), sql)
		var pe *pgconn.PgError
		if !errors.As(err, &pe) || (pe.Code != "42501" && pe.Code != "25006") {
			t.Errorf("read-only role: %s: error %v, want 42501 or 25006", sql, err)
		}
	}
	if err := admin.QueryRow(ctx(t), "SELECT count(*) FROM owned_by_admin").Scan(&n); err != nil || n != 2 {
		t.Errorf("table changed by the read-only role: %d rows, %v", n, err)
	}
}

func TestManager_Close(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.WarmPool = 1
	m := New(cfg)
	if _, err := m.Open(ctx(t), nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = m.Close(context.Background()) })
	waitFor(t, 20*time.Second, "a warm instance", func() bool { w, _ := m.pool.sizes(); return w == 1 })
	committed := provision(t, m) // takes the warm one
	waitFor(t, 20*time.Second, "the warm pool to refill", func() bool { w, _ := m.pool.sizes(); return w == 1 })
	uncommitted, err := m.Provision(ctx(t)) // a create in flight at shutdown
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the warm pool to refill", func() bool { w, _ := m.pool.sizes(); return w == 1 })

	entries, _ := os.ReadDir(e.lay.DBs())
	if len(entries) != 3 {
		t.Fatalf("dbs/ holds %d instances, want 3 (committed, uncommitted, warm)", len(entries))
	}
	var warmID string
	for _, d := range entries {
		if d.Name() != committed.ID() && d.Name() != uncommitted.ID() {
			warmID = d.Name()
		}
	}
	if got := postmastersUnder(e.dataDir); len(got) != 3 {
		t.Fatalf("postmasters before Close: %v, want 3", got)
	}

	if err := m.Close(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if got := postmastersUnder(e.dataDir); len(got) != 0 {
		t.Errorf("postmasters after Close: %v", got)
	}
	for id, wantKept := range map[string]bool{committed.ID(): true, uncommitted.ID(): false, warmID: false} {
		_, err := os.Stat(m.lay.DB(id).Dir)
		if kept := err == nil; kept != wantKept {
			t.Errorf("after Close, directory of %s kept = %v, want %v", id, kept, wantKept)
		}
	}
	if err := m.Close(ctx(t)); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := m.Provision(ctx(t)); !errors.Is(err, placement.ErrClosed) {
		t.Errorf("Provision after Close: %v, want ErrClosed", err)
	}
	if _, err := m.Acquire(ctx(t), committed.ID()); !errors.Is(err, placement.ErrClosed) {
		t.Errorf("Acquire after Close: %v, want ErrClosed", err)
	}

	// The committed instance survives a restart of the Manager.
	m2, missing := e.open(e.config(), map[string]bool{committed.ID(): true})
	if len(missing) != 0 {
		t.Errorf("missing after restart: %v", missing)
	}
	l := acquire(t, m2, committed.ID())
	defer l.Release()
	if got := query(t, superuser(t, l), "SELECT 1"); len(got) != 1 {
		t.Errorf("query after restart: %v", got)
	}
}

// TestManager_Supervise_RestartsCrashed checks that a postmaster that dies
// without being asked to is started again.
func TestManager_Supervise_RestartsCrashed(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p := provision(t, m)
	pid := m.sup.pid(p.ID())
	proc, err := os.FindProcess(pid)
	if err != nil {
		t.Fatal(err)
	}
	if err := proc.Kill(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 20*time.Second, "the supervisor to restart the instance", func() bool {
		n := m.sup.pid(p.ID())
		return n != 0 && n != pid
	})
	l := acquire(t, m, p.ID())
	defer l.Release()
	if got := query(t, superuser(t, l), "SELECT 1"); len(got) != 1 {
		t.Errorf("query after restart: %v", got)
	}
}

// A burst of creates that finds the warm pool empty grows it (one per
// miss, up to WarmPoolMax) so the next burst is served warm; after
// WarmDecay without a miss it shrinks back and the surplus instances stop.
func TestManager_WarmPool_GrowsAndShrinks(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.WarmPool, cfg.WarmPoolMax, cfg.WarmDecay = 1, 3, 2*time.Second
	m, _ := e.open(cfg, nil)
	waitFor(t, 20*time.Second, "one warm instance", func() bool { w, _ := m.pool.sizes(); return w == 1 })
	if got := m.pool.warmTarget(); got != 1 {
		t.Fatalf("WarmTarget before any miss = %d, want 1", got)
	}
	for i := 0; i < 4; i++ { // one warm hit, then misses (the refill is slower than this loop)
		provision(t, m)
	}
	if got := m.pool.warmTarget(); got < 2 || got > 3 {
		t.Fatalf("WarmTarget after a burst = %d, want 2..3 (grown, capped at WarmPoolMax)", got)
	}
	target := m.pool.warmTarget()
	waitFor(t, 30*time.Second, "the grown warm pool to fill", func() bool { w, _ := m.pool.sizes(); return w == target })
	waitFor(t, 30*time.Second, "the warm pool to shrink back", func() bool {
		w, _ := m.pool.sizes()
		return m.pool.warmTarget() == 1 && w == 1
	})
	// Four committed instances and one warm one run; the surplus warm ones stop.
	waitFor(t, 20*time.Second, "5 postmasters (4 committed + 1 warm)", func() bool {
		return len(postmastersUnder(e.lay.DBs())) == 5
	})
}

// A database that wrote a burst of WAL (a bulk load) and went quiet gets a
// base backup soon after, well below the WAL threshold, so moments after
// the load replay from a backup that holds it.
func TestBackupDue_AfterBurstWhenQuiet(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	store := &walarchive.Local{Root: e.lay.Archive(), Chown: e.runAs.Chown}
	cfg.Archive = &backup.Archiving{Store: store, Retention: 24 * time.Hour, BackupAfterWAL: 1 << 40, MaintainEvery: 100 * time.Millisecond}
	m, _ := e.open(cfg, nil)
	p := provision(t, m)
	l := acquire(t, m, p.ID())
	defer l.Release()
	c := superuser(t, l)
	query(t, c, "CREATE TABLE public.t AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 25000) g")
	query(t, c, "SELECT pg_switch_wal()")
	waitFor(t, 30*time.Second, "a base backup after the burst", func() bool {
		bs, err := store.ListBackups(context.Background(), p.ID())
		return err == nil && len(bs) >= 2 && bs[len(bs)-1].Golden == ""
	})
}

// TestDriver_Platform_UpgradesInPlace: a database made before the platform
// objects changed gets them when its instance next starts, once; a new
// database is born with them (the golden directory is rebuilt).
func TestDriver_Platform_UpgradesInPlace(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const oldID = "olddb0000001"
	old := e.lay.DB(oldID)
	e.instanceDir(old)
	set := platformsql.New(platformsql.Part{Name: "test", SQL: `CREATE TABLE IF NOT EXISTS _db9.upgraded (x int)`})
	cfg := e.config()
	cfg.Platform = set
	m, _ := e.open(cfg, map[string]bool{oldID: true})

	has := func(id string) string {
		l := acquire(t, m, id)
		defer l.Release()
		rows := query(t, superuser(t, l), `SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = '_db9' AND tablename = 'upgraded'`)
		return rows[0][0]
	}
	if got := has(oldID); got != "1" {
		t.Fatalf("existing database after its next start has the new objects: %s, want 1", got)
	}
	if got := postgres.ReadMarker(old.Data, postgres.PlatformMarker); got != set.Version() {
		t.Fatalf("marker = %q, want %q", got, set.Version())
	}
	p := provision(t, m)
	p.Commit()
	if got := has(p.ID()); got != "1" {
		t.Fatalf("new database has the objects: %s, want 1", got)
	}
}

// Peek holds a running instance without waking a stopped one, and its
// leases (taken again and again, as the scheduler does every tick) never
// restart the idle clock.
func TestManager_Peek(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := e.config()
	cfg.IdleTimeout = 700 * time.Millisecond
	m, _ := e.open(cfg, nil)
	p := provision(t, m)
	stopped := false
	deadline := time.Now().Add(15 * time.Second)
	for !stopped && time.Now().Before(deadline) {
		l, ok := m.Peek(p.ID())
		if ok {
			if got := query(t, superuser(t, l), "SELECT 1"); len(got) != 1 {
				t.Errorf("query through a peek: %v", got)
			}
			l.Release()
			l.Release() // idempotent
		}
		stopped = !m.Running(p.ID())
		time.Sleep(50 * time.Millisecond)
	}
	if !stopped {
		t.Fatal("peeking every 50ms kept an idle instance from stopping")
	}
	if _, ok := m.Peek(p.ID()); ok {
		t.Fatal("Peek gave a lease on a stopped instance")
	}
	if m.Running(p.ID()) {
		t.Fatal("Peek woke a stopped instance")
	}
}

// TestDriver_Start_SearchPathOfOlderRecipe: a database whose configuration
// predates extensions on the search path gets it at its next start.
func TestDriver_Start_SearchPathOfOlderRecipe(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	const id = "oldconf00001"
	cl := e.lay.DB(id)
	e.instanceDir(cl)
	conf := filepath.Join(cl.Data, "postgresql.conf")
	b, err := os.ReadFile(conf)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "search_path") {
			kept = append(kept, line)
		}
	}
	if err := os.WriteFile(conf, []byte(strings.Join(kept, "\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	m, _ := e.open(e.config(), map[string]bool{id: true})
	l := acquire(t, m, id)
	defer l.Release()
	conn, err := l.Connect(ctx(t), placement.AdminRole)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if got := query(t, conn, `SHOW search_path`)[0][0]; got != postgres.SearchPath {
		t.Fatalf("search_path = %q, want %q", got, postgres.SearchPath)
	}
}
