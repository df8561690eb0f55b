package server

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/db9/db9/internal/backup"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/walarchive"
)

// archiving configures WAL archiving into <data-dir>/archive (ARCHITECTURE
// §6), through PostgreSQL's basic_archive (or this binary's hidden wal-archive
// command); branches replay it with cp.
func (s *Server) archiving(runAs pgbin.RunAs) (*backup.Archiving, error) {
	lay := layout.Layout{DataDir: s.cfg.DataDir}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locate the db9 binary for archive_command: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, err
	}
	if exe, err = backup.ReachableExe(runAs, exe, lay.Bin()); err != nil {
		return nil, err
	}
	return &backup.Archiving{
		Store:          &walarchive.Local{Root: lay.Archive(), Chown: runAs.Chown},
		Exe:            exe,
		Retention:      s.cfg.PITRRetention,
		BackupAfterWAL: 64 << 20,
		BackupMaxAge:   24 * time.Hour,
		MaintainEvery:  5 * time.Second,
		StageWAL:       stageWAL(s.cfg.BranchStageWALMB),
	}, nil
}

// stageWAL maps --branch-stage-wal-mb to backup.Archiving.StageWAL.
func stageWAL(mb int) int64 {
	if mb <= 0 {
		return -1
	}
	return int64(mb) << 20
}
