package postgres

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// KillStale ends a postmaster that still runs on dataDir from an earlier
// life of the server (normally the parent-death signal already did).
func KillStale(dataDir string) error {
	pid := PostmasterPid(dataDir)
	if pid == 0 || !isPostgresOn(pid, dataDir) {
		return nil
	}
	_ = syscall.Kill(pid, syscall.SIGQUIT)
	for i := 0; i < 500; i++ {
		if syscall.Kill(pid, 0) != nil {
			return nil
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = syscall.Kill(-pid, syscall.SIGKILL)
	_ = syscall.Kill(pid, syscall.SIGKILL)
	return nil
}

// isPostgresOn reports whether pid is a postgres process whose command line
// names dataDir, so a recycled pid is never signalled.
func isPostgresOn(pid int, dataDir string) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	args := strings.Split(string(b), "\x00")
	if len(args) == 0 || filepath.Base(args[0]) != "postgres" && !strings.HasPrefix(filepath.Base(args[0]), "postgres") {
		return false
	}
	for i, a := range args {
		if a == "-D" && i+1 < len(args) && filepath.Clean(args[i+1]) == filepath.Clean(dataDir) {
			return true
		}
	}
	return false
}

// Alive reports whether a postgres process runs on dataDir,
// according to its postmaster.pid and /proc.
func Alive(dataDir string) bool {
	pid := PostmasterPid(dataDir)
	return pid != 0 && isPostgresOn(pid, dataDir)
}

// Children lists the child processes of postmaster whose process title
// starts with prefix: from the kernel's list of its children where there is
// one (CONFIG_PROC_CHILDREN), else by a scan of every process.
func Children(postmaster int, prefix string) []int {
	pm := strconv.Itoa(postmaster)
	var pids []int
	if list, err := os.ReadFile(filepath.Join("/proc", pm, "task", pm, "children")); err == nil {
		for _, f := range strings.Fields(string(list)) {
			if cmdline, err := os.ReadFile(filepath.Join("/proc", f, "cmdline")); err == nil && bytes.HasPrefix(cmdline, []byte(prefix)) {
				if pid, err := strconv.Atoi(f); err == nil {
					pids = append(pids, pid)
				}
			}
		}
		return pids
	}
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after ')'.
		i := bytes.LastIndexByte(stat, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(stat[i+1:]))
		if len(f) < 2 || f[1] != pm {
			continue
		}
		if cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline")); err == nil && bytes.HasPrefix(cmdline, []byte(prefix)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// PostmasterPid reads the postmaster's pid from a data directory's
// postmaster.pid (0 when there is none).
func PostmasterPid(dataDir string) int {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
