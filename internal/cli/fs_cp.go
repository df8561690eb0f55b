package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/fs9/wsclient"
)

func (a fsCommands) newFSCpCmd() *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:   "cp [-r] <src>... <dst>",
		Short: "Copy files to, from or between databases",
		Long: "Copies files; either side is <db>:/path or a local path, - is stdin or stdout. " +
			"A source may be a glob (quote it for the shell): * and ? within a name, ** for any depth; " +
			"matches keep their path below the pattern's fixed directory. " +
			"A destination ending in / (or an existing directory) receives the sources under their own names. " +
			"Each file is written in one transaction: it is replaced whole or not at all.",
		Example: "  db9 fs cp data.csv myapp:/in/\n  db9 fs cp 'myapp:/logs/*.csv' ./logs\n  db9 fs cp -r ./docs myapp:/docs\n  db9 fs cp myapp:/out/report.pdf .\n  pg_dump ... | db9 fs cp - myapp:/backup.sql",
		Args:    cobra.MinimumNArgs(2),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			f, err := a.fsSession(ctx)
			if err != nil {
				return err
			}
			defer f.close()
			cp := &copier{a: a, f: f, recursive: recursive}
			dst := parseFSPath(args[len(args)-1])
			var srcs []cpSource
			globbed := false
			for _, s := range args[:len(args)-1] {
				got, glob, err := cp.expand(ctx, parseFSPath(s))
				if err != nil {
					return fsHint(err)
				}
				srcs, globbed = append(srcs, got...), globbed || glob
			}
			intoDir := len(srcs) > 1 || globbed || strings.HasSuffix(dst.path, "/")
			if !intoDir {
				intoDir, err = cp.isDir(ctx, dst)
				if err != nil {
					return err
				}
			}
			for _, s := range srcs {
				to := dst
				if intoDir {
					if s.src.path == "-" {
						return usage(errors.New("stdin needs a file as the destination"), cmd.CommandPath()+" --help")
					}
					to = join(dst, s.name)
					if dst.db == "" {
						if err := os.MkdirAll(filepath.Dir(to.path), 0o755); err != nil {
							return err
						}
					}
				}
				if err := cp.copy(ctx, s.src, to); err != nil {
					return fsHint(err)
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "copy directories and everything in them")
	return cmd
}

type copier struct {
	a         fsCommands
	f         *fsConns
	recursive bool
}

func join(dir fsPath, name string) fsPath {
	if dir.db == "" {
		return fsPath{path: filepath.Join(dir.path, name)}
	}
	return fsPath{db: dir.db, path: path.Join(dir.path, name)}
}

// isDir reports whether p is an existing directory.
func (cp *copier) isDir(ctx context.Context, p fsPath) (bool, error) {
	if p.path == "-" {
		return false, nil
	}
	if p.db == "" {
		fi, err := os.Stat(p.path)
		return err == nil && fi.IsDir(), nil
	}
	c, err := cp.f.get(ctx, p.db)
	if err != nil {
		return false, err
	}
	st, err := c.Stat(ctx, p.path)
	if wsclient.IsCode(err, "ENOENT") {
		return false, nil
	}
	return err == nil && st.Type == "dir", err
}

// copy copies one source (a directory with -r) to dst.
func (cp *copier) copy(ctx context.Context, src, dst fsPath) error {
	if src.db == "" && dst.db == "" {
		return usage(fmt.Errorf("copy %s to %s: one side must be <db>:/path", src, dst), "db9 fs cp --help")
	}
	dir, err := cp.isDir(ctx, src)
	if err != nil {
		return err
	}
	if !dir {
		return cp.copyFile(ctx, src, dst)
	}
	if !cp.recursive {
		return usage(fmt.Errorf("%s is a directory", src), "add -r to copy a directory and everything in it")
	}
	if src.db == "" {
		return filepath.WalkDir(src.path, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			rel, err := filepath.Rel(src.path, p)
			if err != nil {
				return err
			}
			return cp.copyFile(ctx, fsPath{path: p}, join(dst, filepath.ToSlash(rel)))
		})
	}
	c, err := cp.f.get(ctx, src.db)
	if err != nil {
		return err
	}
	entries, truncated, err := c.ReadDirRecursive(ctx, src.path)
	if err != nil {
		return err
	}
	if truncated {
		return fmt.Errorf("%s has more than the 10,000 entries or 10 levels one listing walks; copy its subdirectories one by one", src)
	}
	for _, e := range entries {
		if e.Type != "file" {
			continue
		}
		rel := strings.TrimPrefix(strings.TrimPrefix(e.Path, strings.TrimRight(src.path, "/")), "/")
		to := join(dst, rel)
		if dst.db == "" {
			if err := os.MkdirAll(filepath.Dir(to.path), 0o755); err != nil {
				return err
			}
		}
		if err := cp.copyFile(ctx, fsPath{db: src.db, path: e.Path}, to); err != nil {
			return err
		}
	}
	return nil
}

// copyFile streams one file; a local destination is replaced only once
// the whole file arrived.
func (cp *copier) copyFile(ctx context.Context, src, dst fsPath) (err error) {
	prog, done := cp.a.progress(src.String())
	defer done()
	var r io.Reader
	size := int64(-1)
	switch {
	case src.db != "":
		c, err := cp.f.get(ctx, src.db)
		if err != nil {
			return err
		}
		pr, pw := io.Pipe()
		go func(prog func(int64, int64)) {
			_, err := c.ReadTo(ctx, src.path, pw, prog)
			pw.CloseWithError(err)
		}(prog)
		defer pr.Close()
		r, prog = pr, nil // the reading side reports progress
		if dst.db != "" {
			if st, err := c.Stat(ctx, src.path); err == nil {
				size = st.Size
			}
		}
	case src.path == "-":
		r = cp.a.stdin()
	default:
		f, err := os.Open(src.path)
		if err != nil {
			return err
		}
		defer f.Close()
		if fi, err := f.Stat(); err == nil {
			size = fi.Size()
		}
		r = f
	}
	if dst.db != "" {
		c, err := cp.f.get(ctx, dst.db)
		if err != nil {
			return err
		}
		var progs []func(int64, int64)
		if prog != nil {
			progs = append(progs, prog)
		}
		if _, err := c.WriteFrom(ctx, dst.path, r, size, progs...); err != nil {
			return fmt.Errorf("copy %s to %s: %w", src, dst, err)
		}
		return nil
	}
	if dst.path == "-" {
		_, err := io.Copy(cp.a.stdout(), r)
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst.path), ".db9-cp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = io.Copy(tmp, r); err != nil {
		return fmt.Errorf("copy %s to %s: %w", src, dst, err)
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	_ = os.Chmod(tmp.Name(), 0o644)
	return os.Rename(tmp.Name(), dst.path)
}
