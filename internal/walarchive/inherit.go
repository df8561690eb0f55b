package walarchive

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
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
		if err := linkTree(filepath.Join(l.baseDir(src), b.Name, "data"), data); err != nil {
			return fmt.Errorf("inherit backup %s: %w", b.Name, err)
		}
		stage = data
	}
	// The backup exists for db once its meta.json is written, after the links.
	return l.PutBackup(ctx, db, b, stage)
}

// linkTree recreates the directory tree src at dst (which must not exist)
// with hard links to src's files.
func linkTree(src, dst string) error {
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			info, err := d.Info()
			if err != nil {
				return err
			}
			if err := os.Mkdir(target, info.Mode().Perm()); err != nil {
				return err
			}
			return copyOwner(p, target)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		return os.Link(p, target)
	})
}

// copyOwner gives dst the owner of src when running as root, so the OS
// user of postgres can use a restored copy of the tree.
func copyOwner(src, dst string) error {
	if os.Geteuid() != 0 {
		return nil
	}
	info, err := os.Lstat(src)
	if err != nil {
		return err
	}
	st, ok := info.Sys().(*syscall.Stat_t)
	if !ok {
		return nil
	}
	return os.Lchown(dst, int(st.Uid), int(st.Gid))
}
