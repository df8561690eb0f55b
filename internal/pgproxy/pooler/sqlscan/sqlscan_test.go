package sqlscan

import "testing"

func TestScanSQL_Session(t *testing.T) {
	tests := []struct {
		sql, want string
	}{
		{"select 1", ""},
		{"SET search_path TO x", "SET"},
		{"set local work_mem = '8MB'", ""},
		{"SET TRANSACTION ISOLATION LEVEL SERIALIZABLE", ""},
		{"set constraints all deferred", ""},
		{"SET SESSION work_mem = '8MB'", "SET"},
		{"begin; set work_mem = '8MB'; commit", "SET"},
		{"reset all", "RESET"},
		{"LISTEN chan", "LISTEN"},
		{"unlisten *", ""},
		{"select pg_advisory_lock(1)", "pg_advisory_lock()"},
		{"select PG_TRY_ADVISORY_LOCK_SHARED(1)", "pg_try_advisory_lock_shared()"},
		{"select pg_advisory_xact_lock(1)", ""},
		{"select set_config('a.b', 'c', false)", "set_config()"},
		{"create temp table t (a int)", "CREATE TEMPORARY"},
		{"CREATE GLOBAL TEMPORARY TABLE t (a int)", "CREATE TEMPORARY"},
		{"create table temp (a int)", ""},
		{"prepare p as select 1", "PREPARE"},
		{"prepare transaction 'x'", ""},
		{"declare c cursor with hold for select 1", "DECLARE ... WITH HOLD"},
		{"declare c cursor for select 1", ""},
		{"/* set x = 1 */ select 1", ""},
		{"-- set x\nselect 1", ""},
		{"select 'set x = 1; listen y'", ""},
		{"select E'it\\'s; set x = 1'", ""},
		{`select "pg_advisory_lock" from t`, ""},
		{"select $$; set x = 1$$", ""},
		{"select $tag$ listen x $tag$, $1", ""},
		{"/* nested /* comment */ set */ select 1", ""},
		{"select 1; listen x", "LISTEN"},
		{"  \n\tSeT x=1", "SET"},
		{"select $1; set x = 1", "SET"},
	}
	for _, tt := range tests {
		if got := Scan(tt.sql).Session; got != tt.want {
			t.Errorf("Scan(%q).Session = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

func TestScanSQL_Dealloc(t *testing.T) {
	if e := Scan("DEALLOCATE ALL"); !e.DeallocAll {
		t.Error("DEALLOCATE ALL")
	}
	if e := Scan("discard all"); !e.DeallocAll {
		t.Error("DISCARD ALL")
	}
	if e := Scan("deallocate prepare s1"); !e.Dealloc || len(e.Deallocated) != 1 || e.Deallocated[0] != "s1" {
		t.Errorf("deallocate prepare s1: %+v", e)
	}
	if e := Scan(`deallocate "S1"`); !e.Dealloc || len(e.Deallocated) != 1 || e.Deallocated[0] != "S1" {
		t.Errorf(`deallocate "S1": %+v`, e)
	}
	if e := Scan(`DEALLOCATE Stmtcache_1; deallocate "a""b"`); len(e.Deallocated) != 2 || e.Deallocated[0] != "stmtcache_1" || e.Deallocated[1] != `a"b` {
		t.Errorf("two names: %+v", e)
	}
	if e := Scan(`deallocate "all"`); e.DeallocAll || len(e.Deallocated) != 1 || e.Deallocated[0] != "all" {
		t.Errorf(`deallocate "all" (a statement named all): %+v`, e)
	}
	if e := Scan("execute ps(1, 'x')"); len(e.Executed) != 1 || e.Executed[0] != "ps" || !e.NamesStatements() {
		t.Errorf("execute ps: %+v", e)
	}
	if e := Scan(`select "execute" from t; set "x" = 1`); len(e.Executed) != 0 || e.NamesStatements() || e.Session != "SET" {
		t.Errorf("quoted words are no keywords: %+v", e)
	}
	if e := Scan(`deallocate "unterminated`); len(e.Deallocated) != 1 || e.Deallocated[0] != "unterminated" {
		t.Errorf("unterminated quote: %+v", e)
	}
}

// FuzzScanSQL: any input is read without panic or hang.
func FuzzScanSQL(f *testing.F) {
	for _, s := range []string{"set x=1", "select $a$ x $a$", "/* /* */", "'", `"`, "$", "e'\\", "--", "select $1$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _ = Scan(s) })
}

// The scan of a plain query allocates nothing: it runs on every simple
// query of a parked client.
func TestScan_NoAllocs(t *testing.T) {
	q := "SELECT abalance FROM pgbench_accounts WHERE aid = 42;"
	if n := testing.AllocsPerRun(100, func() { _ = Scan(q) }); n != 0 {
		t.Errorf("Scan(%q): %v allocations, want 0", q, n)
	}
}
