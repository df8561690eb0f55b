package pgtest

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/dirtree"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/postgres"
)

// Superuser is the bootstrap superuser of clusters made here.
const Superuser = "postgres"

// Cluster is a running throwaway PostgreSQL server.
type Cluster struct {
	Dir       string
	SocketDir string
	PM        *postgres.Process
}

// ConnString returns a keyword/value connection string for user on the
// cluster's socket, database postgres.
func (c *Cluster) ConnString(user string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable", c.SocketDir, layout.Port, user)
}

// Env returns the binaries and OS identity to run PostgreSQL with, skipping
// the test when the binaries are missing (failing under CI=true).
func Env(tb testing.TB) (pgbin.Bin, pgbin.RunAs) {
	tb.Helper()
	bin, err := pgbin.Find()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("PostgreSQL binaries are required under CI=true: %v", err)
		}
		tb.Skipf("skipping: %v", err)
	}
	runAs, err := pgbin.ResolveRunAs()
	if err != nil {
		tb.Fatal(err)
	}
	return bin, runAs
}

// TempDir returns a fresh directory for test data under /dev/shm when it
// exists (disk I/O on the build machines is slow), reachable by the OS user
// PostgreSQL runs as, removed at the end of the test.
func TempDir(tb testing.TB) string {
	tb.Helper()
	base := os.TempDir()
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		base = "/dev/shm"
	}
	dir, err := os.MkdirTemp(base, "db9t-")
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.Chmod(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { os.RemoveAll(dir) })
	return dir
}

var (
	templateOnce sync.Once
	templateDir  string
	templateErr  error
)

// templateRecipe names the way the template is made; change it when
// InitDB's arguments change so old templates are not reused.
const templateRecipe = "v1"

// template returns an initdb'd cluster to copy. It is shared by every test
// process and run on the machine under a fixed name (made in a temporary
// directory and renamed into place, so it is always complete), so tests do
// not pay initdb each time nor leave a template per process behind.
func template(bin pgbin.Bin, runAs pgbin.RunAs) (string, error) {
	templateOnce.Do(func() {
		base := "/dev/shm"
		if _, err := os.Stat(base); err != nil {
			base = os.TempDir()
		}
		final := filepath.Join(base, fmt.Sprintf("db9t-template-%d-%s-%d", bin.Major, templateRecipe, runAs.UID))
		templateDir = layout.ClusterAt(final).Data
		if _, err := os.Stat(filepath.Join(templateDir, "PG_VERSION")); err == nil {
			return
		}
		d, err := os.MkdirTemp(base, "db9t-tmpl-")
		if err != nil {
			templateErr = err
			return
		}
		_ = os.Chmod(d, 0o755)
		if templateErr = postgres.InitDB(context.Background(), bin, runAs, layout.ClusterAt(d).Data, Superuser, 1); templateErr != nil {
			os.RemoveAll(d)
			return
		}
		if err := os.Rename(d, final); err != nil {
			os.RemoveAll(d) // another process made it first
			if _, err := os.Stat(filepath.Join(templateDir, "PG_VERSION")); err != nil {
				templateErr = fmt.Errorf("template %s: %w", final, err)
			}
		}
	})
	return templateDir, templateErr
}

// Start runs a fresh cluster for the test and stops it at cleanup.
func Start(tb testing.TB) *Cluster {
	tb.Helper()
	bin, runAs := Env(tb)
	tmpl, err := template(bin, runAs)
	if err != nil {
		tb.Fatalf("initdb template: %v", err)
	}
	dir := TempDir(tb)
	cl := layout.ClusterAt(dir)
	if err := dirtree.Copy(tmpl, cl.Data); err != nil {
		tb.Fatal(err)
	}
	pm, err := postgres.Start(context.Background(), postgres.Options{
		Bin: bin, RunAs: runAs, DataDir: cl.Data, SocketDir: cl.SocketDir,
		Settings: map[string]string{"fsync": "off", "shared_buffers": "16MB", "max_connections": "50"},
	})
	if err != nil {
		tb.Fatalf("start postgres: %v", err)
	}
	tb.Cleanup(func() { _ = pm.Stop(10 * time.Second) })
	return &Cluster{Dir: dir, SocketDir: cl.SocketDir, PM: pm}
}

// QueryRowInt runs a query returning one integer as the superuser.
func (c *Cluster) QueryRowInt(tb testing.TB, sql string, dst *int) error {
	tb.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString(Superuser))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	return conn.QueryRow(ctx, sql).Scan(dst)
}
