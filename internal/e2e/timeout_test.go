package e2e

import "testing"

// The SQL endpoint runs with the documented defaults (statement_timeout and
// idle_in_transaction_session_timeout 60 s), which a call may lower for
// itself, and a statement past its timeout answers with PostgreSQL's
// 57014 in the SQL error shape.
func TestSQL_StatementTimeout(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "--warm-pool", "1", "--spare-pool", "0")
	c := s.Anonymous()
	db := c.CreateDB("timeouts").ID
	r := c.MustSQL(db, "select current_setting('statement_timeout'), current_setting('idle_in_transaction_session_timeout')")
	if len(r.Rows) != 1 || r.Rows[0][0] != "1min" || r.Rows[0][1] != "1min" {
		t.Fatalf("defaults = %v, want [1min 1min]", r.Rows)
	}
	r = c.SQL(db, "SET statement_timeout = '100ms'; select pg_sleep(2)")
	if r.Error == nil || r.Error.Code != "57014" {
		t.Fatalf("sleep past a 100ms statement_timeout: rows %v, error %+v; want 57014", r.Rows, r.Error)
	}
	// The lowered timeout belonged to that call only.
	r = c.MustSQL(db, "select current_setting('statement_timeout')")
	if r.Rows[0][0] != "1min" {
		t.Fatalf("statement_timeout after a call that lowered it = %v, want 1min", r.Rows[0][0])
	}
}
