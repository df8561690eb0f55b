package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/layout"
)

// assertNotFound checks a 404 with the API's JSON error body.
func assertNotFound(t *testing.T, what string, code int, body []byte) {
	t.Helper()
	if code != 404 {
		t.Errorf("%s: status %d, want 404: %s", what, code, body)
		return
	}
	var e struct {
		Message *string `json:"message"`
		Code    string  `json:"code"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Errorf("%s: body is not JSON: %s", what, body)
		return
	}
	if e.Message == nil || *e.Message == "" || e.Code != "not_found" {
		t.Errorf("%s: body %s, want {message, code: not_found}", what, body)
	}
}

// assertSelect1 runs "select 1" on db (id or name) and checks the answer.
func assertSelect1(t *testing.T, c *Client, db string) {
	t.Helper()
	r := c.MustSQL(db, "select 1")
	if len(r.Rows) != 1 || len(r.Rows[0]) != 1 || r.Rows[0][0] != float64(1) {
		t.Fatalf("select 1 on %s: rows %v, want [[1]]", db, r.Rows)
	}
}

func TestServer_CreateSQLDelete(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous()

	db := c.CreateDB("life")
	if db.State != "ACTIVE" || len(db.ID) != 12 || db.AdminPassword == "" {
		t.Fatalf("created %+v", db)
	}
	assertSelect1(t, c, db.ID)
	assertSelect1(t, c, "life")

	cl := (layout.Layout{DataDir: s.DataDir}).DB(db.ID)
	dir := cl.Dir
	if _, err := os.Stat(filepath.Join(cl.Data, "PG_VERSION")); err != nil {
		t.Fatalf("instance directory of a new database: %v", err)
	}
	if s.postmasterOf(db.ID) == 0 {
		t.Fatalf("no postmaster on %s after SQL", dir)
	}

	var msg map[string]any
	c.MustDo("DELETE", "/customer/databases/"+db.ID, nil, 200, &msg)
	if msg["message"] != "Database disabled" {
		t.Fatalf("delete answered %v", msg)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("instance directory %s still exists after delete (stat: %v)", dir, err)
	}
	if pid := s.postmasterOf(db.ID); pid != 0 {
		t.Errorf("postmaster %d on %s still runs after delete", pid, dir)
	}
	for _, ref := range []string{db.ID, "life"} {
		code, body := c.Do("GET", "/customer/databases/"+ref, nil)
		assertNotFound(t, "GET "+ref, code, body)
		code, body = c.Do("POST", "/customer/databases/"+ref+"/sql", map[string]any{"query": "select 1"})
		assertNotFound(t, "sql "+ref, code, body)
		code, body = c.Do("DELETE", "/customer/databases/"+ref, nil)
		assertNotFound(t, "DELETE "+ref, code, body)
		code, body = c.Do("GET", "/customer/databases/"+ref+"/credentials", nil)
		assertNotFound(t, "credentials "+ref, code, body)
	}
	for _, d := range c.ListDBs(true) {
		if d.ID == db.ID {
			t.Errorf("deleted database %s still listed", db.ID)
		}
	}

	again := c.CreateDB("life")
	if again.ID == db.ID {
		t.Fatalf("re-created database got the deleted one's id %s", db.ID)
	}
	assertSelect1(t, c, "life")
	assertSelect1(t, c, again.ID)
	if got := c.ListDBs(false); len(got) != 1 || got[0].ID != again.ID {
		t.Fatalf("list after re-create: %+v, want only %s", got, again.ID)
	}
}

func TestServer_IdleStopAndWake(t *testing.T) {
	t.Parallel()
	const idle = 2 * time.Second
	s := StartServer(t, "--idle-timeout", "2s")
	c := s.Anonymous()

	used := c.CreateDB("used")
	unused := c.CreateDB("unused")
	c.MustSQL(used.ID, "create table t (v int); insert into t select generate_series(1, 100)")
	lastUse := time.Now()
	if s.postmasterOf(used.ID) == 0 {
		t.Fatal("no postmaster right after an SQL call")
	}
	time.Sleep(idle / 2)
	if time.Since(lastUse) < idle*3/4 && s.postmasterOf(used.ID) == 0 {
		t.Fatalf("instance stopped after %s, before the idle timeout of %s", time.Since(lastUse), idle)
	}
	waitFor(t, 10*time.Second, "idle instance of the used database to stop", func() bool { return s.postmasterOf(used.ID) == 0 })
	if d := time.Since(lastUse); d < idle {
		t.Fatalf("instance stopped after %s, before the idle timeout of %s", d, idle)
	}
	waitFor(t, 10*time.Second, "never-used database's instance to stop", func() bool { return s.postmasterOf(unused.ID) == 0 })

	// Stopped is an instance state, not a database state.
	var got Database
	c.MustDo("GET", "/customer/databases/"+used.ID, nil, 200, &got)
	if got.State != "ACTIVE" {
		t.Fatalf("stopped database state %q, want ACTIVE", got.State)
	}

	r := c.MustSQL(used.ID, "select count(*), sum(v) from t")
	if fmt.Sprint(r.Rows) != "[[100 5050]]" {
		t.Fatalf("after wake: rows %v, want [[100 5050]]", r.Rows)
	}
	if s.postmasterOf(used.ID) == 0 {
		t.Fatal("no postmaster after the waking SQL call")
	}
	assertSelect1(t, c, unused.ID)

	// And it goes to sleep again, and wakes again.
	waitFor(t, 10*time.Second, "woken instance to stop again", func() bool { return s.postmasterOf(used.ID) == 0 })
	r = c.MustSQL(used.ID, "select count(*) from t")
	if r.Rows[0][0] != float64(100) {
		t.Fatalf("after second wake: rows %v", r.Rows)
	}
}

func TestAdminCustomerCreate(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	catalogData := (layout.Layout{DataDir: s.DataDir}).Catalog().Data

	create := func(email string) (stdout, stderr string, code int) {
		return runDB9(t, "admin", "customer", "create", "--email", email, "--data-dir", s.DataDir, "--json")
	}
	type created struct {
		CustomerID string `json:"customer_id"`
		Email      string `json:"email"`
		Token      string `json:"token"`
	}
	parse := func(stdout string) created {
		t.Helper()
		var out created
		if err := json.Unmarshal([]byte(stdout), &out); err != nil || out.Token == "" || out.CustomerID == "" {
			t.Fatalf("admin customer create printed %q (%v)", stdout, err)
		}
		return out
	}
	checkMe := func(token, email, id, newDB string) {
		t.Helper()
		c := s.Client()
		c.Token = token
		var me struct {
			ID          string  `json:"id"`
			Email       *string `json:"email"`
			IsAnonymous *bool   `json:"is_anonymous"`
			Status      string  `json:"status"`
		}
		c.MustDo("GET", "/customer/me", nil, 200, &me)
		if me.ID != id || me.Email == nil || *me.Email != email || me.IsAnonymous == nil || *me.IsAnonymous || me.Status != "active" {
			t.Fatalf("GET /customer/me = %+v, want id %s, email %s, is_anonymous false", me, id, email)
		}
		if newDB != "" {
			c.CreateDB(newDB)
		}
	}

	// While the server runs on the data directory.
	stdout, stderr, code := create("a@b.c")
	if code != 0 {
		t.Fatalf("admin customer create (server running): exit %d: %s", code, stderr)
	}
	live := parse(stdout)
	if live.Email != "a@b.c" {
		t.Fatalf("printed email %q", live.Email)
	}
	checkMe(live.Token, "a@b.c", live.CustomerID, "live")
	if len(postmasters(catalogData)) != 1 {
		t.Fatalf("catalog postmasters while the server runs: %v, want exactly the server's", postmasters(catalogData))
	}

	// Duplicate email: exit 1 and one line of error.
	_, stderr, code = create("a@b.c")
	if code != 1 || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 || !strings.Contains(stderr, "a@b.c") {
		t.Fatalf("duplicate email: exit %d, stderr %q; want exit 1 and one line naming the email", code, stderr)
	}

	// While the server is stopped: the command runs the catalog itself and
	// stops it again.
	s.Stop()
	stdout, stderr, code = create("off@b.c")
	if code != 0 {
		t.Fatalf("admin customer create (server stopped): exit %d: %s", code, stderr)
	}
	offline := parse(stdout)
	if pms := postmasters(s.DataDir); len(pms) != 0 {
		t.Fatalf("postmasters left behind by admin customer create: %v", pms)
	}
	_, stderr, code = create("off@b.c")
	if code != 1 || strings.Count(strings.TrimRight(stderr, "\n"), "\n") != 0 {
		t.Fatalf("duplicate email (server stopped): exit %d, stderr %q", code, stderr)
	}
	if pms := postmasters(s.DataDir); len(pms) != 0 {
		t.Fatalf("postmasters left behind by a failed admin customer create: %v", pms)
	}
	s.Start()
	checkMe(offline.Token, "off@b.c", offline.CustomerID, "offline")
	checkMe(live.Token, "a@b.c", live.CustomerID, "")
}
