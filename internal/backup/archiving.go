package backup

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/walarchive"
)

// Archiving configures continuous WAL archiving, base backups and
// point-in-time restore. With it every instance runs with archive_mode=on
// and stores its WAL under its own database id.
type Archiving struct {
	// Store holds WAL and base backups; Root is its local directory, which
	// the archive and restore commands are given.
	Store *walarchive.Local
	// Exe is the db9 binary whose hidden wal-archive subcommand
	// PostgreSQL runs when basic_archive is unavailable; the OS user of
	// postgres must reach it.
	Exe string
	// Retention is the point-in-time window: older history is pruned.
	Retention time.Duration
	// BackupAfterWAL takes a new base backup of a running instance once
	// this much WAL (bytes) was archived since its last one, so replay
	// stays short; BackupMaxAge does so when the last one is older.
	BackupAfterWAL int64
	BackupMaxAge   time.Duration
	// MaintainEvery is how often backups and pruning are considered.
	MaintainEvery time.Duration
	// StageWAL is how much WAL a restore stages into the new data
	// directory ahead of replay (replayed in standby mode, no process per
	// segment). 0 means 256 MB; negative: never staged, WAL is fetched
	// segment by segment with restore_command.
	StageWAL int64
}

// StageLimit is StageWAL with its default applied.
func (a *Archiving) StageLimit() int64 {
	if a.StageWAL == 0 {
		return 256 << 20
	}
	return a.StageWAL
}

// WALSegmentBytes is the WAL segment size of every instance (initdb --wal-segsize).
const WALSegmentBytes = 1 << 20

// InstanceSettings are the settings (passed as -c flags at start) that
// archive database id's WAL into its own archive. rel turns a path into
// one relative to the instance's data directory: settings are readable by
// the tenant and must not name the host's layout.
func (a *Archiving) InstanceSettings(id string, rel func(string) string, log *slog.Logger) map[string]string {
	// PostgreSQL's own basic_archive module writes each segment to a
	// temporary file and renames it durably (fsync of file and directory)
	// into the archive, refusing to replace a segment with other content:
	// the guarantees of wal-archive, without a process started per segment
	// (which costs writers a measurable part of their throughput).
	dir, err := a.Store.EnsureWALDir(id)
	if err == nil {
		return map[string]string{
			"archive_mode":                    "on",
			"archive_library":                 "basic_archive",
			"basic_archive.archive_directory": rel(dir),
		}
	}
	log.Warn("create WAL archive directory; falling back to archive_command", logkey.DB, id, logkey.Err, err)
	return map[string]string{
		"archive_mode":    "on",
		"archive_command": walarchive.ArchiveCommand(rel(a.Exe), rel(a.Store.Root), id),
	}
}

// WaitArchived waits until segment seg of database id is in the archive.
func (a *Archiving) WaitArchived(ctx context.Context, id, seg string) error {
	// The archiver stores a segment within a few ms of the switch; a stat
	// every 2 ms at most finds it without adding a coarse poll's delay to
	// every branch.
	delay := 500 * time.Microsecond
	deadline := time.Now().Add(2 * time.Minute)
	for {
		ok, err := a.Store.HasWAL(ctx, id, seg)
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("WAL segment %s of %s not archived after 2 minutes", seg, id)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*2, 2*time.Millisecond)
	}
}

// Earliest is the earliest moment database id's archive can restore to
// (zero when it has no base backup).
func (a *Archiving) Earliest(ctx context.Context, id string) (time.Time, error) {
	bs, err := a.Store.ListBackups(ctx, id)
	if err != nil {
		return time.Time{}, err
	}
	return walarchive.Earliest(bs), nil
}

// Prune applies the retention window to every archive.
func (a *Archiving) Prune(ctx context.Context, log *slog.Logger) {
	dbs, err := a.Store.Databases(ctx)
	if err != nil {
		log.Warn("prune archives", logkey.Err, err)
		return
	}
	cutoff := time.Now().Add(-a.Retention)
	for _, db := range dbs {
		b, w, err := walarchive.Prune(ctx, a.Store, db, cutoff)
		if err != nil {
			log.Warn("prune archive", logkey.DB, db, logkey.Err, err)
			continue
		}
		if b+w > 0 {
			log.Debug("pruned archive", logkey.DB, db, logkey.Backups, b, logkey.WALFiles, w)
		}
	}
}

// ReachableExe returns a path of the db9 binary exe that the OS user of
// postgres can execute (archive_command and restore_command run as that
// user): exe itself when reachable, else a copy in binDir.
func ReachableExe(runAs pgbin.RunAs, exe, binDir string) (string, error) {
	if runAs.CheckReachable(exe) == nil {
		return exe, nil
	}
	dst := filepath.Join(binDir, "db9")
	if a, err := os.Stat(exe); err == nil {
		if b, err := os.Stat(dst); err == nil && a.Size() == b.Size() && !b.ModTime().Before(a.ModTime()) {
			return dst, nil
		}
	}
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return "", err
	}
	tmp := dst + ".tmp"
	_ = os.Remove(tmp)
	if err := dirtree.CopyFile(exe, tmp, 0o755); err != nil {
		return "", fmt.Errorf("copy db9 binary for archive_command: %w", err)
	}
	if err := os.Rename(tmp, dst); err != nil {
		return "", err
	}
	return dst, nil
}

// RelativeTo returns path relative to dataDir (the working directory of
// postgres and of the commands it runs) when it lies under base, the
// platform's data directory; otherwise path itself.
func RelativeTo(base, dataDir, path string) string {
	if rel, err := filepath.Rel(base, path); err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	rel, err := filepath.Rel(dataDir, path)
	if err != nil {
		return path
	}
	return rel
}
