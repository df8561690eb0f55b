package e2e

import (
	"strings"
	"testing"
)

// TestCLI_Cron drives db9 db cron in both argument orders: create (and
// replace by name), list, disable/enable, history, delete, refusals.
func TestCLI_Cron(t *testing.T) {
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "cronapp")
	u.ok("db", "cron", "cronapp", "create", "--name", "nightly", "--schedule", "0 3 * * *", "--command", "select 1")
	u.ok("db", "cron", "create", "cronapp", "--name", "nightly", "--schedule", "@hourly", "--command", "select 2")
	var jobs []struct {
		JobID    int64  `json:"jobid"`
		JobName  string `json:"jobname"`
		Schedule string `json:"schedule"`
		Command  string `json:"command"`
		Username string `json:"username"`
		Active   bool   `json:"active"`
	}
	u.okJSON(&jobs, "db", "cron", "cronapp", "list", "--json")
	if len(jobs) != 1 || jobs[0].JobName != "nightly" || jobs[0].Schedule != "@hourly" || jobs[0].Command != "select 2" ||
		jobs[0].Username != "admin" || !jobs[0].Active {
		t.Fatalf("jobs = %+v, want nightly replaced by name", jobs)
	}
	u.ok("db", "cron", "cronapp", "disable", "nightly")
	u.okJSON(&jobs, "db", "cron", "list", "cronapp", "--json")
	if jobs[0].Active {
		t.Fatal("job still active after disable")
	}
	u.ok("db", "cron", "cronapp", "enable", "nightly")
	u.okJSON(&jobs, "db", "cron", "list", "cronapp", "--json")
	if !jobs[0].Active {
		t.Fatal("job not active after enable")
	}
	var runs []map[string]any
	u.okJSON(&runs, "db", "cron", "cronapp", "history", "nightly", "--json")
	if len(runs) != 0 {
		t.Fatalf("history of a job that never ran = %v", runs)
	}
	if out := u.fails("", "db", "cron", "cronapp", "create", "--name", "fast", "--schedule", "30 seconds", "--command", "select 1"); !strings.Contains(out, "seconds are not supported") {
		t.Errorf("seconds schedule: %q", out)
	}
	if out := u.fails("", "db", "cron", "cronapp", "create", "--name", "x"); !strings.Contains(out, "--schedule") {
		t.Errorf("missing flags: %q", out)
	}
	u.ok("db", "cron", "cronapp", "delete", "nightly")
	if out := u.fails("", "db", "cron", "cronapp", "delete", "nightly"); !strings.Contains(out, `no job "nightly"`) {
		t.Errorf("deleting again: %q", out)
	}
	if out := u.ok("db", "cron", "cronapp", "list"); strings.Contains(out, "nightly") {
		t.Errorf("list after delete:\n%s", out)
	}
}
