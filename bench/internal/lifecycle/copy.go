package lifecycle

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
)

// Copy: copies of a data directory — by default the golden one every
// database, spare and branch starts from — with dirtree.Copy against
// `cp -a` (what a script would do), alternated in the same run.
func Copy(args []string) error {
	fs := flag.NewFlagSet("copy", flag.ExitOnError)
	e := harness.Flags(fs)
	src := fs.String("src", "", "directory to copy (default: the golden data directory of a new server)")
	n := fs.Int("n", 20, "copies per side")
	fs.Parse(args)
	dir, cleanup, err := e.DataDir()
	if err != nil {
		return err
	}
	defer cleanup()
	if *src == "" {
		srv, err := harness.StartServer(context.Background(), dir, 0, 0, 0)
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
	peer := harness.Summarize(times[1]).P50
	for k, s := range sides {
		st := harness.Summarize(times[k])
		fmt.Printf("| %s | %d | %s | %s | **%.2f** |\n", s.name, st.N, harness.MS(st.P50), harness.MS(st.Max), float64(st.P50)/float64(peer))
	}
	return nil
}
