package e2e

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// sessionProbe reads, in one call, every kind of session state a call
// could leave behind. A fresh session answers the same as the baseline
// taken before any state was made. The column list is the check: a leak of
// any kind shows up in the row.
const sessionProbe = `SELECT
	current_setting('search_path') AS search_path,
	coalesce(current_setting('app.x', true), '') AS app_x,
	current_user::text AS role,
	to_regclass('pg_temp.tt') IS NOT NULL OR to_regclass('pg_temp.tt2') IS NOT NULL AS temp_tables,
	(SELECT count(*) FROM pg_prepared_statements WHERE name = 'p') AS prepared,
	(SELECT count(*) FROM pg_cursors) AS cursors,
	(SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()) AS advisory_locks,
	(SELECT count(*) FROM pg_listening_channels()) AS listening,
	now() <> statement_timestamp() AS in_transaction,
	pg_backend_pid() AS pid`

// probe runs sessionProbe and returns the state (without the pid) and the
// backend pid that answered.
func probe(t *testing.T, c *Client, db string) (state map[string]any, pid any) {
	t.Helper()
	r := c.MustSQL(db, sessionProbe)
	if len(r.Rows) != 1 || len(r.Rows[0]) != len(r.Columns) {
		t.Fatalf("probe: rows %v", r.Rows)
	}
	state = map[string]any{}
	for i, col := range r.Columns {
		state[col.Name] = r.Rows[0][i]
	}
	pid = state["pid"]
	delete(state, "pid")
	return state, pid
}

// A pooled connection is reset after the response has been sent, as a
// backend whose client went away releases its locks a moment after the
// disconnect; so locks taken by one call may be visible to the next call
// for that moment. A lock that outlives lockGrace was handed on.
const lockGrace = 2 * time.Second

// tryLocks checks that a call can take advisory locks 42 and 43, which the
// statements under test take as session locks.
func tryLocks(t *testing.T, c *Client, db, what string) {
	t.Helper()
	deadline := time.Now().Add(lockGrace)
	for !sqlBool(t, c, db, "select pg_try_advisory_lock(42) and pg_try_advisory_lock(43)") {
		if time.Now().After(deadline) {
			t.Fatalf("%s: an advisory lock is still held by another session after %s", what, lockGrace)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// noAdvisoryLocks checks that no session of the instance holds an advisory
// lock (after the grace of the asynchronous reset).
func noAdvisoryLocks(t *testing.T, c *Client, db, what string) {
	t.Helper()
	const q = "select count(*) from pg_locks where locktype = 'advisory'"
	deadline := time.Now().Add(lockGrace)
	for {
		n := sqlValue(t, c, db, q)
		if n == float64(0) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v advisory locks held by pooled sessions after %s", what, n, lockGrace)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestSession_StateDoesNotLeak checks that no session state made by one SQL
// call over HTTP is visible to the next calls, which run on the server's
// pooled connections: sequential calls mostly reuse the same few
// connections, so a connection handed on without its reset is found by the
// follow-up calls that land on it.
func TestSession_StateDoesNotLeak(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "--warm-pool", "1", "--spare-pool", "0")
	c := s.Anonymous()
	db := c.CreateDB("sessions").ID

	base, _ := probe(t, c, db)
	wantBase := map[string]any{
		"search_path": `"$user", public, extensions`, "app_x": "", "role": "admin", "temp_tables": false,
		"prepared": float64(0), "cursors": float64(0), "advisory_locks": float64(0),
		"listening": float64(0), "in_transaction": false,
	}
	if diff := cmp.Diff(wantBase, base); diff != "" {
		t.Fatalf("baseline of a fresh session (-want +got):\n%s", diff)
	}

	statements := []string{
		`SET search_path TO foo`,
		`select set_config('app.x','1',false)`,
		`create temp table tt(a int)`,
		`prepare p as select 1`,
		`select pg_advisory_lock(42)`,
		`LISTEN ch`,
		`BEGIN`,
		// Variants whose command tag alone looks harmless or that change
		// other session state.
		`create temp table tt2 as select 1 as a`,
		`select set_config('search_path', 'foo', false)`,
		`SET ROLE anon`,
		`select set_config('role', 'anon', false)`,
		`DECLARE c CURSOR WITH HOLD FOR SELECT 1`,
		`select pg_try_advisory_lock(43)`,
		`BEGIN; SET LOCAL search_path TO foo; select set_config('app.x', '2', false)`,
		`UPDATE pg_settings SET setting = 'foo' WHERE name = 'search_path'`,
		`select U&"\0073et_config"('app.x','1',false)`,
		// State set where the calling SQL cannot show it: in a function body.
		`DO $$ BEGIN PERFORM set_config('app.x', '3', false); SET search_path TO foo; END $$`,
	}
	const followUps = 20
	reused := 0 // follow-ups that ran on the connection that made the state
	for _, stmt := range statements {
		for _, withPid := range []bool{false, true} {
			name := stmt
			if withPid {
				name += " +pid"
			}
			t.Run(name, func(t *testing.T) {
				c := bindClient(t, c)
				sql := stmt
				if withPid {
					// The same statement, followed by a statement that
					// names the connection, to count follow-ups that reuse it.
					sql += "; select pg_backend_pid()"
				}
				r := c.SQL(db, sql)
				if r.Error != nil {
					t.Fatalf("%s: %s (%s) — state of an earlier call in the way?", sql, r.Error.Message, r.Error.Code)
				}
				var statePid any
				if withPid && len(r.Rows) == 1 && len(r.Rows[0]) == 1 {
					statePid = r.Rows[0][0]
				}
				for i := range followUps {
					got, pid := probe(t, c, db)
					if diff := cmp.Diff(base, got); diff != "" {
						t.Fatalf("follow-up %d after %q (backend %v; state made on %v) sees session state (-fresh +got):\n%s", i, sql, pid, statePid, diff)
					}
					if statePid != nil && pid == statePid {
						reused++
					}
					// Another call can take the locks the statement took.
					tryLocks(t, c, db, fmt.Sprintf("follow-up %d after %q", i, sql))
					assertSelect1(t, c, db)
				}
				noAdvisoryLocks(t, c, db, fmt.Sprintf("after %q", sql))
			})
		}
	}
	// Without reuse the test proves nothing: make sure follow-ups did land on
	// connections that had made state (and were reset in between).
	if reused == 0 {
		t.Errorf("no follow-up ran on a connection that had made session state; the test has lost its power")
	}
	t.Logf("%d follow-ups ran on the connection that made the state", reused)
}

// TestSession_SequenceStateDoesNotLeak: lastval() after an insert into a
// serial column belongs to that call's session only.
func TestSession_SequenceStateDoesNotLeak(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "--warm-pool", "1", "--spare-pool", "0")
	c := s.Anonymous()
	db := c.CreateDB("seqs").ID
	c.MustSQL(db, "create table seqt (id serial primary key)")
	c.MustSQL(db, "insert into seqt default values")
	for i := 0; i < 20; i++ {
		r := c.SQL(db, "select lastval()")
		if r.Error == nil || r.Error.Code != "55000" {
			t.Fatalf("call %d: lastval() in a new call = %v, error %+v; want 55000 (not yet defined in this session)", i, r.Rows, r.Error)
		}
	}
}
