package catalog

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/postgres"
)

// Config configures a Catalog.
type Config struct {
	// URL of an external PostgreSQL; empty means the managed cluster under DataDir.
	URL     string
	DataDir string
	Bin     pgbin.Bin
	RunAs   pgbin.RunAs
	Logger  *slog.Logger
	// UseRunning lets an operator command share the managed cluster a
	// running server already started, instead of taking it over.
	UseRunning bool
}

// Catalog is the open metadata store: its own lifecycle (Open, Close)
// and, as fields, the stores of each domain, which share its pool. The
// fields are set by New and usable once Open returned.
type Catalog struct {
	cfg Config
	log *slog.Logger
	pm  *postgres.Process // the managed cluster, nil for an external one
	*poolRef

	Accounts    *Accounts
	Tokens      *Tokens
	Databases   *Databases
	Branches    *Branches
	ConnectKeys *ConnectKeys
	DataPlane   *DataPlane
	Functions   *Functions
	Runs        *Runs
	Secrets     *Secrets
	Scheduler   *Scheduler
	Observe     *Observe
}

// poolRef is what a Catalog and its domain stores hold in common: the
// pool, set by Open and cleared by Close, so a store taken from the
// Catalog before Open works once it is open. writerPool is the run
// writer's (RunWriter): two connections on which PostgreSQL plans each
// prepared statement once (plan_cache_mode = force_generic_plan). Its
// unnest statements otherwise got a custom plan at every flush, a quarter
// of the catalog's CPU per invoke (docs/BENCHMARKS.md, issue 14).
type poolRef struct{ pool, writerPool *pgxpool.Pool }

// superuser of the managed catalog cluster.
const superuser = "db9"

// New returns a Catalog; it does no I/O until Open.
func New(cfg Config) *Catalog {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	p := &poolRef{}
	return &Catalog{cfg: cfg, log: cfg.Logger.With(logkey.Component, "catalog"), poolRef: p,
		Accounts: &Accounts{p}, Tokens: &Tokens{p}, Databases: &Databases{p}, Branches: &Branches{p},
		ConnectKeys: &ConnectKeys{p}, DataPlane: &DataPlane{p}, Functions: &Functions{p}, Runs: &Runs{p},
		Secrets: &Secrets{p}, Scheduler: &Scheduler{p}, Observe: &Observe{p}}
}

// Open starts the managed cluster when needed (or uses one already running
// on it, e.g. the server's while an operator command runs), connects, and
// applies migrations.
func (c *Catalog) Open(ctx context.Context) error {
	url := c.cfg.URL
	if url == "" {
		sock, err := c.openManaged(ctx)
		if err != nil {
			return err
		}
		url = fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable application_name=db9-catalog", sock, layout.Port, superuser)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return fmt.Errorf("catalog url: %w", err)
	}
	cfg.MaxConns = 16
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return fmt.Errorf("connect catalog: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		c.closeManaged()
		return fmt.Errorf("connect catalog: %w", err)
	}
	c.pool = pool
	wcfg := cfg.Copy()
	wcfg.MaxConns = 2
	wcfg.ConnConfig.RuntimeParams["plan_cache_mode"] = "force_generic_plan"
	if c.writerPool, err = pgxpool.NewWithConfig(ctx, wcfg); err != nil {
		c.Close(ctx)
		return fmt.Errorf("connect catalog: %w", err)
	}
	if err := migrate(ctx, pool); err != nil {
		c.Close(ctx)
		return err
	}
	return nil
}

func (c *Catalog) openManaged(ctx context.Context) (string, error) {
	cl := layout.Layout{DataDir: c.cfg.DataDir}.Catalog()
	dir, data, sock := cl.Dir, cl.Data, cl.SocketDir
	if _, err := os.Stat(filepath.Join(data, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		if err := c.initManaged(ctx, dir, data); err != nil {
			return "", err
		}
	}
	if c.cfg.UseRunning && running(data) {
		// Another db9 process (the server) runs it; share it.
		return sock, nil
	}
	pm, err := postgres.Start(ctx, postgres.Options{
		Bin: c.cfg.Bin, RunAs: c.cfg.RunAs, DataDir: data, SocketDir: sock,
		Logger: c.cfg.Logger.With(logkey.DB, "catalog"), // its postmaster logs as postgres
	})
	if err != nil {
		return "", fmt.Errorf("start catalog: %w", err)
	}
	c.pm = pm
	return sock, nil
}

// initManaged initdb's the catalog cluster in a temporary directory and
// renames it into place, so a crash never leaves half a catalog.
func (c *Catalog) initManaged(ctx context.Context, dir, data string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := c.cfg.RunAs.CheckReachable(dir); err != nil {
		return err
	}
	tmp := data + ".tmp"
	_ = os.RemoveAll(tmp)
	if err := postgres.InitDB(ctx, c.cfg.Bin, c.cfg.RunAs, tmp, superuser, 0); err != nil {
		return fmt.Errorf("create catalog cluster: %w", err)
	}
	conf := "\n# db9 catalog settings\nlisten_addresses = ''\nunix_socket_permissions = 0700\nmax_connections = 40\nshared_buffers = 32MB\ntimezone = 'UTC'\nlog_timezone = 'UTC'\nlog_min_messages = warning\n"
	f, err := os.OpenFile(filepath.Join(tmp, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = f.WriteString(conf)
	f.Close()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(tmp, "pg_hba.conf"), []byte("local all all trust\n"), 0o600); err != nil {
		return err
	}
	if err := c.cfg.RunAs.ChownTree(tmp); err != nil {
		return err
	}
	return os.Rename(tmp, data)
}

// running reports whether a live postmaster holds the data directory.
func running(data string) bool {
	return postgres.Alive(data)
}

// Close closes the pool and stops the managed cluster this process started.
func (c *Catalog) Close(ctx context.Context) error {
	if c.pool != nil {
		c.pool.Close()
		c.pool = nil
	}
	if c.writerPool != nil {
		c.writerPool.Close()
		c.writerPool = nil
	}
	c.closeManaged()
	return nil
}

func (c *Catalog) closeManaged() {
	if c.pm != nil {
		if err := c.pm.Stop(30 * time.Second); err != nil {
			c.log.Warn("stop catalog", logkey.Err, err)
		}
		c.pm = nil
	}
}

// Pool is the connection pool the stores share (for the pool metrics).
func (c *Catalog) Pool() *pgxpool.Pool { return c.pool }
