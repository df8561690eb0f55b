package local

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/db9/db9/internal/backup"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/postgres"
)

// goldens keeps the golden data directory of the binaries' major (built by
// postgres.BuildTemplate) and, while a database's first base backup is one,
// the golden directories of older recipes (as golden/<major>-<version>).
type goldens struct {
	bin   pgbin.Bin
	runAs pgbin.RunAs
	lay   layout.Layout
	log   *slog.Logger
	pmLog *slog.Logger      // given to the template's postmaster
	arch  *backup.Archiving // nil: no backup refers to a golden directory
	// recipe is the version of goldens built now: postgres' recipe with
	// the platform objects of extra.
	recipe string
	extra  postgres.Extra

	dir string // the current one, set by ensure
}

// ensure builds the golden data directory when missing or built by
// another recipe. It is built beside its final place and renamed into it,
// so a crash never leaves half a golden.
func (g *goldens) ensure(ctx context.Context) error {
	dir := g.lay.Golden(g.bin.Major)
	g.dir = dir
	if postgres.BuiltBy(dir) == g.recipe {
		return nil
	}
	start := time.Now()
	tmp := dir + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := postgres.BuildTemplate(ctx, g.bin, g.runAs, tmp, g.lay.GoldenSocketDir(), g.pmLog, g.extra); err != nil {
		return err
	}
	if err := g.retire(ctx, dir); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return err
	}
	g.log.Info("built golden data directory", logkey.Dir, dir, logkey.Ms, time.Since(start).Milliseconds())
	return nil
}

// retire removes the golden directory of an older recipe, or, when a
// database's first base backup is that golden copy, keeps it immutable as
// <dir>-<version> for as long as one does (prune removes it later).
func (g *goldens) retire(ctx context.Context, dir string) error {
	v := postgres.BuiltBy(dir)
	if v == "" {
		return os.RemoveAll(dir)
	}
	refs, err := g.referenced(ctx)
	if err != nil {
		return err
	}
	if !refs[v] {
		return os.RemoveAll(dir)
	}
	_ = os.RemoveAll(dir + "-" + v)
	return os.Rename(dir, dir+"-"+v)
}

// dirOf returns the golden data directory of a recipe version: the
// current one, or an older one kept because a base backup refers to it.
func (g *goldens) dirOf(version string) (string, error) {
	if version == g.recipe {
		return g.dir, nil
	}
	dir := g.dir + "-" + version
	if _, err := os.Stat(filepath.Join(dir, postgres.RecipeMarker)); err != nil {
		return "", fmt.Errorf("golden data directory of recipe %s is gone: %w", version, err)
	}
	return dir, nil
}

// referenced lists the golden recipe versions some database's base
// backup refers to.
func (g *goldens) referenced(ctx context.Context) (map[string]bool, error) {
	out := map[string]bool{}
	if g.arch == nil {
		return out, nil
	}
	s := g.arch.Store
	dbs, err := s.Databases(ctx)
	if err != nil {
		return nil, err
	}
	for _, db := range dbs {
		bs, err := s.ListBackups(ctx, db)
		if err != nil {
			return nil, err
		}
		for _, b := range bs {
			if b.Golden != "" {
				out[b.Golden] = true
			}
		}
	}
	return out, nil
}

// prune removes kept golden directories of older recipes that no base
// backup refers to any more.
func (g *goldens) prune(ctx context.Context) error {
	refs, err := g.referenced(ctx)
	if err != nil {
		return err
	}
	old, _ := filepath.Glob(g.dir + "-*")
	for _, dir := range old {
		v := strings.TrimPrefix(dir, g.dir+"-")
		if !refs[v] && !strings.HasSuffix(dir, ".tmp") {
			g.log.Info("removing unreferenced golden directory", logkey.Dir, dir)
			if err := os.RemoveAll(dir); err != nil {
				return err
			}
		}
	}
	return nil
}
