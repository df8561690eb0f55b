package control

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/oidc"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
)

// Config is the part of the server configuration the use cases need.
type Config struct {
	Region     string
	PublicHost string
	PublicPort int
	// PooledPort is the public port of the pooled endpoint; 0: none.
	PooledPort       int
	AnonymousDBLimit int
	SQLLimits        sqlexec.Limits
	// PITRRetention is how far back a branch's snapshot_at may reach.
	PITRRetention time.Duration
	// OIDC verifies the id_token of POST /customer/claim; nil when no
	// issuer is configured (claim answers 501).
	OIDC *oidc.Verifier
	// FrontDoorTLS says whether the PostgreSQL front door offers TLS (it
	// is reported in connect-token answers).
	FrontDoorTLS bool
}

// Deps are the collaborators of the use cases, built by the server.
type Deps struct {
	Catalog   *catalog.Catalog
	Placement placement.Driver
	Sealer    *auth.Sealer
	// Signer signs connect tokens; nil leaves Service.Wire nil (its
	// routes answer 501).
	Signer *auth.ConnectSigner
	// Bin are the PostgreSQL client programs (pg_dump).
	Bin pgbin.Bin
	// Workers run function invocations; nil leaves Service.Functions nil
	// (its routes answer 501). The server opens the pool before
	// Service.Open and closes it after Service.Close.
	Workers *worker.Pool
	// Fetcher performs fetch for functions; nil: a default one.
	Fetcher *egress.Fetcher
	// KeyCache checks the jwks_urls of auth-configs and is the one the
	// data API's verifiers share; nil leaves Service.DataPlane nil (its
	// routes answer 501).
	KeyCache *jwtverify.KeyCache
	Logger   *slog.Logger
	// FunctionRunEnded is told the status of every function run as it is
	// recorded (metrics); nil: none.
	FunctionRunEnded func(status string)
}

// Service is the control plane as one component: the use cases, grouped
// by concern into types of their own, and the lifecycle they share. Open
// reconciles the catalog with the placement driver and opens it; Close
// stops the background work of the use cases and closes the driver.
//
// The use cases share two small collaborators instead of each other's
// fields: a directory (the catalog and its cached database lookups) and
// instances (leases on running databases, with their errors made public).
type Service struct {
	Accounts  *Accounts
	Databases *Databases
	Branches  *Branches
	SQL       *SQL
	Wire      *WireAccess // nil without Deps.Signer
	DataPlane *DataPlane  // nil without Deps.KeyCache
	Functions *Functions  // nil without Deps.Workers

	cat   *catalog.Catalog
	place placement.Driver
	log   *slog.Logger
}

// cacheTTL bounds how long a cached token or database lookup is trusted.
const cacheTTL = 5 * time.Second

// New wires the use cases from their dependencies. It does no I/O.
func New(cfg Config, d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(logkey.Component, "control")
	dir := newDirectory(d.Catalog)
	inst := &instances{place: d.Placement, log: log}
	door := frontDoor{host: cfg.PublicHost, port: cfg.PublicPort, pooledPort: cfg.PooledPort}
	q := quota{anonymousLimit: cfg.AnonymousDBLimit}
	s := &Service{cat: d.Catalog, place: d.Placement, log: log,
		Accounts:  newAccounts(d.Catalog, dir, q, cfg.OIDC, log),
		Databases: newDatabases(cfg.Region, d.Catalog, d.Placement, d.Sealer, dir, inst, door, q, log),
		Branches:  newBranches(cfg.PITRRetention, d.Catalog, d.Placement, d.Sealer, dir, q, log),
		SQL:       newSQL(cfg.SQLLimits, d.Bin, dir, inst, log),
	}
	s.Databases.OnDatabaseDeleted(s.SQL.forget)
	if d.Signer != nil {
		s.Wire = newWireAccess(d.Catalog, d.Signer, cfg.FrontDoorTLS, dir, inst, door, log)
	}
	if d.KeyCache != nil {
		s.DataPlane = newDataPlane(d.Catalog, d.KeyCache, s.Databases.GetDatabase, log)
		s.Databases.OnDatabaseDeleted(s.DataPlane.ForgetDatabase)
	}
	if d.Workers != nil {
		// Functions is a subsystem of its own in the log (component functions).
		s.Functions = newFunctions(functionsDeps{Catalog: d.Catalog, Instances: d.Placement, Sealer: d.Sealer, Pool: d.Workers,
			Lookup: s.Databases.GetDatabase, Fetcher: d.Fetcher, SQLLimits: cfg.SQLLimits, Logger: d.Logger,
			RunEnded: d.FunctionRunEnded})
		s.Databases.OnDatabaseDeleted(s.Functions.ForgetDatabase)
	}
	return s
}

// Open brings the catalog and the disk into agreement after a start,
// finishing or rolling back what a crash cut off, opens the placement
// driver and resumes the branches a shutdown interrupted. It must run
// before any request is served.
func (s *Service) Open(ctx context.Context) error {
	rows, err := s.cat.Databases.InStates(ctx, platform.StateCreating, platform.StateActive, platform.StateCloning, platform.StateDisabling)
	if err != nil {
		return fmt.Errorf("list databases: %w", err)
	}
	keep := map[string]bool{}
	var deleting, creating []string
	for _, d := range rows {
		switch d.State {
		case platform.StateActive:
			keep[d.ID] = true
		case platform.StateCloning:
			// made again from scratch below: Open removes what a crash left
		case platform.StateDisabling:
			deleting = append(deleting, d.ID)
		case platform.StateCreating:
			creating = append(creating, d.ID)
		}
	}
	missing, err := s.place.Open(ctx, keep)
	if err != nil {
		return fmt.Errorf("open placement: %w", err)
	}
	for _, id := range deleting { // files already removed by Open (not in keep)
		if err := s.cat.Databases.FinishDelete(ctx, id); err != nil {
			return err
		}
		s.log.Info("finished interrupted delete", logkey.DB, id)
	}
	for _, id := range creating {
		if err := s.cat.Databases.DeleteRow(ctx, id); err != nil {
			return err
		}
		s.log.Info("rolled back interrupted create", logkey.DB, id)
	}
	for _, id := range missing {
		s.log.Error("database has no instance directory; marking CREATE_FAILED", logkey.DB, id)
		if err := s.cat.Databases.SetState(ctx, id, platform.StateCreateFailed, "instance files missing"); err != nil {
			return err
		}
		delete(keep, id)
	}
	if err := s.Branches.resume(ctx, rows, keep); err != nil {
		return err
	}
	if s.Functions != nil {
		if err := s.Functions.open(ctx); err != nil {
			return fmt.Errorf("open functions: %w", err)
		}
	}
	return nil
}

// Close lets function runs in progress end, stops the branches being
// cloned (their rows stay CLONING and are made again at the next start),
// waits for every goroutine the use cases started, then closes the placement driver, stopping every instance. Call
// it before closing the catalog. It is idempotent.
func (s *Service) Close(ctx context.Context) error {
	if s.Functions != nil {
		s.Functions.close(ctx) // runs in progress end first: they hold leases
	}
	s.Branches.close()
	s.Accounts.close()
	if s.DataPlane != nil {
		s.DataPlane.close()
	}
	if err := s.place.Close(ctx); err != nil {
		return fmt.Errorf("close placement: %w", err)
	}
	return nil
}
