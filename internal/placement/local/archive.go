package instance

import (
	"context"
	"fmt"
	"github.com/db9/db9/internal/dirtree"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/walarchive"
	"github.com/jackc/pgx/v5/pgconn"
)

// Archiving configures continuous WAL archiving and point-in-time restore
// (ARCHITECTURE §6). With it every instance runs with archive_mode=on and
// an archive_command that stores its WAL under its own database id.
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
	// segment; walStage). 0 means 256 MB; negative: never staged, WAL is
	// fetched segment by segment with restore_command.
	StageWAL int64
}

func (a *Archiving) stageLimit() int64 {
	if a.StageWAL == 0 {
		return 256 << 20
	}
	return a.StageWAL
}

// walSegmentBytes is the WAL segment size of every instance (initdb --wal-segsize).
const walSegmentBytes = 1 << 20

func (m *Manager) archiving() bool { return m.cfg.Archive != nil }

// instSettings are the per-instance settings passed as -c flags at start:
// archiving into the instance's own archive.
func (m *Manager) instSettings(id string) map[string]string {
	a := m.cfg.Archive
	if a == nil {
		return nil
	}
	// PostgreSQL's own basic_archive module writes each segment to a
	// temporary file and renames it durably (fsync of file and directory)
	// into the archive, refusing to replace a segment with other content:
	// the guarantees of wal-archive, without a process started per segment
	// (which cost writers ~20 % of their throughput on 2 cores).
	dir, err := a.Store.EnsureWALDir(id)
	if err == nil {
		return map[string]string{
			"archive_mode":                    "on",
			"archive_library":                 "basic_archive",
			"basic_archive.archive_directory": m.fromData(id, dir),
		}
	}
	m.log.Warn("create WAL archive directory; falling back to archive_command", "component", "instance", "db", id, "err", err)
	return map[string]string{
		"archive_mode":    "on",
		"archive_command": walarchive.ArchiveCommand(m.fromData(id, a.Exe), m.fromData(id, a.Store.Root), id),
	}
}

// fromData returns path relative to instance id's data directory (the
// working directory of postgres and of the commands it runs) when it lies
// under the platform's data directory. Settings are readable by the
// tenant: they must not name the host's layout.
func (m *Manager) fromData(id, path string) string {
	data := filepath.Join(m.dbsDir(), id, "pgdata")
	if rel, err := filepath.Rel(m.cfg.DataDir, path); err != nil || strings.HasPrefix(rel, "..") {
		return path
	}
	rel, err := filepath.Rel(data, path)
	if err != nil {
		return path
	}
	return rel
}

// switchWALLocked closes the current WAL segment so the archiver takes it:
// called before an instance is stopped on purpose, so the archive holds
// everything committed (the shutdown then waits for the archiver's last
// cycle). in.mu is held.
func (m *Manager) switchWALLocked(in *inst) {
	if !m.archiving() || in.pm == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgconn.Connect(ctx, superuserConnString(filepath.Join(in.dir, "s")))
	if err != nil {
		m.log.Warn("switch wal before stop", "component", "instance", "db", in.id, "err", err)
		return
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "SELECT pg_switch_wal()").ReadAll(); err != nil {
		m.log.Warn("switch wal before stop", "component", "instance", "db", in.id, "err", err)
	}
}

// recordGoldenBackup records, for a new instance copied from the golden
// directory, that copy as its first base backup.
func (m *Manager) recordGoldenBackup(ctx context.Context, id string) error {
	if !m.archiving() {
		return nil
	}
	now := time.Now()
	b := walarchive.Backup{Name: walarchive.BackupName(now, m.goldenRedo), Golden: goldenVersion(), StartWAL: m.goldenRedo, Consistent: now}
	if err := m.cfg.Archive.Store.PutBackup(ctx, id, b, ""); err != nil {
		return fmt.Errorf("record golden base backup: %w", err)
	}
	return nil
}

// goldenDirOf returns the golden data directory of a recipe version: the
// current one, or an older one kept because a base backup refers to it.
func (m *Manager) goldenDirOf(version string) (string, error) {
	if version == goldenVersion() {
		return m.golden, nil
	}
	dir := m.golden + "-" + version
	if _, err := os.Stat(filepath.Join(dir, goldenMarker)); err != nil {
		return "", fmt.Errorf("golden data directory of recipe %s is gone: %w", version, err)
	}
	return dir, nil
}

// referencedGoldens lists the golden recipe versions some database's base
// backup refers to.
func (m *Manager) referencedGoldens(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	if !m.archiving() {
		return out, nil
	}
	s := m.cfg.Archive.Store
	dbs, err := s.Databases(ctx)
	if err != nil {
		return nil, err
	}
	for _, db := range dbs {
		bs, err := s.ListBackups(ctx, db)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.Golden != "" {
				out[b.Golden] = true
			}
		}
	}
	return out, nil
}

// pruneGoldens removes kept golden directories of older recipes that no
// base backup refers to any more.
func (m *Manager) pruneGoldens(ctx context.Context) error {
	refs, err := m.referencedGoldens(ctx)
	if err != nil {
		return err
	}
	old, _ := filepath.Glob(m.golden + "-*")
	for _, dir := range old {
		v := strings.TrimPrefix(dir, m.golden+"-")
		if !refs[v] && !strings.HasSuffix(dir, ".tmp") {
			m.log.Info("removing unreferenced golden directory", "component", "instance", "dir", dir)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
		}
	}
	return nil
}

// controlRedoSegment reads the WAL segment of the latest checkpoint's redo
// point of a stopped data directory.
func controlRedoSegment(ctx context.Context, pgControlData, dataDir string) (string, error) {
	out, err := exec.CommandContext(ctx, pgControlData, "-D", dataDir).Output()
	if err != nil {
		return "", fmt.Errorf("pg_controldata: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "Latest checkpoint's REDO WAL file" {
			if s := strings.TrimSpace(v); walarchive.IsSegment(s) {
				return s, nil
			}
		}
	}
	return "", fmt.Errorf("pg_controldata: no REDO WAL file in output")
}

// openArchive prepares the archive at Open: its root owned by the OS user
// of postgres, archives of instances that are gone removed (those of
// directories Open removes go with them), half-written backups dropped.
func (m *Manager) openArchive(ctx context.Context, keep map[string]bool) error {
	if !m.archiving() {
		return nil
	}
	s := m.cfg.Archive.Store
	if err := os.MkdirAll(s.Root, 0o700); err != nil {
		return err
	}
	if err := m.cfg.RunAs.Chown(s.Root); err != nil {
		return err
	}
	redo, err := controlRedoSegment(ctx, m.cfg.Bin.Path("pg_controldata"), m.golden)
	if err != nil {
		return fmt.Errorf("golden checkpoint: %w", err)
	}
	m.goldenRedo = redo
	dbs, err := s.Databases(ctx)
	if err != nil {
		return err
	}
	for _, db := range dbs {
		if !keep[db] {
			if err := s.DeleteDatabase(ctx, db); err != nil {
				return err
			}
			continue
		}
		if err := s.RemoveIncomplete(db); err != nil {
			return err
		}
	}
	return m.pruneGoldens(ctx)
}

// ReachableExe returns a path of the db9 binary exe that the OS user of
// postgres can execute (archive_command and restore_command run as that
// user): exe itself when reachable, else a copy under dataDir/bin.
func ReachableExe(runAs pgbin.RunAs, exe, dataDir string) (string, error) {
	if runAs.CheckReachable(exe) == nil {
		return exe, nil
	}
	dst := filepath.Join(dataDir, "bin", "db9")
	if a, err := os.Stat(exe); err == nil {
		if b, err := os.Stat(dst); err == nil && a.Size() == b.Size() && !b.ModTime().Before(a.ModTime()) {
			return dst, nil
		}
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
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
