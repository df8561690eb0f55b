package instance

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/db9/db9/internal/walarchive"
)

// baseBackup takes a base backup of a running instance with pg_basebackup
// over its private socket (WAL streamed into the backup, so the backup is
// consistent on its own) and stores it in the instance's archive. The
// caller keeps the instance running (a lease, or it is not yet committed).
func (m *Manager) baseBackup(ctx context.Context, in *inst) (walarchive.Backup, error) {
	a := m.cfg.Archive
	start := time.Now()
	stage, err := a.Store.StagingDir(ctx, in.id)
	if err != nil {
		return walarchive.Backup{}, err
	}
	defer os.RemoveAll(stage)
	data := filepath.Join(stage, "data")
	cmd := exec.CommandContext(ctx, m.cfg.Bin.Path("pg_basebackup"),
		"-h", filepath.Join(in.dir, "s"), "-p", "5432", "-U", Superuser, "-D", data,
		"-X", "stream", "-c", "fast", "--no-manifest", "-w")
	cmd.SysProcAttr = m.cfg.RunAs.SysProcAttr()
	cmd.Env = []string{"LC_ALL=C.UTF-8", "TZ=UTC", "PGAPPNAME=db9-basebackup"}
	out, err := runNice(cmd, m.Pid(in.id))
	if err != nil {
		return walarchive.Backup{}, fmt.Errorf("pg_basebackup %s: %w: %s", in.id, err, strings.TrimSpace(string(out)))
	}
	label, err := os.ReadFile(filepath.Join(data, "backup_label"))
	if err != nil {
		return walarchive.Backup{}, fmt.Errorf("base backup %s: %w", in.id, err)
	}
	startWAL := labelStartWAL(string(label))
	if startWAL == "" {
		return walarchive.Backup{}, fmt.Errorf("base backup %s: no START WAL LOCATION in backup_label", in.id)
	}
	var size int64
	_ = filepath.WalkDir(data, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	// pg_basebackup returns once the end of the backup was streamed: the
	// backup is consistent at any time from now on.
	now := time.Now()
	b := walarchive.Backup{Name: walarchive.BackupName(now, startWAL), StartWAL: startWAL, Consistent: now, Bytes: size}
	if err := a.Store.PutBackup(ctx, in.id, b, data); err != nil {
		return walarchive.Backup{}, err
	}
	m.log.Info("base backup taken", "component", "instance", "db", in.id, "bytes", size, "ms", time.Since(start).Milliseconds())
	return b, nil
}

// backupNice is the CPU priority (nice value) of base backups: the
// pg_basebackup process and the walsenders serving it yield to the
// database's own sessions, so a backup slows down under load instead of
// taking throughput from the writers.
const backupNice = 15

// runNice runs cmd (a pg_basebackup of the instance whose postmaster is
// postmaster) at backupNice, renicing the walsenders that serve it as
// they appear, and returns its combined output.
func runNice(cmd *exec.Cmd, postmaster int) ([]byte, error) {
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	// pg_basebackup streams WAL from a forked child: on cancellation the
	// whole process group goes, and Wait does not wait on the child's
	// copy of the output pipe.
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Setpgid = true
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	_ = syscall.Setpriority(syscall.PRIO_PROCESS, cmd.Process.Pid, backupNice)
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	reniced := map[int]bool{}
	// Both walsenders connect within moments of the start; scanning /proc
	// for longer would cost more than it saves.
	scanUntil := time.Now().Add(5 * time.Second)
	for {
		select {
		case err := <-done:
			return out.Bytes(), err
		case <-tick.C:
			if postmaster <= 0 || len(reniced) >= 2 || time.Now().After(scanUntil) { // -X stream: one for the files, one for WAL
				continue
			}
			for _, pid := range walsenders(postmaster) {
				if !reniced[pid] {
					reniced[pid] = true
					_ = syscall.Setpriority(syscall.PRIO_PROCESS, pid, backupNice)
				}
			}
		}
	}
}

// walsenders lists the walsender processes of a postmaster.
func walsenders(postmaster int) []int { return children(postmaster, "postgres: walsender") }

// children lists the child processes of postmaster whose process title
// starts with prefix: from the kernel's list of its children where there is
// one (CONFIG_PROC_CHILDREN), else by a scan of every process.
func children(postmaster int, prefix string) []int {
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

// labelStartWAL extracts the segment name from backup_label's
// "START WAL LOCATION: 0/2000028 (file 000000010000000000000002)".
func labelStartWAL(label string) string {
	for _, line := range strings.Split(label, "\n") {
		if rest, ok := strings.CutPrefix(line, "START WAL LOCATION:"); ok {
			if i := strings.Index(rest, "(file "); i >= 0 {
				s := strings.TrimSuffix(strings.TrimSpace(rest[i+len("(file "):]), ")")
				if walarchive.IsSegment(s) {
					return s
				}
			}
		}
	}
	return ""
}

// maintainer takes base backups of running instances when enough WAL has
// piled up since their last one, and prunes history older than the
// retention window.
func (m *Manager) maintainer() {
	defer m.wg.Done()
	paces := map[string]backupPace{}
	a := m.cfg.Archive
	every := a.MaintainEvery
	if every <= 0 {
		every = 10 * time.Second
	}
	t := time.NewTicker(every)
	defer t.Stop()
	lastPrune := time.Time{}
	for {
		select {
		case <-m.quit:
			return
		case <-t.C:
		}
		m.backupDue(paces)
		if time.Since(lastPrune) >= max(every, time.Minute) || a.Retention < time.Hour {
			lastPrune = time.Now()
			m.prune()
		}
	}
}

// backupPace is when a database's last scheduled base backup ended and how
// long it took, and how many WAL segments past its last backup the
// archive held at the previous look.
type backupPace struct {
	end  time.Time
	took time.Duration
	segs int
}

// A database that wrote at least quietBackupWAL, and 1/quietBackupShare of
// its last base backup's size, of WAL since that backup and is quiet
// (under one segment since the previous look) is backed up at once, while
// nobody competes for the machine: after a bulk load, moments later than
// the load replay from a backup that already holds it, and under slow
// steady writes a branch at "now" replays minutes of WAL, not hours (10
// minutes of small transactions took ~85 ms to replay on a 100 MB
// database). A backup then costs at most quietBackupShare times the bytes
// of WAL it saves replaying.
const (
	quietBackupWAL   = 4 << 20
	quietBackupShare = 32
)

// resting reports whether the database's last scheduled backup ended less
// than backupDutyCycle times its duration before now.
func (p backupPace) resting(now time.Time) bool {
	return now.Sub(p.end) < backupDutyCycle*p.took
}

// backupDue decides whether a database needs a new base backup: last is
// its newest, n the WAL segments archived past it now, prev how many there
// were at the previous look (0: no previous look).
func (a *Archiving) backupDue(last walarchive.Backup, n, prev int, now time.Time) bool {
	wal := int64(n) * walSegmentBytes
	quiet := prev > 0 && n-prev <= 1
	// Replaying more WAL than the database's size costs more than
	// copying it; backing up more often than that costs the writers.
	return wal >= max(a.BackupAfterWAL, last.Bytes) ||
		(quiet && wal >= max(quietBackupWAL, last.Bytes/quietBackupShare)) ||
		(a.BackupMaxAge > 0 && n > 1 && now.Sub(last.Consistent) >= a.BackupMaxAge)
}

// backupDutyCycle bounds scheduled base backups of one database to about
// 1/backupDutyCycle of the wall clock: a backup reads and writes the whole
// database, so under steady writes (which make WAL fast) backing up as
// often as the WAL threshold alone allows would cost the writers a
// quarter of their throughput on 2 cores (measured: 3 backups of a 160 MB
// database within 20 s of pgbench).
const backupDutyCycle = 20

// backupDue backs up every running, committed instance whose archive has
// BackupAfterWAL bytes, and at least its last base backup's size, past it,
// or quietBackupWAL (and 1/quietBackupShare of its size) past it and went
// quiet, or whose last base backup is
// older than BackupMaxAge while it wrote WAL since — and whose last
// scheduled backup (paces) ended at least backupDutyCycle times its
// duration ago.
func (m *Manager) backupDue(paces map[string]backupPace) {
	a := m.cfg.Archive
	m.mu.Lock()
	var cands []*inst
	for _, in := range m.insts {
		if !in.warm && !in.deleted {
			cands = append(cands, in)
		}
	}
	m.mu.Unlock()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		select {
		case <-m.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	alive := map[string]bool{}
	for _, in := range cands {
		alive[in.id] = true
		pace := paces[in.id]
		if pace.resting(time.Now()) {
			continue
		}
		if !m.Running(in.id) {
			continue
		}
		bs, err := a.Store.ListBackups(ctx, in.id)
		if err != nil || len(bs) == 0 {
			continue
		}
		last := bs[len(bs)-1]
		names, err := a.Store.ListWAL(ctx, in.id)
		if err != nil {
			continue
		}
		n := walarchive.SegmentsAfter(names, last.StartWAL)
		due := a.backupDue(last, n, pace.segs, time.Now())
		pace.segs = n
		paces[in.id] = pace
		if !due || !m.holdIfRunning(in) {
			continue
		}
		start := time.Now()
		_, err = m.baseBackup(ctx, in)
		m.release(in)
		paces[in.id] = backupPace{end: time.Now(), took: time.Since(start)}
		if err != nil && ctx.Err() == nil {
			m.log.Warn("scheduled base backup", "component", "instance", "db", in.id, "err", err)
		}
	}
	for id := range paces {
		if !alive[id] {
			delete(paces, id)
		}
	}
}

// holdIfRunning takes a lease on a running, committed instance so it is
// not stopped for idleness meanwhile; it reports false when it is not running.
func (m *Manager) holdIfRunning(in *inst) bool {
	in.mu.Lock()
	defer in.mu.Unlock()
	m.mu.Lock()
	defer m.mu.Unlock()
	if in.pm == nil || in.deleted || in.warm || m.closed {
		return false
	}
	in.leases++
	return true
}

// prune applies the retention window to every archive and drops golden
// directories no backup refers to any more.
func (m *Manager) prune() {
	a := m.cfg.Archive
	ctx := context.Background()
	dbs, err := a.Store.Databases(ctx)
	if err != nil {
		m.log.Warn("prune archives", "component", "instance", "err", err)
		return
	}
	cutoff := time.Now().Add(-a.Retention)
	for _, db := range dbs {
		b, w, err := walarchive.Prune(ctx, a.Store, db, cutoff)
		if err != nil {
			m.log.Warn("prune archive", "component", "instance", "db", db, "err", err)
			continue
		}
		if b+w > 0 {
			m.log.Debug("pruned archive", "component", "instance", "db", db, "backups", b, "wal_files", w)
		}
	}
	if err := m.pruneGoldens(ctx); err != nil {
		m.log.Warn("prune golden directories", "component", "instance", "err", err)
	}
}

// EarliestRestorable returns the earliest moment a database's archive can
// restore to (zero when it has no base backup, or archiving is off).
func (m *Manager) EarliestRestorable(ctx context.Context, id string) (time.Time, error) {
	if !m.archiving() {
		return time.Time{}, nil
	}
	bs, err := m.cfg.Archive.Store.ListBackups(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	return walarchive.Earliest(bs), nil
}
