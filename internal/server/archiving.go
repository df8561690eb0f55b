package server

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/db9/db9/internal/instance"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/walarchive"
)

// archiving configures WAL archiving into <data-dir>/archive (ARCHITECTURE
// §6), through PostgreSQL's basic_archive (or this binary's hidden wal-archive
// command); branches replay it with cp.
func (s *Server) archiving(runAs pgbin.RunAs) (*instance.Archiving, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("locate the db9 binary for archive_command: %w", err)
	}
	if exe, err = filepath.EvalSymlinks(exe); err != nil {
		return nil, err
	}
	if exe, err = instance.ReachableExe(runAs, exe, s.cfg.DataDir); err != nil {
		return nil, err
	}
	return &instance.Archiving{
		Store:          &walarchive.Local{Root: filepath.Join(s.cfg.DataDir, "archive"), Chown: runAs.Chown},
		Exe:            exe,
		Retention:      s.cfg.PITRRetention,
		BackupAfterWAL: 64 << 20,
		BackupMaxAge:   24 * time.Hour,
		MaintainEvery:  5 * time.Second,
		StageWAL:       stageWAL(s.cfg.BranchStageWALMB),
	}, nil
}

// stageWAL maps --branch-stage-wal-mb to instance.Archiving.StageWAL.
func stageWAL(mb int) int64 {
	if mb <= 0 {
		return -1
	}
	return int64(mb) << 20
}
