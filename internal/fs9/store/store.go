package store

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/fs9"
)

// DB is what the store runs on: a *pgxpool.Pool (or *pgx.Conn for one
// session) logged in as the role the caller acts as.
type DB interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Begin(ctx context.Context) (pgx.Tx, error)
	BeginTx(ctx context.Context, opts pgx.TxOptions) (pgx.Tx, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

var (
	_ DB = (*pgxpool.Pool)(nil)
	_ DB = (*pgx.Conn)(nil)
)

// Store is the file system of one database as seen by one role.
type Store struct {
	db DB
}

// New returns a store over db.
func New(db DB) *Store { return &Store{db: db} }

// Info describes a file, directory or symlink (FS9.md "File info").
type Info struct {
	Path       string    `json:"path"`
	Type       string    `json:"type"` // file, dir, symlink
	Size       int64     `json:"size"`
	Mode       int       `json:"mode"`
	Generation int64     `json:"generation"`
	MTime      time.Time `json:"-"`
	Target     string    `json:"-"` // of a symlink
}

const infoCols = `path, type, size, mode, generation, mtime, coalesce(target, '')`

func scanInfo(row pgx.Row) (Info, error) {
	var i Info
	var mode int32
	err := row.Scan(&i.Path, &i.Type, &i.Size, &mode, &i.Generation, &i.MTime, &i.Target)
	i.Mode = int(mode)
	i.MTime = i.MTime.UTC().Truncate(time.Second)
	return i, err
}

// inBinary, as a statement's first argument, makes its bytes travel as
// they are. The pools the store is given run in QueryExecModeExec (tenant
// SQL shares them, so they keep no statement state), which sends a []byte
// as hex text and asks for results as text: a bytea came back as hex.
// Twice the bytes on the socket and an encoding and a decoding at each
// end made streamed transfers run at a third of COPY's speed (and
// listings parse every number and time from text). The fs9
// statements are fixed calls of platform functions, whose signatures
// change only when an instance starts (with new sessions), so describing
// each once per session and caching that is safe.
const inBinary = pgx.QueryExecModeCacheDescribe

// clean validates p the way the SQL functions do, before a round trip.
func clean(p string) (string, error) { return fs9.CleanPath(p) }

// Stat describes the entry at p (ENOENT).
func (s *Store) Stat(ctx context.Context, p string) (Info, error) {
	p, err := clean(p)
	if err != nil {
		return Info{}, err
	}
	i, err := scanInfo(s.db.QueryRow(ctx, `SELECT `+infoCols+` FROM _db9_fs.stat($1)`, inBinary, p))
	return i, fs9.FromPG(err)
}

// Exists reports whether an entry exists at p.
func (s *Store) Exists(ctx context.Context, p string) (bool, error) {
	p, err := clean(p)
	if err != nil {
		return false, err
	}
	var ok bool
	err = s.db.QueryRow(ctx, `SELECT _db9_fs.exists($1)`, p).Scan(&ok)
	return ok, fs9.FromPG(err)
}

// ReadDir lists a directory, by name (ENOENT, ENOTDIR).
func (s *Store) ReadDir(ctx context.Context, p string) ([]Info, error) {
	p, err := clean(p)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, `SELECT `+infoCols+` FROM _db9_fs.readdir($1)`, inBinary, p)
	if err != nil {
		return nil, fs9.FromPG(err)
	}
	out, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Info, error) { return scanInfo(r) })
	if out == nil {
		out = []Info{}
	}
	return out, fs9.FromPG(err)
}

// Walk is the result of ReadDirRecursive.
type Walk struct {
	Entries          []Info
	Truncated        bool
	TotalDirsScanned int
}

// Defaults and ceilings of ReadDirRecursive.
const (
	MaxWalkDepth   = 10
	MaxWalkEntries = 10000
)

// ReadDirRecursive lists a tree breadth first, at most maxDepth levels and
// maxEntries entries (0: the defaults, which are also the ceilings).
func (s *Store) ReadDirRecursive(ctx context.Context, p string, maxDepth, maxEntries int) (Walk, error) {
	p, err := clean(p)
	if err != nil {
		return Walk{}, err
	}
	if maxDepth <= 0 || maxDepth > MaxWalkDepth {
		maxDepth = MaxWalkDepth
	}
	if maxEntries <= 0 || maxEntries > MaxWalkEntries {
		maxEntries = MaxWalkEntries
	}
	rows, err := s.db.Query(ctx, `SELECT (w.info).path, (w.info).type, (w.info).size, (w.info).mode, (w.info).generation,
		(w.info).mtime, coalesce((w.info).target, '') FROM _db9_fs.walk($1, $2, $3) w`, inBinary, p, maxDepth, maxEntries)
	if err != nil {
		return Walk{}, fs9.FromPG(err)
	}
	w := Walk{Entries: []Info{}, TotalDirsScanned: 1}
	for rows.Next() {
		i, err := scanInfo(rows)
		if err != nil {
			rows.Close()
			return Walk{}, fs9.FromPG(err)
		}
		if len(w.Entries) == maxEntries {
			w.Truncated = true
			continue
		}
		w.Entries = append(w.Entries, i)
		if i.Type == "dir" {
			w.TotalDirsScanned++
		}
	}
	return w, fs9.FromPG(rows.Err())
}

// Mkdir makes a directory (EEXIST; recursive: parents 0o755, no error when
// it exists). mode < 0 means the default 0o755. It reports whether it made
// the directory.
func (s *Store) Mkdir(ctx context.Context, p string, recursive bool, mode int) (bool, error) {
	p, err := clean(p)
	if err != nil {
		return false, err
	}
	var m *int32
	if mode >= 0 {
		v := int32(mode & 0o7777)
		m = &v
	}
	var made bool
	err = s.db.QueryRow(ctx, `SELECT _db9_fs.mkdir($1, $2, $3)`, p, recursive, m).Scan(&made)
	return made, fs9.FromPG(err)
}

// Unlink removes a file or symlink (EISDIR on a directory).
func (s *Store) Unlink(ctx context.Context, p string) error {
	p, err := clean(p)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `SELECT _db9_fs.remove($1, false, true)`, p)
	return fs9.FromPG(err)
}

// Remove removes an entry, a directory only when empty unless recursive
// (ENOTEMPTY), and returns how many entries went.
func (s *Store) Remove(ctx context.Context, p string, recursive bool) (int64, error) {
	p, err := clean(p)
	if err != nil {
		return 0, err
	}
	var n int64
	err = s.db.QueryRow(ctx, `SELECT _db9_fs.remove($1, $2, false)`, p, recursive).Scan(&n)
	return n, fs9.FromPG(err)
}

// Read returns a whole file of at most 10 MiB (EFBIG: stream it).
func (s *Store) Read(ctx context.Context, p string) ([]byte, error) {
	p, err := clean(p)
	if err != nil {
		return nil, err
	}
	var b []byte
	err = s.db.QueryRow(ctx, `SELECT _db9_fs.read($1, NULL, NULL)`, inBinary, p).Scan(&b)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, fs9.FromPG(err)
}

// ReadAt returns up to length bytes at off (fewer at the end of the file).
func (s *Store) ReadAt(ctx context.Context, p string, off, length int64) ([]byte, error) {
	p, err := clean(p)
	if err != nil {
		return nil, err
	}
	var b []byte
	err = s.db.QueryRow(ctx, `SELECT _db9_fs.read($1, $2, $3)`, inBinary, p, off, length).Scan(&b)
	if b == nil && err == nil {
		b = []byte{}
	}
	return b, fs9.FromPG(err)
}

// Write replaces a file whole (creating it and its parents). mode < 0: the
// default 0o644 for a new file; an existing file keeps its mode.
func (s *Store) Write(ctx context.Context, p string, data []byte, mode int) (int64, error) {
	return write(ctx, s.db, p, data, mode)
}

func write(ctx context.Context, db interface {
	QueryRow(context.Context, string, ...any) pgx.Row
}, p string, data []byte, mode int) (int64, error) {
	p, err := clean(p)
	if err != nil {
		return 0, err
	}
	if len(data) > fs9.MaxCallBytes {
		return 0, fs9.Errorf(fs9.EFBIG, "%s: more than 10 MiB in one call; stream it", p)
	}
	if data == nil {
		data = []byte{}
	}
	var n int64
	err = db.QueryRow(ctx, `SELECT _db9_fs.write($1, $2, $3)`, inBinary, p, data, modeArg(mode)).Scan(&n)
	return n, fs9.FromPG(err)
}

func modeArg(mode int) *int32 {
	if mode < 0 {
		return nil
	}
	v := int32(mode & 0o7777)
	return &v
}

// PWrite writes data at off (creating the file; a gap reads as NUL bytes).
func (s *Store) PWrite(ctx context.Context, p string, off int64, data []byte) (int64, error) {
	if off < 0 {
		return 0, fs9.Errorf(fs9.EINVAL, "negative offset")
	}
	return pwrite(ctx, s.db, p, &off, data)
}

// Append adds data at the end of a file (creating it).
func (s *Store) Append(ctx context.Context, p string, data []byte) (int64, error) {
	return pwrite(ctx, s.db, p, nil, data)
}

func pwrite(ctx context.Context, db DB, p string, off *int64, data []byte) (int64, error) {
	p, err := clean(p)
	if err != nil {
		return 0, err
	}
	if data == nil {
		data = []byte{}
	}
	var n int64
	err = db.QueryRow(ctx, `SELECT _db9_fs.pwrite($1, $2, $3)`, inBinary, p, off, data).Scan(&n)
	return n, fs9.FromPG(err)
}

// Truncate sets a file's size; growing pads with NUL bytes.
func (s *Store) Truncate(ctx context.Context, p string, size int64) error {
	p, err := clean(p)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `SELECT _db9_fs.truncate($1, $2)`, p, size)
	return fs9.FromPG(err)
}

// Rename moves an entry (a file or an empty directory at the target is
// replaced; missing parents are made).
func (s *Store) Rename(ctx context.Context, oldPath, newPath string) error {
	o, err := clean(oldPath)
	if err != nil {
		return err
	}
	n, err := clean(newPath)
	if err != nil {
		return err
	}
	_, err = s.db.Exec(ctx, `SELECT _db9_fs.rename($1, $2)`, o, n)
	return fs9.FromPG(err)
}

// Symlink makes a symlink at p to target (kept as given, not resolved).
func (s *Store) Symlink(ctx context.Context, p, target string) error {
	p, err := clean(p)
	if err != nil {
		return err
	}
	if len(target) == 0 || len(target) > fs9.MaxPathBytes || containsNUL(target) {
		return fs9.Errorf(fs9.EINVAL, "symlink target must be 1 to 4096 bytes without NUL")
	}
	_, err = s.db.Exec(ctx, `SELECT _db9_fs.symlink($1, $2)`, p, target)
	return fs9.FromPG(err)
}

// Readlink returns a symlink's target (EINVAL when p is not one).
func (s *Store) Readlink(ctx context.Context, p string) (string, error) {
	p, err := clean(p)
	if err != nil {
		return "", err
	}
	var t string
	err = s.db.QueryRow(ctx, `SELECT _db9_fs.readlink($1)`, p).Scan(&t)
	return t, fs9.FromPG(err)
}

// Chmod sets the permission bits (mode & 0o7777).
func (s *Store) Chmod(ctx context.Context, p string, mode int) error {
	p, err := clean(p)
	if err != nil {
		return err
	}
	if mode < 0 {
		return fs9.Errorf(fs9.EINVAL, "mode must be >= 0")
	}
	_, err = s.db.Exec(ctx, `SELECT _db9_fs.chmod($1, $2)`, p, int32(mode&0o7777))
	return fs9.FromPG(err)
}

func containsNUL(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == 0 {
			return true
		}
	}
	return false
}

// rollback ends tx, ignoring the error of an already closed one.
func rollback(tx pgx.Tx) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := tx.Rollback(ctx); err != nil && !errors.Is(err, pgx.ErrTxClosed) {
		_ = err // the session is gone with the transaction; nothing to undo
	}
}
