package instance_test

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

	"github.com/db9/db9/internal/instance"
	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/walarchive"
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
	e := newEnv(t)
	m, _ := e.open(e.config(), nil)
	p := provision(t, m)
	l := acquire(t, m, p.ID)
	defer l.Release()
	target := pgtest.TempDir(t)
	if err := e.runAs.Chown(target); err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithCancel(ctx(t))
	defer cancel()
	// Throttled so it is still running while the test looks at it.
	cmd := exec.CommandContext(c, e.bin.Path("pg_basebackup"), "-h", l.SocketDir(), "-p", "5432", "-U", instance.Superuser,
		"-D", filepath.Join(target, "b"), "-X", "stream", "-c", "fast", "--no-manifest", "-w", "--max-rate=32k")
	cmd.SysProcAttr = e.runAs.SysProcAttr()
	done := make(chan error, 1)
	pm := m.Pid(p.ID)
	go func() {
		out, err := instance.RunNice(cmd, pm)
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

// A database that wrote a burst of WAL (a bulk load) and went quiet gets a
// base backup soon after, well below the WAL threshold, so moments after
// the load replay from a backup that holds it.
func TestBackupDue_AfterBurstWhenQuiet(t *testing.T) {
	e := newEnv(t)
	cfg := e.config()
	store := &walarchive.Local{Root: filepath.Join(e.dataDir, "archive"), Chown: e.runAs.Chown}
	cfg.Archive = &instance.Archiving{Store: store, Retention: 24 * time.Hour, BackupAfterWAL: 1 << 40, MaintainEvery: 100 * time.Millisecond}
	m, _ := e.open(cfg, nil)
	p := provision(t, m)
	l := acquire(t, m, p.ID)
	defer l.Release()
	c := superuser(t, l)
	query(t, c, "CREATE TABLE public.t AS SELECT g, repeat('x', 1000) AS pad FROM generate_series(1, 25000) g")
	query(t, c, "SELECT pg_switch_wal()")
	waitFor(t, 30*time.Second, "a base backup after the burst", func() bool {
		bs, err := store.ListBackups(context.Background(), p.ID)
		return err == nil && len(bs) >= 2 && bs[len(bs)-1].Golden == ""
	})
}
