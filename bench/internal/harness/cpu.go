package harness

import (
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// ClockTick is the unit of CPU times in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux this runs on).
const ClockTick = 10 * time.Millisecond

// SelfCPU is the user plus system CPU time this process has used so far.
func SelfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// PostmasterCPU is the CPU time used so far by a postmaster and its
// children: the running ones read one by one, the exited ones (already
// reaped by the postmaster) from the postmaster's cutime and cstime.
func PostmasterCPU(pm int) time.Duration {
	if pm <= 0 {
		return 0
	}
	var ticks int64
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range dirs {
		f := ProcStat(p)
		if len(f) < 15 {
			continue
		}
		pid, _ := strconv.Atoi(f[0])
		ppid, _ := strconv.Atoi(f[1])
		if pid != pm && ppid != pm {
			continue
		}
		// After the command: state ppid pgrp session tty tpgid flags minflt
		// cminflt majflt cmajflt utime stime cutime cstime.
		last := 12
		if pid == pm {
			last = 14
		}
		for _, s := range f[11 : last+1] {
			n, _ := strconv.ParseInt(s, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * ClockTick
}

// ProcStat returns the pid followed by the fields after the command name
// of a /proc/<pid>/stat file (the name may hold spaces and parentheses).
func ProcStat(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	s := string(b)
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < open {
		return nil
	}
	return append([]string{strings.TrimSpace(s[:open])}, strings.Fields(s[close+1:])[1:]...)
}

// Mallocs is the number of heap allocations this process has made so far.
func Mallocs() uint64 {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.Mallocs
}

// WorkersCPU is the CPU time used so far by the running child processes
// of this process that run this same binary: the in-process server's
// function workers (exited workers are not counted).
func WorkersCPU() time.Duration {
	self := os.Getpid()
	exe, _ := os.Readlink("/proc/self/exe")
	var ticks int64
	dirs, _ := filepath.Glob("/proc/[0-9]*/stat")
	for _, p := range dirs {
		f := ProcStat(p)
		if len(f) < 15 {
			continue
		}
		if ppid, _ := strconv.Atoi(f[1]); ppid != self {
			continue
		}
		if e, _ := os.Readlink(filepath.Join(filepath.Dir(p), "exe")); e != exe {
			continue
		}
		for _, s := range f[11:13] {
			n, _ := strconv.ParseInt(s, 10, 64)
			ticks += n
		}
	}
	return time.Duration(ticks) * ClockTick
}
