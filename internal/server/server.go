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
	"github.com/db9/db9/internal/controlapi"
	"github.com/db9/db9/internal/dataapi"
	"github.com/db9/db9/internal/dataplane"
	fs9schema "github.com/db9/db9/internal/fs9/schema"
	"github.com/db9/db9/internal/fs9/wsserver"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/observe"
	"github.com/db9/db9/internal/oidc"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/pgproxy"
	"github.com/db9/db9/internal/placement/local"
	"github.com/db9/db9/internal/platformsql"
	"github.com/db9/db9/internal/web"
)

// Server is a running db9 server.
type Server struct {
	cfg  config.Server
	log  *slog.Logger
	cat  *catalog.Catalog
	inst *local.Driver
	svc  *control.Service
	dp   *control.DataPlane
	fn   *control.Functions // functions.go
	fnp  *worker.Pool
	pg   *pgproxy.Proxy
	http *http.Server
	ln   net.Listener
	done chan error

	metrics *observe.Metrics // observe.go
	reqs    *observe.Requests
	col     *observe.Collector
	colOpen bool

	fs9     *wsserver.Server // fs9.go
	fs9http *http.Server
	fs9ln   net.Listener
}

// New returns a Server for a validated configuration; it does no I/O.
func New(cfg config.Server, log *slog.Logger) *Server {
	return &Server{cfg: cfg, log: log}
}

// Open starts every component and begins serving HTTP. On error whatever
// was started is closed again.
func (s *Server) Open(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.Close(context.Background())
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
	s.log.Info("starting", "component", "server", "data_dir", s.cfg.DataDir, "postgres", bin.Dir, "major", bin.Major, "os_user", runAs.Name)
	sealer, err := auth.LoadOrCreateMasterKey(s.cfg.DataDir)
	if err != nil {
		return err
	}
	s.newMetrics()
	s.cat = catalog.New(catalog.Config{URL: s.cfg.CatalogURL, DataDir: s.cfg.DataDir, Bin: bin, RunAs: runAs, Logger: s.log})
	if err := s.cat.Open(ctx); err != nil {
		return fmt.Errorf("open catalog: %w", err)
	}
	archiving, err := s.archiving(runAs)
	if err != nil {
		return err
	}
	s.inst = local.New(local.Config{
		Bin: bin, RunAs: runAs, DataDir: s.cfg.DataDir, IdleTimeout: s.cfg.IdleTimeout,
		WarmPool: s.cfg.WarmPool, WarmPoolMax: s.cfg.WarmPoolMax, SparePool: s.cfg.SparePool, Logger: s.log, Archive: archiving,
		Platform: platformObjects(), Events: s.instanceEvents(),
	})
	s.watch()
	var verifier *oidc.Verifier
	if s.cfg.OIDCIssuer != "" {
		verifier = oidc.New(oidc.Config{Issuer: s.cfg.OIDCIssuer, Audience: s.cfg.OIDCAudience, JWKSURL: s.cfg.OIDCJWKSURL})
	}
	s.svc = control.New(control.Config{
		Region: s.cfg.Region, PublicHost: s.cfg.PublicHost, PublicPort: s.cfg.PGPort(),
		AnonymousDBLimit: s.cfg.AnonymousDBLimit, OIDC: verifier, PITRRetention: s.cfg.PITRRetention,
		Requests: s.reqs,
	}, s.cat, s.inst, sealer, s.log)
	if err := s.svc.Reconcile(ctx); err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}

	signer, err := auth.LoadOrCreateConnectKey(s.cfg.DataDir)
	if err != nil {
		return err
	}
	tlsCfg, err := pgproxy.LoadTLS(s.cfg.DataDir, s.cfg.TLSCert, s.cfg.TLSKey, s.cfg.PublicHost)
	if err != nil {
		return err
	}
	pga := control.NewPGAccess(s.svc, signer, true)
	s.pg = pgproxy.New(pgproxy.Config{Addr: s.cfg.PGAddr, TLS: tlsCfg, Auth: pga, PublicHost: s.cfg.PublicHost, MaxConnsPerDB: s.cfg.PGMaxConns, RelayLoops: s.cfg.PGRelayLoops, Logger: s.log, Events: s.metrics})
	if err := s.pg.Open(); err != nil {
		return err
	}
	s.openCollector()

	s.dp = control.NewDataPlane(s.cat, jwtverify.NewKeyCache(jwtverify.KeyCacheConfig{AllowPrivate: s.cfg.AllowPrivateJWKS}), s.svc.GetDatabase, s.log)
	s.svc.OnDatabaseDeleted(s.dp.ForgetDatabase)
	data := dataplane.New(dataplane.Config{Keys: s.dp, Placement: s.inst, Logger: s.log, Requests: s.reqs})
	s.svc.OnDatabaseDeleted(data.Forget)

	mux := http.NewServeMux()
	if err := s.openFS9(pga, s.inst, tlsCfg, mux); err != nil {
		return err
	}
	if err := s.openFunctions(ctx, sealer); err != nil {
		return err
	}
	obs := control.NewObservability(s.svc.GetDatabase, s.cat, s.col)
	controlapi.New(s.svc, s.log).WithPGAccess(pga).WithDataPlane(s.dp).WithFunctions(s.fn).WithObservability(obs).Register(mux)
	mux.Handle("GET /metrics", s.metrics.Handler())
	mux.HandleFunc("GET /.well-known/db9-connect-jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=300")
		web.WriteJSON(w, http.StatusOK, pga.JWKS())
	})
	data.Register(mux)
	consoleHandler := console.Handler()
	mux.Handle("GET /console", consoleHandler)
	mux.Handle("GET /console/", consoleHandler)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		web.WriteJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	s.ln, err = net.Listen("tcp", s.cfg.HTTPAddr)
	if err != nil {
		return fmt.Errorf("listen on --http-addr %s: %w", s.cfg.HTTPAddr, err)
	}
	s.fs9HTTPURL(pga, s.ln)
	s.http = &http.Server{
		Handler:           s.metrics.HTTP(mux, web.Middleware(mux, s.log)),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
	}
	s.done = make(chan error, 1)
	hs, ln, done := s.http, s.ln, s.done // Close may clear the fields before this runs
	go func() { done <- hs.Serve(ln) }()
	s.log.Info("serving", "component", "server", "http_addr", s.ln.Addr().String(), "pg_addr", s.pg.Addr(), "fs9_addr", s.FS9Addr())
	return nil
}

// HTTPAddr is the address the HTTP server listens on.
func (s *Server) HTTPAddr() string { return s.ln.Addr().String() }

// PGAddr is the address the PostgreSQL front door listens on.
func (s *Server) PGAddr() string { return s.pg.Addr() }

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

// Close stops serving and shuts every instance and the catalog down. It is
// idempotent.
func (s *Server) Close(ctx context.Context) error {
	if s.http != nil {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_ = s.http.Shutdown(sctx)
		cancel()
		s.http = nil
	}
	s.closeFS9(ctx)
	if s.pg != nil {
		_ = s.pg.Close()
		s.pg = nil
	}
	s.closeFunctions(ctx)
	if s.colOpen { // a last reading of every running instance, functions' runs included
		s.col.Close(ctx)
		s.colOpen = false
	}
	if s.svc != nil {
		s.svc.Close() // branches still cloning resume at the next start
	}
	if s.dp != nil {
		s.dp.Close()
	}
	if s.inst != nil {
		_ = s.inst.Close(ctx)
		s.inst = nil
	}
	if s.cat != nil {
		_ = s.cat.Close(ctx)
		s.cat = nil
	}
	return nil
}

// platformObjects is the platform's objects inside every database, one part
// per subsystem, applied in this order (internal/platformsql): to the
// golden directory, and once to every older database at its next start.
func platformObjects() *platformsql.Set {
	return platformsql.New(
		platformsql.Part{Name: "db9", SQL: control.PlatformSQL},
		platformsql.Part{Name: "dataapi", SQL: dataapi.PlatformSQL},
		platformsql.Part{Name: "dataplane", SQL: dataplane.PlatformSQL},
		platformsql.Part{Name: "fs9", SQL: fs9schema.InstallSQL()},
	)
}
