package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/config"
	"github.com/db9/db9/internal/console"
	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/dbadmin"
	"github.com/db9/db9/internal/control/observability"
	"github.com/db9/db9/internal/controlapi"
	"github.com/db9/db9/internal/dataapi"
	"github.com/db9/db9/internal/dataplane"
	fs9schema "github.com/db9/db9/internal/fs9/schema"
	"github.com/db9/db9/internal/fs9/wsserver"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/neon"
	"github.com/db9/db9/internal/observe"
	"github.com/db9/db9/internal/oidc"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/pgproxy"
	"github.com/db9/db9/internal/placement/local"
	"github.com/db9/db9/internal/platformsql"
	"github.com/db9/db9/internal/scheduler"
	"github.com/db9/db9/internal/web"
)

// Server is a running db9 server: the composition root. Open opens the
// components in order (catalog, function workers, control with the
// placement driver, the wire front door, fs9, the scheduler, HTTP); Close
// closes them in reverse.
type Server struct {
	cfg  config.Server
	base *slog.Logger // given to the components, which name themselves
	log  *slog.Logger // the server's own lines
	cat  *catalog.Catalog
	svc  *control.Service
	fnp  *worker.Pool // functions.go: the workers of control/functions.Functions
	pg   *pgproxy.Proxy
	http *http.Server
	ln   net.Listener
	done chan error

	sched *scheduler.Scheduler

	metrics *observe.Metrics // observe.go
	reqs    *observe.Requests
	col     *observe.Collector
	colOpen bool

	fs9     *wsserver.Server // fs9.go
	fs9http *http.Server
	fs9ln   net.Listener
	fs9done chan struct{} // closed when the fs9 listener's goroutine ends
}

// New returns a Server for a validated configuration; it does no I/O.
func New(cfg config.Server, log *slog.Logger) *Server {
	return &Server{cfg: cfg, base: log, log: log.With(logkey.Component, "server")}
}

// Open starts every component and begins serving HTTP. On error whatever
// was started is closed again.
func (s *Server) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			if cerr := s.Close(context.WithoutCancel(ctx)); cerr != nil {
				s.log.Error("close after a failed start", logkey.Err, cerr)
			}
		}
	}()
	bin, err := pgbin.Find()
	if err != nil {
		return err
	}
	runAs, err := pgbin.ResolveRunAs()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.cfg.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	if err := runAs.CheckReachable(s.cfg.DataDir + "/x"); err != nil {
		return err
	}
	s.log.Info("starting", logkey.DataDir, s.cfg.DataDir, logkey.Postgres, bin.Dir, logkey.Major, bin.Major, logkey.OSUser, runAs.Name)
	sealer, err := auth.LoadOrCreateMasterKey(s.cfg.DataDir)
	if err != nil {
		return err
	}
	s.newMetrics()
	s.cat = catalog.New(catalog.Config{URL: s.cfg.CatalogURL, DataDir: s.cfg.DataDir, Bin: bin, RunAs: runAs, Logger: s.base})
	if err := s.cat.Open(ctx); err != nil {
		return fmt.Errorf("open catalog: %w", err)
	}
	archiving, err := s.archiving(runAs)
	if err != nil {
		return err
	}
	place := local.New(local.Config{
		Bin: bin, RunAs: runAs, DataDir: s.cfg.DataDir, IdleTimeout: s.cfg.IdleTimeout,
		WarmPool: s.cfg.WarmPool, WarmPoolMax: s.cfg.WarmPoolMax, SparePool: s.cfg.SparePool, Logger: s.base, Archive: archiving,
		Platform: platformObjects(), MaxConnections: s.cfg.InstanceMaxConnections(), Events: s.instanceEvents(),
	})
	s.watch(place)
	var verifier *oidc.Verifier
	if s.cfg.OIDCIssuer != "" {
		verifier = oidc.New(oidc.Config{Issuer: s.cfg.OIDCIssuer, Audience: s.cfg.OIDCAudience, JWKSURL: s.cfg.OIDCJWKSURL})
	}
	signer, err := auth.LoadOrCreateConnectKey(s.cfg.DataDir)
	if err != nil {
		return err
	}
	tlsCfg, err := pgproxy.LoadTLS(s.cfg.DataDir, s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.PublicHost)
	if err != nil {
		return err
	}
	fetcher, bundles, err := s.openWorkers(ctx)
	if err != nil {
		return err
	}
	// control owns the placement driver from here: its Open opens the
	// driver with the databases the catalog keeps, its Close closes it.
	s.svc = control.New(control.Config{
		Region: s.cfg.Region, PublicHost: s.cfg.PublicHost, PublicPort: s.cfg.PGPort(), PooledPort: s.cfg.PGPoolPort(),
		AnonymousDBLimit: s.cfg.AnonymousDBLimit, OIDC: verifier, PITRRetention: s.cfg.PITRRetention,
		FrontDoorTLS: tlsCfg != nil,
	}, control.Deps{Catalog: s.cat, Placement: place, Sealer: sealer, Signer: signer, Bin: bin, Logger: s.base,
		KeyCache: jwtverify.NewKeyCache(jwtverify.KeyCacheConfig{AllowPrivate: s.cfg.AllowPrivateJWKS}),
		Workers:  s.fnp, Fetcher: fetcher, S3: bundles, FunctionRunEnded: func(status string) { s.metrics.FunctionRuns.WithLabelValues(status).Inc() },
		RunJournal: layout.Layout{DataDir: s.cfg.DataDir}.RunJournal()})
	if err := s.svc.Open(ctx); err != nil {
		return fmt.Errorf("open control: %w", err)
	}
	s.svc.SQL.ObserveRequests(s.reqs)

	wire := s.svc.Wire
	s.pg = pgproxy.New(pgproxy.Config{Addr: s.cfg.PGAddr, TLS: tlsCfg, Auth: wire, PublicHost: s.cfg.PublicHost, MaxConnsPerDB: s.cfg.PGMaxConns, RelayLoops: s.cfg.PGRelayLoops, Logger: s.base,
		PoolAddr: s.cfg.PGPoolAddr, PoolIdleTimeout: s.cfg.PGPoolIdleTimeout, Placement: place, Events: s.metrics})
	if err := s.pg.Open(ctx); err != nil {
		return err
	}
	s.openCollector(place)

	data := dataplane.New(dataplane.Config{Keys: s.svc.DataPlane, Placement: place, Logger: s.base, Requests: s.reqs})
	s.svc.Databases.OnDatabaseDeleted(data.Forget)

	mux := http.NewServeMux()
	if err := s.openFS9(ctx, wire, place, tlsCfg, mux); err != nil {
		return err
	}
	if err := s.openScheduler(ctx, place); err != nil {
		return err
	}
	obs := observability.New(s.svc.Databases.GetDatabase, s.cat.Observe, s.col)
	controlapi.New(s.svc, s.base).WithObservability(obs).Register(mux)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /.well-known/db9-connect-jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		web.WriteJSON(w, http.StatusOK, wire.JWKS())
	})
	data.Register(mux)
	neon.New(neon.Config{Auth: wire, Tunnel: s.pg, PublicHost: s.cfg.PublicHost, Logger: s.base}).Register(mux)
	consoleHandler := console.Handler()
	mux.Handle("GET /console", consoleHandler)
	mux.Handle("GET /console/", consoleHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	var lc net.ListenConfig
	s.ln, err = lc.Listen(ctx, "tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", s.cfg.HTTPAddr, err)
	}
	s.fs9HTTPURL(wire, s.ln)
	s.http = &http.Server{
		Handler:           s.metrics.HTTP(mux, web.Middleware(mux, s.base)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.base.With(logkey.Component, "http").Handler(), slog.LevelDebug),
	}
	s.done = make(chan error, 1)
	hs, ln, done := s.http, s.ln, s.done // Close may clear the fields before this runs
	go func() { done <- hs.Serve(ln) }()
	s.log.Info("serving", logkey.HTTPAddr, s.ln.Addr().String(), logkey.PGAddr, s.pg.Addr(), logkey.PGPoolAddr, s.pg.PoolAddr(), logkey.FS9Addr, s.fs9Addr())
	return nil
}

// Wait blocks until ctx ends or the HTTP server fails.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-s.done:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// Close stops serving and closes every component in the reverse order of
// opening: HTTP, the scheduler, fs9, the wire front door, control (function runs end;
// branches still cloning resume at the next start; every instance stops),
// the function workers, the catalog. It
// reports every component that failed to close. It is idempotent.
func (s *Server) Close(ctx context.Context) error {
	var errs []error
	if s.http != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		if err := s.http.Shutdown(sctx); err != nil {
			errs = append(errs, fmt.Errorf("close http: %w", err))
		}
		cancel()
		s.http = nil
	}
	if s.sched != nil {
		// runs cut off record so in the database
		if err := s.sched.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close scheduler: %w", err))
		}
		s.sched = nil
	}
	if err := s.closeFS9(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.pg != nil {
		if err := s.pg.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close wire front door: %w", err))
		}
		s.pg = nil
	}
	if s.colOpen { // a last reading of every running instance
		s.col.Close(ctx)
		s.colOpen = false
	}
	if s.svc != nil {
		if err := s.svc.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close control: %w", err))
		}
		s.svc = nil
	}
	if err := s.closeWorkers(ctx); err != nil {
		errs = append(errs, err)
	}
	if s.cat != nil {
		if err := s.cat.Close(ctx); err != nil {
			errs = append(errs, fmt.Errorf("close catalog: %w", err))
		}
		s.cat = nil
	}
	return errors.Join(errs...)
}

// platformObjects is the platform's objects inside every database, one part
// per subsystem, applied in this order (internal/platformsql): to the
// golden directory, and once to every older database at its next start.
func platformObjects() *platformsql.Set {
	return platformsql.New(
		platformsql.Part{Name: "db9", SQL: dbadmin.PlatformSQL},
		platformsql.Part{Name: "dataapi", SQL: dataapi.PlatformSQL},
		platformsql.Part{Name: "dataplane", SQL: dataplane.PlatformSQL},
		platformsql.Part{Name: "fs9", SQL: fs9schema.InstallSQL()},
		platformsql.Part{Name: "cron", SQL: scheduler.PlatformSQL},
		platformsql.Part{Name: "pgcompat", SQL: pgproxy.PlatformSQL},
	)
}
