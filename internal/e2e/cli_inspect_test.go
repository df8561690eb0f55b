package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestCLI_InspectFigures runs `db9 db inspect summary|queries|table-sizes`
// against a server whose collector reads often.
func TestCLI_InspectFigures(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "--observe-interval", "300ms")
	u := newCLIUser(t, s)
	u.ok("create", "--name", "app")
	u.ok("sql", "app", "-q", "create table items (id int primary key, v text); insert into items select g, repeat('x', 100) from generate_series(1, 2000) g")
	for range 5 {
		u.ok("sql", "app", "-q", "select count(*) from items where id > 10")
	}
	var sum struct {
		StatementCount int64   `json:"statement_count"`
		LatencyP99MS   float64 `json:"latency_p99_ms"`
		DBStorageBytes int64   `json:"db_storage_bytes"`
	}
	waitFor(t, 30*time.Second, "the statements in the figures", func() bool {
		u.okJSON(&sum, "db", "inspect", "summary", "app")
		return sum.StatementCount >= 7
	})
	if sum.StatementCount != 7 || sum.DBStorageBytes <= 0 {
		t.Errorf("summary: %+v, want 7 statements and a size", sum)
	}
	if out := u.ok("db", "inspect", "summary", "app", "--window", "10m"); !regexp.MustCompile(`statements\s+7 `).MatchString(out) || !strings.Contains(out, "p99") {
		t.Errorf("inspect summary:\n%s", out)
	}
	out := u.ok("db", "inspect", "queries", "app")
	if !regexp.MustCompile(`(?m)^\s*5\s+\S+\s+\S+\s+5\s+select count\(\*\) from items where id > \$1`).MatchString(out) {
		t.Errorf("inspect queries:\n%s", out)
	}
	if out := u.ok("db", "inspect", "table-sizes", "app"); !regexp.MustCompile(`public\s+items\s+\d`).MatchString(out) {
		t.Errorf("inspect table-sizes:\n%s", out)
	}
	u.fails("", "db", "inspect", "summary", "app", "--window", "1s")
	if out := u.ok("db", "inspect", "queries", "app", "--slow", "--limit", "1"); strings.Count(strings.TrimSpace(out), "\n") != 1 {
		t.Errorf("inspect queries --limit 1:\n%s", out)
	}
}
