package pooler

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
		if got := scanSQL(tt.sql).session; got != tt.want {
			t.Errorf("scanSQL(%q).session = %q, want %q", tt.sql, got, tt.want)
		}
	}
}

func TestScanSQL_Dealloc(t *testing.T) {
	if e := scanSQL("DEALLOCATE ALL"); !e.deallocAll {
		t.Error("DEALLOCATE ALL")
	}
	if e := scanSQL("discard all"); !e.deallocAll {
		t.Error("DISCARD ALL")
	}
	if e := scanSQL("deallocate prepare s1"); !e.dealloc || len(e.deallocated) != 1 || e.deallocated[0] != "s1" {
		t.Errorf("deallocate prepare s1: %+v", e)
	}
	if e := scanSQL(`deallocate "S1"`); !e.dealloc || len(e.deallocated) != 1 || e.deallocated[0] != "S1" {
		t.Errorf(`deallocate "S1": %+v`, e)
	}
	if e := scanSQL(`DEALLOCATE Stmtcache_1; deallocate "a""b"`); len(e.deallocated) != 2 || e.deallocated[0] != "stmtcache_1" || e.deallocated[1] != `a"b` {
		t.Errorf("two names: %+v", e)
	}
	if e := scanSQL(`deallocate "all"`); e.deallocAll || len(e.deallocated) != 1 || e.deallocated[0] != "all" {
		t.Errorf(`deallocate "all" (a statement named all): %+v`, e)
	}
	if e := scanSQL("execute ps(1, 'x')"); len(e.executed) != 1 || e.executed[0] != "ps" || !e.namesStatements() {
		t.Errorf("execute ps: %+v", e)
	}
	if e := scanSQL(`select "execute" from t; set "x" = 1`); len(e.executed) != 0 || e.namesStatements() || e.session != "SET" {
		t.Errorf("quoted words are no keywords: %+v", e)
	}
	if e := scanSQL(`deallocate "unterminated`); len(e.deallocated) != 1 || e.deallocated[0] != "unterminated" {
		t.Errorf("unterminated quote: %+v", e)
	}
}

// FuzzScanSQL: any input is read without panic or hang.
func FuzzScanSQL(f *testing.F) {
	for _, s := range []string{"set x=1", "select $a$ x $a$", "/* /* */", "'", `"`, "$", "e'\\", "--", "select $1$"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) { _ = scanSQL(s) })
}
