package walarchive

import (
	"context"
	"errors"
	"time"
)

// ErrNotFound reports a segment or backup that is not in the store.
var ErrNotFound = errors.New("not in the archive")

// ErrConflict reports an attempt to archive a segment under a name that
// already holds different content. PostgreSQL must then keep the segment
// and retry: overwriting could destroy history a branch relies on.
var ErrConflict = errors.New("archived segment exists with different content")

// Store keeps the WAL files and base backups of every database. WAL file
// names are PostgreSQL's (segments, .partial, .backup and .history files).
// Implementations make PutWAL durable before returning.
type Store interface {
	// PutWAL archives the file at path under name. Archiving the same
	// content again succeeds; different content fails with ErrConflict.
	PutWAL(ctx context.Context, db, name, path string) error
	// GetWAL copies an archived file to path; ErrNotFound when absent.
	GetWAL(ctx context.Context, db, name, path string) error
	// HasWAL reports whether name is archived.
	HasWAL(ctx context.Context, db, name string) (bool, error)
	// ListWAL lists archived WAL file names, sorted.
	ListWAL(ctx context.Context, db string) ([]string, error)
	// DeleteWAL removes archived files.
	DeleteWAL(ctx context.Context, db string, names []string) error

	// PutBackup stores a base backup. dir is the backup's data directory
	// (empty for a golden reference); the store takes it over (dir may be
	// moved or removed).
	PutBackup(ctx context.Context, db string, meta Backup, dir string) error
	// GetBackup copies a stored backup's files into dir, which must not exist.
	GetBackup(ctx context.Context, db, name, dir string) error
	// ListBackups lists a database's base backups, oldest first.
	ListBackups(ctx context.Context, db string) ([]Backup, error)
	// DeleteBackup removes a base backup.
	DeleteBackup(ctx context.Context, db, name string) error

	// StagingDir returns a new empty directory on the store's side where a
	// base backup can be written before PutBackup (same filesystem for the
	// local store, so PutBackup is a rename).
	StagingDir(ctx context.Context, db string) (string, error)
	// Databases lists the databases that have anything archived.
	Databases(ctx context.Context) ([]string, error)
	// DeleteDatabase removes everything archived for a database.
	DeleteDatabase(ctx context.Context, db string) error
}

// Backup describes a base backup: where replay starts and from when it
// can serve a point in time.
type Backup struct {
	Name string `json:"name"`
	// Golden, when set, says the backup is the golden data directory of
	// that recipe version the database was copied from; it has no files
	// in the store.
	Golden string `json:"golden,omitempty"`
	// StartWAL is the WAL segment holding the backup's redo point:
	// segments before it are not needed to restore from this backup.
	StartWAL string `json:"start_wal"`
	// Consistent is a time at or after which the backup plus replay is
	// consistent: it can serve recovery targets from then on.
	Consistent time.Time `json:"consistent"`
	Bytes      int64     `json:"bytes"`
}

// BackupName returns a name that sorts by time.
func BackupName(t time.Time, startWAL string) string {
	return t.UTC().Format("20060102T150405.000000Z") + "-" + startWAL
}
