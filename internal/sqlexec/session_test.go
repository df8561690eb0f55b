package sqlexec

import "testing"

func TestStatelessTag(t *testing.T) {
	for tag, want := range map[string]bool{
		"SELECT 1": true, "INSERT 0 3": true, "UPDATE 2": true, "DELETE 0": true, "BEGIN": true, "COMMIT": true,
		"START TRANSACTION": true, "SET": false, "RESET": false, "CREATE TABLE": false, "PREPARE": false,
		"DECLARE CURSOR": false, "LISTEN": false, "DO": false, "CALL": false, "DISCARD ALL": false, "": false,
	} {
		if got := statelessTag(tag); got != want {
			t.Errorf("statelessTag(%q) = %v, want %v", tag, got, want)
		}
	}
}

func TestMentionsSessionState(t *testing.T) {
	for sql, want := range map[string]bool{
		"select 1":                                     false,
		"select * from users where id = $1":            false,
		"SELECT SET_CONFIG('search_path', 'x', false)": true,
		"select pg_advisory_lock(1)":                   true,
		"create TEMPORARY table t (a int)":             true,
		"select * from pg_temp.t":                      true,
		"LISTEN ch":                                    true,
		"insert into t values (1)":                     false,
	} {
		if got := mentionsSessionState(sql); got != want {
			t.Errorf("mentionsSessionState(%q) = %v, want %v", sql, got, want)
		}
	}
}
