package backup

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgtest"
)

// niceOf reads a process's nice value from /proc/<pid>/stat (field 19).
func niceOf(pid int) (int, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 17 {
		return 0, false
	}
	n, err := strconv.Atoi(f[16])
	return n, err == nil
}

// A base backup runs at low CPU priority: pg_basebackup and the walsenders
// serving it, so the database's own sessions keep their throughput.
func TestRunNice_BackupYieldsCPU(t *testing.T) {
	bin, runAs := pgtest.Env(t)
	cl := pgtest.Start(t)
	target := pgtest.TempDir(t)
	if err := runAs.Chown(target); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	// Throttled so it is still running while the test looks at it.
	cmd := exec.CommandContext(c, bin.Path("pg_basebackup"), "-h", cl.SocketDir, "-p", strconv.Itoa(layout.Port), "-U", pgtest.Superuser,
		"-D", filepath.Join(target, "b"), "-X", "stream", "-c", "fast", "--no-manifest", "-w", "--max-rate=32k")
	cmd.SysProcAttr = runAs.SysProcAttr()
	done := make(chan error, 1)
	pm := cl.PM.Pid()
	go func() {
		out, err := runNice(cmd, pm)
		if err != nil && c.Err() == nil {
			err = fmt.Errorf("%w: %s", err, out)
		}
		done <- err
	}()
	waitFor(t, 20*time.Second, "pg_basebackup and two walsenders at nice 15", func() bool {
		select {
		case err := <-done:
			t.Fatalf("pg_basebackup ended early: %v", err)
		default:
		}
		pids, _ := exec.Command("pgrep", "-x", "pg_basebackup", "-P", strconv.Itoa(os.Getpid())).Output()
		if len(strings.Fields(string(pids))) != 1 {
			return false
		}
		bb, _ := strconv.Atoi(strings.TrimSpace(string(pids)))
		if n, ok := niceOf(bb); !ok || n != 15 {
			return false
		}
		senders := 0
		procs, _ := filepath.Glob("/proc/[0-9]*/cmdline")
		for _, p := range procs {
			b, err := os.ReadFile(p)
			if err != nil || !strings.HasPrefix(string(b), "postgres: walsender") {
				continue
			}
			pid, _ := strconv.Atoi(filepath.Base(filepath.Dir(p)))
			if ppid, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid)); !strings.Contains(string(ppid), fmt.Sprintf(" %d ", pm)) {
				continue
			}
			if n, ok := niceOf(pid); ok && n == 15 {
				senders++
			}
		}
		return senders == 2
	})
	cancel()
	<-done
	// The instance's own backends keep their normal priority.
	if n, ok := niceOf(pm); !ok || n != 0 {
		t.Fatalf("postmaster nice = %d, want 0", n)
	}
}

// waitFor polls cond until it holds or within passes.
func waitFor(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
