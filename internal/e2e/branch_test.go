package e2e

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/layout"
)

// Branch is the database object of a branch, as tests read it.
type Branch struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	State            string     `json:"state"`
	StateReason      *string    `json:"state_reason"`
	ParentDatabaseID *string    `json:"parent_database_id"`
	SnapshotAt       *time.Time `json:"snapshot_at"`
	CreatedAt        time.Time  `json:"created_at"`
}

// StartBranch asks for a branch and checks the 202 CLONING answer.
func (c *Client) StartBranch(parent, name string, at *time.Time) Branch {
	c.t.Helper()
	body := map[string]any{"name": name}
	if at != nil {
		body["snapshot_at"] = at.UTC().Format(time.RFC3339Nano)
	}
	var b Branch
	c.MustDo("POST", "/customer/databases/"+parent+"/branch", body, 202, &b)
	if b.State != "CLONING" || b.ParentDatabaseID == nil || b.SnapshotAt == nil {
		c.t.Fatalf("branch answer: %+v; want CLONING with parent_database_id and snapshot_at", b)
	}
	return b
}

// WaitBranch polls a branch until it leaves CLONING and returns it.
func (c *Client) WaitBranch(id string, timeout time.Duration) Branch {
	c.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		var b Branch
		c.MustDo("GET", "/customer/databases/"+id, nil, 200, &b)
		if b.State != "CLONING" {
			return b
		}
		if time.Now().After(deadline) {
			c.t.Fatalf("branch %s still CLONING after %s", id, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// BranchActive makes a branch and fails unless it becomes ACTIVE.
func (c *Client) BranchActive(parent, name string, at *time.Time) Branch {
	c.t.Helper()
	b := c.WaitBranch(c.StartBranch(parent, name, at).ID, 2*time.Minute)
	if b.State != "ACTIVE" {
		c.t.Fatalf("branch %s: %s (%v)", name, b.State, deref(b.StateReason))
	}
	return b
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

func ints(t *testing.T, r SQLResult) []int {
	t.Helper()
	out := make([]int, len(r.Rows))
	for i, row := range r.Rows {
		out[i] = int(row[0].(float64))
	}
	return out
}

func TestBranch_CarriesRolesUsersMigrations_OwnPassword(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	p := c.CreateDB("parent")
	c.MustSQL(p.ID, `CREATE TABLE items (id int PRIMARY KEY, name text); INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 100) g`)
	c.MustDo("POST", "/customer/databases/"+p.ID+"/users", map[string]any{"username": "reader", "password": "reader-pass-123"}, 201, nil)
	sql := "CREATE TABLE audit (id int)"
	sum := sha256.Sum256([]byte(sql))
	c.MustDo("POST", "/customer/databases/"+p.ID+"/migrations", map[string]any{"name": "0001_audit", "sql": sql, "checksum": hex.EncodeToString(sum[:])}, 201, nil)

	b := c.BranchActive(p.ID, "child", nil)
	if *b.ParentDatabaseID != p.ID || b.ID == p.ID {
		t.Fatalf("branch %+v: want its own id and parent %s", b, p.ID)
	}
	if got := ints(t, c.MustSQL(b.ID, "SELECT count(*) FROM items")); got[0] != 100 {
		t.Fatalf("branch holds %d items, want 100", got[0])
	}
	// The recovery settings are gone: from the configuration later starts
	// read, and (reloaded) from what the tenant sees.
	auto, err := os.ReadFile(filepath.Join((layout.Layout{DataDir: s.DataDir}).DB(b.ID).Data, "postgresql.auto.conf"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(auto), "recovery") || strings.Contains(string(auto), "restore_command") || strings.Contains(string(auto), "hot_standby") {
		t.Fatalf("branch's postgresql.auto.conf keeps recovery settings:\n%s", auto)
	}
	r := c.MustSQL(b.ID, "SELECT current_setting('restore_command') || '|' || current_setting('recovery_init_sync_method')")
	if got := r.Rows[0][0]; got != "|fsync" {
		t.Fatalf("branch's restore_command|recovery_init_sync_method = %q, want the defaults", got)
	}
	var users []userListed
	c.MustDo("GET", "/customer/databases/"+b.ID+"/users", nil, 200, &users)
	if !slices.ContainsFunc(users, func(u userListed) bool { return u.Username == "reader" }) {
		t.Fatalf("branch users %+v: want reader", users)
	}
	var migs []struct{ Name string }
	c.MustDo("GET", "/customer/databases/"+b.ID+"/migrations", nil, 200, &migs)
	if len(migs) != 1 || migs[0].Name != "0001_audit" {
		t.Fatalf("branch migrations %+v: want 0001_audit", migs)
	}
	// The user's password comes along; the admin password is the branch's own.
	frontDoor(t, s, b.ID+".reader", "reader-pass-123")
	var cred struct {
		AdminPassword string `json:"admin_password"`
	}
	c.MustDo("GET", "/customer/databases/"+b.ID+"/credentials", nil, 200, &cred)
	if cred.AdminPassword == "" || cred.AdminPassword == p.AdminPassword {
		t.Fatalf("branch admin password %q: want its own, not the parent's", cred.AdminPassword)
	}
	frontDoor(t, s, b.ID+".admin", cred.AdminPassword)
	if _, err := frontDoorTry(t, s, b.ID+".admin", p.AdminPassword); err == nil {
		t.Fatalf("the parent's admin password opens the branch")
	}
	frontDoor(t, s, p.ID+".admin", p.AdminPassword)
	// Writes on either side stay on that side.
	c.MustSQL(b.ID, "INSERT INTO items VALUES (1000, 'branch only')")
	c.MustSQL(p.ID, "DELETE FROM items WHERE id <= 50")
	if got := ints(t, c.MustSQL(b.ID, "SELECT count(*) FROM items")); got[0] != 101 {
		t.Fatalf("branch holds %d items after writes, want 101", got[0])
	}
	if got := ints(t, c.MustSQL(p.ID, "SELECT count(*) FROM items")); got[0] != 50 {
		t.Fatalf("parent holds %d items after writes, want 50", got[0])
	}
}

func TestBranch_Refusals(t *testing.T) {
	s := StartServer(t, "--anonymous-db-limit", "4")
	c := s.Anonymous()
	p := c.CreateDB("parent")
	// ~30 MB, so that clones take long enough to overlap.
	c.MustSQL(p.ID, `CREATE TABLE big AS SELECT g, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 100000) g`)
	var created Branch
	c.MustDo("GET", "/customer/databases/"+p.ID, nil, 200, &created)
	future := time.Now().Add(time.Hour)
	before := created.CreatedAt.Add(-time.Second)
	for _, tc := range []struct {
		name string
		body any
		want int
		code string
	}{
		{"future", map[string]any{"name": "x1", "snapshot_at": future.Format(time.RFC3339)}, 400, "invalid_request"},
		{"before creation", map[string]any{"name": "x2", "snapshot_at": before.Format(time.RFC3339Nano)}, 422, "unprocessable"},
		{"bad time", map[string]any{"name": "x3", "snapshot_at": "yesterday"}, 400, "invalid_request"},
		{"no name", map[string]any{}, 400, "invalid_request"},
		{"bad name", map[string]any{"name": "Bad Name"}, 400, "invalid_request"},
		{"name taken", map[string]any{"name": "parent"}, 409, "conflict"},
	} {
		code, body := c.Do("POST", "/customer/databases/"+p.ID+"/branch", tc.body)
		var e struct{ Code string }
		_ = json.Unmarshal(body, &e)
		if code != tc.want || e.Code != tc.code {
			t.Errorf("%s: %d %s; want %d %s", tc.name, code, body, tc.want, tc.code)
		}
	}
	c.MustDo("POST", "/customer/databases/nosuchdb/branch", map[string]any{"name": "x"}, 404, nil)

	// Two at once are allowed, a third is refused with 429 and Retry-After.
	b1 := c.StartBranch(p.ID, "b1", nil)
	b2 := c.StartBranch(p.ID, "b2", nil)
	code, body := c.Do("POST", "/customer/databases/"+p.ID+"/branch", map[string]any{"name": "b3"})
	if code != 429 {
		t.Fatalf("third concurrent branch: %d %s; want 429", code, body)
	}
	for _, id := range []string{b1.ID, b2.ID} {
		if b := c.WaitBranch(id, 2*time.Minute); b.State != "ACTIVE" {
			t.Fatalf("branch %s: %s %s", id, b.State, deref(b.StateReason))
		}
	}
	// Branches count in the anonymous quota (4 here: the parent, b1, b2, b3).
	c.BranchActive(p.ID, "b3", nil)
	code, body = c.Do("POST", "/customer/databases/"+p.ID+"/branch", map[string]any{"name": "b4"})
	if code != 403 {
		t.Fatalf("branch over the anonymous quota: %d %s; want 403", code, body)
	}
	// A CLONING database cannot be branched or queried yet.
	c.MustDo("DELETE", "/customer/databases/"+b1.ID, nil, 200, nil)
	b5 := c.StartBranch(p.ID, "b5", nil)
	if code, _ := c.Do("POST", "/customer/databases/"+b5.ID+"/branch", map[string]any{"name": "b6"}); code != 409 && code != 202 {
		t.Fatalf("branch of a CLONING branch: %d; want 409 (or 202 if it finished already)", code)
	}
	c.WaitBranch(b5.ID, 2*time.Minute)
}

func TestBranch_Retention(t *testing.T) {
	s := StartServer(t, "--pitr-retention", "2s")
	c := s.Anonymous()
	p := c.CreateDB("parent")
	c.MustSQL(p.ID, "CREATE TABLE t (i int); INSERT INTO t VALUES (1)")
	var created Branch
	c.MustDo("GET", "/customer/databases/"+p.ID, nil, 200, &created)
	time.Sleep(3 * time.Second)
	at := created.CreatedAt.Add(500 * time.Millisecond)
	code, body := c.Do("POST", "/customer/databases/"+p.ID+"/branch", map[string]any{"name": "old", "snapshot_at": at.Format(time.RFC3339Nano)})
	if code != 422 {
		t.Fatalf("branch outside the retention window: %d %s; want 422", code, body)
	}
	b := c.BranchActive(p.ID, "recent", nil)
	if got := ints(t, c.MustSQL(b.ID, "SELECT count(*) FROM t")); got[0] != 1 {
		t.Fatalf("branch holds %d rows, want 1", got[0])
	}
}

func TestBranch_OfBranch_SurvivesParentDelete(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	p := c.CreateDB("p")
	c.MustSQL(p.ID, "CREATE TABLE t (i int, src text); INSERT INTO t VALUES (1, 'p')")
	b := c.BranchActive(p.ID, "b", nil)
	c.MustSQL(b.ID, "INSERT INTO t VALUES (2, 'b')")
	mid := time.Now()
	time.Sleep(10 * time.Millisecond)
	c.MustSQL(b.ID, "INSERT INTO t VALUES (3, 'b')")
	c.MustDo("DELETE", "/customer/databases/"+p.ID, nil, 200, nil)
	if _, err := os.Stat(filepath.Join((layout.Layout{DataDir: s.DataDir}).Archive(), p.ID)); !os.IsNotExist(err) {
		t.Fatalf("archive of the deleted parent still exists (%v)", err)
	}
	// The branch works and can be branched, now and in its past, with its parent gone.
	cc := c.BranchActive(b.ID, "c", nil)
	cm := c.BranchActive(b.ID, "c-mid", &mid)
	for _, tc := range []struct {
		id   string
		want []int
	}{{b.ID, []int{1, 2, 3}}, {cc.ID, []int{1, 2, 3}}, {cm.ID, []int{1, 2}}} {
		if got := ints(t, c.MustSQL(tc.id, "SELECT i FROM t ORDER BY i")); !slices.Equal(got, tc.want) {
			t.Errorf("%s holds %v, want %v", tc.id, got, tc.want)
		}
	}
	// A branch of a branch of a branch, after a restart.
	s.Stop()
	s.Start()
	d := c.BranchActive(cc.ID, "d", nil)
	if got := ints(t, c.MustSQL(d.ID, "SELECT count(*) FROM t")); got[0] != 3 {
		t.Fatalf("third-generation branch holds %d rows, want 3", got[0])
	}
}

func TestBranch_CrashMidClone(t *testing.T) {
	s := StartServer(t, "--anonymous-db-limit", "100")
	c := s.Anonymous()
	p := c.CreateDB("p")
	c.MustSQL(p.ID, `CREATE TABLE big AS SELECT g, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 100000) g`)
	for i, stop := range []func(){s.Kill9, s.Stop} {
		b := c.StartBranch(p.ID, fmt.Sprintf("b%d", i), nil)
		time.Sleep(time.Duration(i*150) * time.Millisecond)
		stop()
		cut := strings.Count(s.Log(), "branch active") <= i
		resumed := strings.Count(s.Log(), "resuming interrupted branch")
		s.Start()
		if cut && strings.Count(s.Log(), "resuming interrupted branch") != resumed+1 {
			t.Fatalf("the branch was cut off but not resumed at the restart")
		}
		if i == 0 && !cut {
			t.Fatalf("the branch was finished before the crash: the test did not test a crash mid-clone")
		}
		got := c.WaitBranch(b.ID, 2*time.Minute)
		if got.State != "ACTIVE" {
			t.Fatalf("branch cut off by a crash/stop: %s %s; want ACTIVE after the restart", got.State, deref(got.StateReason))
		}
		if n := ints(t, c.MustSQL(b.ID, "SELECT count(*) FROM big")); n[0] != 100000 {
			t.Fatalf("branch holds %d rows, want 100000", n[0])
		}
	}
}

// A segment missing from the parent's archive (lost by the storage, say)
// fails the branch promptly and cleanly: CREATE_FAILED, nothing left
// running, never a branch waiting for WAL that will not come.
func TestBranch_ArchiveGap_Fails(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	p := c.CreateDB("p")
	// ~3 MB of WAL: three 1 MB segments, less than a scheduled backup waits for.
	c.MustSQL(p.ID, `CREATE TABLE t AS SELECT g, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 8000) g`)
	c.MustSQL(p.ID, `INSERT INTO t SELECT g, repeat(md5(g::text), 8) FROM generate_series(1, 8000) g`)
	wal := filepath.Join((layout.Layout{DataDir: s.DataDir}).Archive(), p.ID, "wal")
	var segs []string
	waitFor(t, 30*time.Second, "the parent's segments to be archived", func() bool {
		entries, _ := os.ReadDir(wal)
		segs = segs[:0]
		for _, e := range entries {
			if len(e.Name()) == 24 {
				segs = append(segs, e.Name())
			}
		}
		return len(segs) >= 3
	})
	if err := os.Remove(filepath.Join(wal, segs[len(segs)-2])); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	b := c.WaitBranch(c.StartBranch(p.ID, "b", nil).ID, 2*time.Minute)
	if b.State != "CREATE_FAILED" || b.StateReason == nil || *b.StateReason == "" {
		t.Fatalf("branch over an archive gap: %s %v; want CREATE_FAILED with a reason", b.State, deref(b.StateReason))
	}
	if d := time.Since(start); d > 20*time.Second {
		t.Errorf("the branch took %s to fail", d)
	}
	if dirs := s.instanceDirs(); dirs[b.ID] {
		t.Errorf("the failed branch left its instance directory behind: %v", dirs)
	}
	if pid := s.postmasterOf(b.ID); pid != 0 {
		t.Errorf("the failed branch left postmaster %d running", pid)
	}
}

// A parent deleted while its branch is being made: the branch ends either
// ACTIVE (it was done first, and then needs nothing of the parent) or
// CREATE_FAILED saying the parent was deleted — never stuck, nothing left.
func TestBranch_ParentDeletedMidClone(t *testing.T) {
	s := StartServer(t, "--anonymous-db-limit", "100")
	c := s.Anonymous()
	outcomes := map[string]int{}
	for i := range 3 {
		p := c.CreateDB(fmt.Sprintf("p%d", i))
		c.MustSQL(p.ID, `CREATE TABLE big AS SELECT g, repeat(md5(g::text), 8) AS pad FROM generate_series(1, 100000) g`)
		b := c.StartBranch(p.ID, fmt.Sprintf("b%d", i), nil)
		time.Sleep(time.Duration(i*5) * time.Millisecond)
		c.MustDo("DELETE", "/customer/databases/"+p.ID, nil, 200, nil)
		got := c.WaitBranch(b.ID, 2*time.Minute)
		outcomes[got.State]++
		switch got.State {
		case "ACTIVE":
			if n := ints(t, c.MustSQL(got.ID, "SELECT count(*) FROM big")); n[0] != 100000 {
				t.Errorf("branch %s of a deleted parent holds %d rows, want 100000", got.Name, n[0])
			}
		case "CREATE_FAILED":
			if r := deref(got.StateReason); r != "the parent database was deleted before the branch was made" {
				t.Errorf("branch %s: reason %q, want that the parent was deleted", got.Name, r)
			}
			if s.instanceDirs()[got.ID] || s.postmasterOf(got.ID) != 0 {
				t.Errorf("failed branch %s left its instance behind", got.Name)
			}
		default:
			t.Errorf("branch %s: %s", got.Name, got.State)
		}
	}
	t.Logf("outcomes: %v", outcomes)
}
