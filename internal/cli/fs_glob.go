package cli

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/wsclient"
)

// cpSource is one thing a copy reads and the slash-separated name it gets
// under a destination directory.
type cpSource struct {
	src  fsPath
	name string
}

func hasGlob(p string) bool { return strings.ContainsAny(p, "*?[") }

// globBase splits a pattern at its first segment with a glob character:
// the directory to list and whether the rest spans directories.
func globBase(pattern string) (base string, deep bool) {
	segs := strings.Split(strings.Trim(pattern, "/"), "/")
	for i, s := range segs {
		if hasGlob(s) {
			return "/" + strings.Join(segs[:i], "/"), i < len(segs)-1 || strings.Contains(s, "**")
		}
	}
	return pattern, false
}

// globMatch matches a slash path against a pattern of path.Match segments
// where ** stands for any number of directories.
func globMatch(pattern, name string) bool {
	return matchSegs(strings.Split(strings.Trim(pattern, "/"), "/"), strings.Split(strings.Trim(name, "/"), "/"))
}

func matchSegs(ps, ns []string) bool {
	for len(ps) > 0 {
		if ps[0] == "**" {
			for i := 0; i <= len(ns); i++ {
				if matchSegs(ps[1:], ns[i:]) {
					return true
				}
			}
			return false
		}
		if len(ns) == 0 {
			return false
		}
		if ok, _ := path.Match(ps[0], ns[0]); !ok {
			return false
		}
		ps, ns = ps[1:], ns[1:]
	}
	return len(ns) == 0
}

// expand turns a copy's source into what it names: itself, or, for a
// glob, every match (a directory only with -r), named relative to the
// pattern's fixed leading directory. A local pattern is expanded only
// when no file has that literal name (the shell usually expanded it).
func (cp *copier) expand(ctx context.Context, s fsPath) (srcs []cpSource, glob bool, err error) {
	self := []cpSource{{src: s, name: path.Base(filepath.ToSlash(strings.TrimRight(s.path, "/")))}}
	if !hasGlob(s.path) || s.path == "-" {
		return self, false, nil
	}
	if s.db == "" {
		if _, err := os.Lstat(s.path); err == nil {
			return self, false, nil
		}
		return cp.expandLocal(s)
	}
	for _, seg := range strings.Split(s.path, "/") {
		if _, err := path.Match(seg, ""); err != nil {
			return nil, true, fs9.Errorf(fs9.EINVAL, "bad pattern %s", s.path)
		}
	}
	c, err := cp.f.get(ctx, s.db)
	if err != nil {
		return nil, true, err
	}
	base, deep := globBase(s.path)
	var entries []wsclient.Info
	if deep {
		var truncated bool
		entries, truncated, err = c.ReadDirRecursive(ctx, base)
		if err == nil && truncated {
			return nil, true, fmt.Errorf("%s: %s has more than the 10,000 entries or 10 levels one listing walks; use a narrower pattern", s, base)
		}
	} else {
		entries, err = c.ReadDir(ctx, base)
	}
	if err != nil && !wsclient.IsCode(err, fs9.ENOENT) {
		return nil, true, err
	}
	for _, e := range entries {
		if !globMatch(s.path, e.Path) || !cp.wanted(e.Path, e.Type == "dir", e.Type == "file") {
			continue
		}
		srcs = append(srcs, cpSource{src: fsPath{db: s.db, path: e.Path}, name: strings.TrimPrefix(strings.TrimPrefix(e.Path, base), "/")})
	}
	if len(srcs) == 0 {
		return nil, true, fs9.Errorf(fs9.ENOENT, "no file matches %s", s.path)
	}
	return srcs, true, nil
}

func (cp *copier) expandLocal(s fsPath) ([]cpSource, bool, error) {
	matches, err := filepath.Glob(s.path)
	if err != nil {
		return nil, true, fmt.Errorf("bad pattern %s: %w", s.path, err)
	}
	base := filepath.Dir(s.path)
	for hasGlob(base) {
		base = filepath.Dir(base)
	}
	var srcs []cpSource
	for _, m := range matches {
		fi, err := os.Stat(m)
		if err != nil || !cp.wanted(m, fi.IsDir(), fi.Mode().IsRegular()) {
			continue
		}
		rel, err := filepath.Rel(base, m)
		if err != nil {
			return nil, true, err
		}
		srcs = append(srcs, cpSource{src: fsPath{path: m}, name: filepath.ToSlash(rel)})
	}
	if len(srcs) == 0 {
		return nil, true, fmt.Errorf("no file matches %s", s.path)
	}
	return srcs, true, nil
}

// wanted says whether a glob's match is copied: files, and directories
// with -r (noted when skipped, like cp(1)).
func (cp *copier) wanted(name string, dir, file bool) bool {
	if dir && !cp.recursive {
		cp.a.note("skipping directory %s (add -r to copy it)", name)
	}
	return file || dir && cp.recursive
}
