package walarchive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/db9/db9/internal/dirtree"
)

// InheritBackup gives database db the base backup b of database src and
// every WAL file src archived from b's start on (history files included),
// as hard links: both are immutable once stored, so db can be restored to
// any moment after it branched off src without a byte copied and without
// depending on src's files (a link outlives the deletion of src's names).
// Recovery then replays src's timeline up to the branch point and db's own
// timeline after it, as PostgreSQL's timeline history files direct.
func (l *Local) InheritBackup(ctx context.Context, src, db string, b Backup) error {
	if err := validName(src); err != nil {
		return err
	}
	if err := validName(db); err != nil {
		return err
	}
	names, err := l.ListWAL(ctx, src)
	if err != nil {
		return err
	}
	wd, err := l.EnsureWALDir(db)
	if err != nil {
		return err
	}
	start := position(b.StartWAL)
	for _, n := range names {
		if p := position(n); !strings.HasSuffix(n, ".history") && (p == "" || p < start) {
			continue
		}
		if err := os.Link(filepath.Join(l.walDir(src), n), filepath.Join(wd, n)); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("inherit WAL %s: %w", n, err)
		}
	}
	if err := syncDir(wd); err != nil {
		return err
	}
	stage := ""
	if b.Golden == "" {
		if stage, err = l.StagingDir(ctx, db); err != nil {
			return err
		}
		defer os.RemoveAll(stage)
		data := filepath.Join(stage, "data")
		if err := dirtree.Link(filepath.Join(l.baseDir(src), b.Name, "data"), data); err != nil {
			return fmt.Errorf("inherit backup %s: %w", b.Name, err)
		}
		stage = data
	}
	// The backup exists for db once its meta.json is written, after the links.
	return l.PutBackup(ctx, db, b, stage)
}
