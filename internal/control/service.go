package control

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/dataaccess"
	"github.com/db9/db9/internal/control/dbadmin"
	"github.com/db9/db9/internal/control/functions"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/oidc"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/s3store"
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
	// Workers run function invocations; nil leaves Service.Functions,
	// FunctionRuns and Secrets nil (their routes answer 501). The server opens the pool before
	// Service.Open and closes it after Service.Close.
	Workers *worker.Pool
	// Fetcher performs fetch for functions; nil: a default one.
	Fetcher *egress.Fetcher
	// S3 is where s3:// function bundles are read; nil: none configured.
	S3 *s3store.Store
	// KeyCache checks the jwks_urls of auth-configs and is the one the
	// data API's verifiers share; nil leaves Service.DataPlane nil (its
	// routes answer 501).
	KeyCache *jwtverify.KeyCache
	Logger   *slog.Logger
	// FunctionRunEnded is told the status of every function run as it is
	// recorded (metrics); nil: none.
	FunctionRunEnded func(status string)
	// RunJournal is the directory of the journal of function runs in
	// progress (layout.Layout.RunJournal); "": none (functions.Deps).
	RunJournal string
}

// Service is the control plane as one component: the use cases, grouped
// by concern into types of their own (some in packages of their own:
// functions, dataaccess, dbadmin), and the lifecycle they share. Open
// reconciles the catalog with the placement driver and opens it; Close
// stops the background work of the use cases and closes the driver.
//
// The use cases share small collaborators of package tenancy instead of
// each other's fields: a Directory (the catalog and its cached database
// lookups) and Instances (leases on running databases, with their errors
// made public).
type Service struct {
	Accounts  *Accounts
	Databases *Databases
	Branches  *Branches
	SQL       *dbadmin.SQL
	Wire      *WireAccess           // nil without Deps.Signer
	DataPlane *dataaccess.DataPlane // nil without Deps.KeyCache
	// Functions, FunctionRuns and Secrets are nil without Deps.Workers.
	Functions    *functions.Functions
	FunctionRuns *functions.Runs
	Secrets      *functions.Secrets

	cat   *catalog.Catalog
	place placement.Driver
	log   *slog.Logger
}

// New wires the use cases from their dependencies. It does no I/O.
func New(cfg Config, d Deps) *Service {
	log := d.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	log = log.With(logkey.Component, "control")
	dir := tenancy.NewDirectory(d.Catalog)
	inst := tenancy.NewInstances(d.Placement, log)
	door := tenancy.FrontDoor{Host: cfg.PublicHost, Port: cfg.PublicPort, PooledPort: cfg.PooledPort}
	q := tenancy.Quota{AnonymousLimit: cfg.AnonymousDBLimit}
	s := &Service{cat: d.Catalog, place: d.Placement, log: log,
		Accounts:  newAccounts(d.Catalog, dir, q, cfg.OIDC, log),
		Databases: newDatabases(cfg.Region, d.Catalog, d.Placement, d.Sealer, dir, inst, door, q, log),
		Branches:  newBranches(cfg.PITRRetention, d.Catalog, d.Placement, d.Sealer, dir, q, log),
		SQL:       dbadmin.New(cfg.SQLLimits, d.Bin, dir, inst, log),
	}
	s.Databases.OnDatabaseDeleted(s.SQL.ForgetDatabase)
	if d.Signer != nil {
		s.Wire = newWireAccess(d.Catalog, d.Signer, cfg.FrontDoorTLS, dir, inst, door, log)
	}
	if d.KeyCache != nil {
		s.DataPlane = dataaccess.New(d.Catalog, d.KeyCache, s.Databases.GetDatabase, log)
		s.Databases.OnDatabaseDeleted(s.DataPlane.ForgetDatabase)
	}
	if d.Workers != nil {
		// Functions is a subsystem of its own in the log (component functions).
		s.Functions = functions.New(functions.Deps{Catalog: d.Catalog, Instances: d.Placement, Sealer: d.Sealer, Pool: d.Workers,
			Lookup: s.Databases.GetDatabase, Fetcher: d.Fetcher, S3: d.S3, SQLLimits: cfg.SQLLimits, Logger: d.Logger,
			RunEnded: d.FunctionRunEnded, RunJournal: d.RunJournal})
		s.FunctionRuns = functions.NewRuns(d.Catalog, s.Databases.GetDatabase, s.Functions)
		s.Secrets = functions.NewSecrets(d.Catalog, d.Sealer, s.Databases.GetDatabase)
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
		if err := s.Functions.Open(ctx); err != nil {
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
		s.Functions.Close(ctx) // runs in progress end first: they hold leases
	}
	s.Branches.close()
	s.Accounts.close()
	if s.DataPlane != nil {
		s.DataPlane.Close()
	}
	if err := s.place.Close(ctx); err != nil {
		return fmt.Errorf("close placement: %w", err)
	}
	return nil
}
