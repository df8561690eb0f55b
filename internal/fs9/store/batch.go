package store

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/fs9"
)

// FileWrite is one file of a batch write; Mode < 0 means the default.
type FileWrite struct {
	Path string
	Data []byte
	Mode int
}

// BatchResult is the outcome for one path of a batch.
type BatchResult struct {
	Path    string
	Written int64
	Info    Info   // batch stat
	Data    []byte // batch read
	Err     error
}

// Batches are FS9.md's batch operations (batch_write, batch_stat,
// batch_inline_read) over a store: many paths in one call, each with an
// outcome of its own. They are a type apart from Store because they are
// a protocol's shape, not file system operations of their own.
type Batches struct{ s *Store }

// BatchesOf returns the batch operations over s.
func BatchesOf(s *Store) Batches { return Batches{s: s} }

// Write writes many files. They go in one transaction, pipelined
// (one round trip, one commit). atomic: all or nothing — on the first
// failure nothing is written and every other entry says so. Otherwise a
// failure sends the batch down the slow path, one transaction per file,
// so that each file succeeds or fails on its own.
func (b Batches) Write(ctx context.Context, files []FileWrite, atomic bool) ([]BatchResult, error) {
	res := make([]BatchResult, len(files))
	bad := -1
	for i, f := range files {
		res[i].Path = f.Path
		if _, err := clean(f.Path); err != nil {
			res[i].Err = err
			bad = i
		} else if len(f.Data) > fs9.MaxCallBytes {
			res[i].Err = fs9.Errorf(fs9.EFBIG, "%s: more than 10 MiB in one call; stream it", f.Path)
			bad = i
		}
	}
	if bad < 0 {
		bad = writeTx(ctx, b.s.db, files, res)
		if bad < 0 {
			return res, nil
		}
	}
	if atomic {
		for i := range res {
			if i != bad {
				res[i].Written = 0
				res[i].Err = fs9.Errorf(fs9.ErrorCode(res[bad].Err), "not written: the atomic batch failed at %s", files[bad].Path)
			}
		}
		return res, nil
	}
	for i, f := range files {
		if _, err := clean(f.Path); err != nil {
			continue // res[i].Err says why
		}
		res[i].Written, res[i].Err = b.s.Write(ctx, f.Path, f.Data, f.Mode)
	}
	return res, nil
}

// writeTx runs the writes in one transaction and returns the index of the
// first failure (the transaction then rolled back), or -1.
func writeTx(ctx context.Context, db DB, files []FileWrite, res []BatchResult) int {
	tx, err := db.Begin(ctx)
	if err != nil {
		for i := range res {
			res[i].Err = fs9.FromPG(err)
		}
		return 0
	}
	defer rollback(tx)
	b := &pgx.Batch{}
	for _, f := range files {
		p, _ := clean(f.Path)
		data := f.Data
		if data == nil {
			data = []byte{}
		}
		// (A batch takes no per-statement QueryExecMode: the contents go as
		// hex text, which for small files costs little next to the writes.)
		b.Queue(`SELECT _db9_fs.write($1, $2, $3)`, p, data, modeArg(f.Mode))
	}
	br := tx.SendBatch(ctx, b)
	bad := -1
	for i := range files {
		err := br.QueryRow().Scan(&res[i].Written)
		if err != nil && bad < 0 {
			bad = i
			res[i].Err = fs9.FromPG(err)
		}
	}
	if err := br.Close(); err != nil && bad < 0 {
		bad = 0
		res[0].Err = fs9.FromPG(err)
	}
	if bad >= 0 {
		return bad
	}
	if err := tx.Commit(ctx); err != nil {
		res[0].Err = fs9.FromPG(err)
		return 0
	}
	return -1
}

// Stat stats many paths, each on its own.
func (b Batches) Stat(ctx context.Context, paths []string) []BatchResult {
	res := make([]BatchResult, len(paths))
	for i, p := range paths {
		res[i].Path = p
		res[i].Info, res[i].Err = b.s.Stat(ctx, p)
	}
	return res
}

// Read reads many whole files (10 MiB each at most), each on its own;
// duplicate paths are EINVAL.
func (b Batches) Read(ctx context.Context, paths []string) ([]BatchResult, error) {
	seen := make(map[string]bool, len(paths))
	for _, p := range paths {
		if seen[p] {
			return nil, fs9.Errorf(fs9.EINVAL, "paths must be unique: %s", p)
		}
		seen[p] = true
	}
	res := make([]BatchResult, len(paths))
	for i, p := range paths {
		res[i].Path = p
		res[i].Data, res[i].Err = b.s.Read(ctx, p)
		if res[i].Err != nil && !errors.As(res[i].Err, new(*fs9.Error)) {
			return nil, res[i].Err
		}
	}
	return res, nil
}
