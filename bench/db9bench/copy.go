package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
)

// benchCopy: copies of a data directory — by default the golden one every
// database, spare and branch starts from — with dirtree.Copy against
// `cp -a` (what a script would do), alternated in the same run.
func benchCopy(args []string) error {
	fs := flag.NewFlagSet("copy", flag.ExitOnError)
	e := commonFlags(fs)
	src := fs.String("src", "", "directory to copy (default: the golden data directory of a new server)")
	n := fs.Int("n", 20, "copies per side")
	fs.Parse(args)
	dir, cleanup, err := e.dataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	if *src == "" {
		srv, err := startServer(context.Background(), dir, 0, 0, 0)
		if err != nil {
			return err
		}
		srv.Close(context.Background())
		bin, err := pgbin.Find()
		if err != nil {
			return err
		}
		*src = layout.Layout{DataDir: filepath.Join(dir, "db9")}.Golden(bin.Major)
	}
	files, bytes := 0, int64(0)
	if err := filepath.Walk(*src, func(_ string, fi os.FileInfo, err error) error {
		if err == nil && fi.Mode().IsRegular() {
			files++
			bytes += fi.Size()
		}
		return err
	}); err != nil {
		return err
	}
	sides := []struct {
		name string
		copy func(dst string) error
	}{
		{"dirtree.Copy", func(dst string) error { return dirtree.Copy(*src, dst) }},
		{"cp -a", func(dst string) error { return exec.Command("cp", "-a", *src, dst).Run() }},
	}
	times := make([][]time.Duration, len(sides))
	for i := 0; i < *n; i++ {
		for k := range sides {
			s := sides[(k+i)%len(sides)] // alternate who goes first
			idx := (k + i) % len(sides)
			dst := filepath.Join(dir, "copy")
			start := time.Now()
			if err := s.copy(dst); err != nil {
				return fmt.Errorf("%s: %w", s.name, err)
			}
			times[idx] = append(times[idx], time.Since(start))
			if err := os.RemoveAll(dst); err != nil {
				return err
			}
		}
	}
	fmt.Printf("%s: %d files, %.1f MB\n\n| copier | n | p50 ms | max ms | ratio to cp -a p50 |\n|---|---|---|---|---|\n", *src, files, float64(bytes)/1e6)
	peer := summarize(times[1]).p50
	for k, s := range sides {
		st := summarize(times[k])
		fmt.Printf("| %s | %d | %s | %s | **%.2f** |\n", s.name, st.n, ms(st.p50), ms(st.max), float64(st.p50)/float64(peer))
	}
	return nil
}
