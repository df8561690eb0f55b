package backup

import (
	"bytes"
	"context"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/postgres"
	"github.com/db9/db9/internal/walarchive"
)

// Source is the running instance a base backup is taken of.
type Source struct {
	ID        string // the database id, naming its archive
	SocketDir string // where it listens (pg_basebackup connects as postgres.Superuser)
	// Postmaster is its postmaster's pid, whose walsenders serving the
	// backup are reniced with it; 0 when unknown (they are not).
	Postmaster int
}

// Take takes a base backup of a running instance with pg_basebackup over
// its private socket (WAL streamed into the backup, so the backup is
// consistent on its own) and stores it in its archive. The caller keeps
// the instance running meanwhile.
func (a *Archiving) Take(ctx context.Context, bin pgbin.Bin, runAs pgbin.RunAs, src Source, log *slog.Logger) (walarchive.Backup, error) {
	start := time.Now()
	id := src.ID
	stage, err := a.Store.StagingDir(ctx, id)
	if err != nil {
		return walarchive.Backup{}, err
	}
	defer os.RemoveAll(stage)
	data := filepath.Join(stage, "data")
	cmd := exec.CommandContext(ctx, bin.Path("pg_basebackup"),
		"-h", src.SocketDir, "-p", strconv.Itoa(layout.Port), "-U", postgres.Superuser, "-D", data,
		"-X", "stream", "-c", "fast", "--no-manifest", "-w")
	cmd.SysProcAttr = runAs.SysProcAttr()
	cmd.Env = []string{"LC_ALL=C.UTF-8", "TZ=UTC", "PGAPPNAME=db9-basebackup"}
	out, err := runNice(cmd, src.Postmaster)
	if err != nil {
		return walarchive.Backup{}, fmt.Errorf("pg_basebackup %s: %w: %s", id, err, strings.TrimSpace(string(out)))
	}
	label, err := os.ReadFile(filepath.Join(data, "backup_label"))
	if err != nil {
		return walarchive.Backup{}, fmt.Errorf("base backup %s: %w", id, err)
	}
	startWAL := labelStartWAL(string(label))
	if startWAL == "" {
		return walarchive.Backup{}, fmt.Errorf("base backup %s: no START WAL LOCATION in backup_label", id)
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
	if err := a.Store.PutBackup(ctx, id, b, data); err != nil {
		return walarchive.Backup{}, err
	}
	log.Info("base backup taken", logkey.DB, id, logkey.Bytes, size, logkey.Ms, time.Since(start).Milliseconds())
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
func walsenders(postmaster int) []int { return postgres.Children(postmaster, "postgres: walsender") }

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
