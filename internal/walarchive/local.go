package walarchive

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"

	"github.com/db9/db9/internal/dirtree"
)

// Local is a Store in a local directory: <root>/<db>/wal/<name> for WAL
// files and <root>/<db>/base/<name>/{meta.json,data/} for base backups.
// A backup exists once its meta.json does; half-written ones are ignored
// and removed by the next prune.
type Local struct {
	Root string
	// Chown, when set, gives directories the store creates to the OS user
	// that runs postgres (archive_command and pg_basebackup write here as
	// that user).
	Chown func(path string) error
}

var _ Store = (*Local)(nil)

func (l *Local) dbDir(db string) string  { return filepath.Join(l.Root, db) }
func (l *Local) walDir(db string) string { return filepath.Join(l.Root, db, "wal") }
func (l *Local) baseDir(db string) string {
	return filepath.Join(l.Root, db, "base")
}

func (l *Local) mkdir(dir string) error {
	if _, err := os.Stat(dir); err == nil {
		return nil
	}
	parent := filepath.Dir(dir)
	if parent != dir && parent != l.Root {
		if err := l.mkdir(parent); err != nil {
			return err
		}
	}
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	if l.Chown != nil {
		if err := l.Chown(dir); err != nil {
			return err
		}
	}
	return syncDir(filepath.Dir(dir))
}

func validName(name string) error {
	if name == "" || strings.ContainsAny(name, "/\\\x00") || name == "." || name == ".." {
		return fmt.Errorf("invalid archive name %q", name)
	}
	return nil
}

// PutWAL copies path to a temporary file, fsyncs it, links it into place
// (link, unlike rename, never replaces an existing file) and fsyncs the
// directory, so success means the segment survives a power loss.
func (l *Local) PutWAL(ctx context.Context, db, name, path string) error {
	if err := validName(db); err != nil {
		return err
	}
	if err := validName(name); err != nil {
		return err
	}
	dir := l.walDir(db)
	if err := l.mkdir(dir); err != nil {
		return fmt.Errorf("create archive directory: %w", err)
	}
	dst := filepath.Join(dir, name)
	if _, err := os.Stat(dst); err == nil {
		return sameContent(path, dst)
	}
	tmp := filepath.Join(dir, "."+name+".tmp"+strconv.Itoa(os.Getpid()))
	if err := copyFileSync(path, tmp); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	defer os.Remove(tmp)
	if err := os.Link(tmp, dst); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return sameContent(path, dst)
		}
		return err
	}
	return syncDir(dir)
}

// sameContent succeeds when dst already holds path's content (made durable
// again, in case the earlier attempt died before its fsync).
func sameContent(path, dst string) error {
	a, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	b, err := os.ReadFile(dst)
	if err != nil {
		return err
	}
	if !bytes.Equal(a, b) {
		return fmt.Errorf("%s: %w", filepath.Base(dst), ErrConflict)
	}
	f, err := os.Open(dst)
	if err != nil {
		return err
	}
	err = f.Sync()
	f.Close()
	if err != nil {
		return err
	}
	return syncDir(filepath.Dir(dst))
}

func copyFileSync(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// GetWAL copies an archived file to path.
func (l *Local) GetWAL(ctx context.Context, db, name, path string) error {
	if err := validName(name); err != nil {
		return err
	}
	in, err := os.Open(filepath.Join(l.walDir(db), name))
	if errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := path + ".db9tmp"
	out, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		os.Remove(tmp)
		return err
	}
	if err := out.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	return os.Rename(tmp, path)
}

// HasWAL reports whether name is archived.
func (l *Local) HasWAL(ctx context.Context, db, name string) (bool, error) {
	_, err := os.Stat(filepath.Join(l.walDir(db), name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// ListWAL lists archived WAL file names, sorted.
func (l *Local) ListWAL(ctx context.Context, db string) ([]string, error) {
	entries, err := os.ReadDir(l.walDir(db))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if n := e.Name(); !strings.HasPrefix(n, ".") && !strings.HasPrefix(n, basicArchiveTemp) {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// DeleteWAL removes archived files.
func (l *Local) DeleteWAL(ctx context.Context, db string, names []string) error {
	for _, n := range names {
		if err := validName(n); err != nil {
			return err
		}
		if err := os.Remove(filepath.Join(l.walDir(db), n)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
	}
	return nil
}

// StagingDir returns a new empty directory under <root>/<db>/tmp.
func (l *Local) StagingDir(ctx context.Context, db string) (string, error) {
	if err := validName(db); err != nil {
		return "", err
	}
	parent := filepath.Join(l.dbDir(db), "tmp")
	if err := l.mkdir(parent); err != nil {
		return "", err
	}
	dir, err := os.MkdirTemp(parent, "backup-")
	if err != nil {
		return "", err
	}
	if l.Chown != nil {
		if err := l.Chown(dir); err != nil {
			return "", err
		}
	}
	return dir, nil
}

const metaFile = "meta.json"

// PutBackup moves dir into base/<name>/data and then writes meta.json,
// which makes the backup exist.
func (l *Local) PutBackup(ctx context.Context, db string, meta Backup, dir string) error {
	if err := validName(meta.Name); err != nil {
		return err
	}
	bd := filepath.Join(l.baseDir(db), meta.Name)
	if err := l.mkdir(bd); err != nil {
		return err
	}
	if dir != "" {
		if err := os.Rename(dir, filepath.Join(bd, "data")); err != nil {
			return fmt.Errorf("store backup %s: %w", meta.Name, err)
		}
		if err := syncDir(bd); err != nil {
			return err
		}
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return err
	}
	tmp := filepath.Join(bd, metaFile+".tmp")
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		return err
	}
	if err := syncFile(tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(bd, metaFile)); err != nil {
		return err
	}
	return syncDir(bd)
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	return f.Sync()
}

// GetBackup copies base/<name>/data into dir.
func (l *Local) GetBackup(ctx context.Context, db, name, dir string) error {
	if err := validName(name); err != nil {
		return err
	}
	src := filepath.Join(l.baseDir(db), name, "data")
	if _, err := os.Stat(src); errors.Is(err, fs.ErrNotExist) {
		return ErrNotFound
	}
	return dirtree.Copy(src, dir)
}

// ListBackups lists the complete backups of db, oldest first.
func (l *Local) ListBackups(ctx context.Context, db string) ([]Backup, error) {
	entries, err := os.ReadDir(l.baseDir(db))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Backup
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(l.baseDir(db), e.Name(), metaFile))
		if err != nil {
			continue // incomplete
		}
		var m Backup
		if err := json.Unmarshal(b, &m); err != nil {
			return nil, fmt.Errorf("backup %s/%s: %w", db, e.Name(), err)
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// DeleteBackup removes a backup (its meta first, so a crash midway leaves
// an incomplete one that is ignored).
func (l *Local) DeleteBackup(ctx context.Context, db, name string) error {
	if err := validName(name); err != nil {
		return err
	}
	bd := filepath.Join(l.baseDir(db), name)
	if err := os.Remove(filepath.Join(bd, metaFile)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return os.RemoveAll(bd)
}

// Databases lists the databases that have an archive directory.
func (l *Local) Databases(ctx context.Context) ([]string, error) {
	entries, err := os.ReadDir(l.Root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if e.IsDir() {
			out = append(out, e.Name())
		}
	}
	return out, nil
}

// DeleteDatabase removes a database's whole archive.
func (l *Local) DeleteDatabase(ctx context.Context, db string) error {
	if err := validName(db); err != nil {
		return err
	}
	return os.RemoveAll(l.dbDir(db))
}

// basicArchiveTemp starts the names of the temporary files PostgreSQL's
// basic_archive module writes before renaming a segment into place.
const basicArchiveTemp = "archtemp"

// EnsureWALDir creates db's WAL directory (owned by the instances' OS user)
// and returns its path, for an instance that archives into it directly.
func (l *Local) EnsureWALDir(db string) (string, error) {
	dir, err := l.WALDir(db)
	if err != nil {
		return "", err
	}
	return dir, l.mkdir(dir)
}

// WALDir is where db's WAL files are archived.
func (l *Local) WALDir(db string) (string, error) {
	if err := validName(db); err != nil {
		return "", err
	}
	return l.walDir(db), nil
}

// RemoveIncomplete removes half-written backups, staging directories and
// half-archived segments of db (after a crash).
func (l *Local) RemoveIncomplete(db string) error {
	_ = os.RemoveAll(filepath.Join(l.dbDir(db), "tmp"))
	if tmps, err := filepath.Glob(filepath.Join(l.walDir(db), basicArchiveTemp+"*")); err == nil {
		for _, t := range tmps {
			_ = os.Remove(t)
		}
	}
	entries, err := os.ReadDir(l.baseDir(db))
	if err != nil {
		return nil
	}
	for _, e := range entries {
		bd := filepath.Join(l.baseDir(db), e.Name())
		if _, err := os.Stat(filepath.Join(bd, metaFile)); errors.Is(err, fs.ErrNotExist) {
			if err := os.RemoveAll(bd); err != nil {
				return err
			}
		}
	}
	return nil
}
