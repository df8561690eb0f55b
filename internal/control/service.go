package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"sync"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/oidc"
	"github.com/db9/db9/internal/pgbin"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
)

// Config is the part of the server configuration the use cases need.
type Config struct {
	Region           string
	PublicHost       string
	PublicPort       int
	AnonymousDBLimit int
	SQLLimits        sqlexec.Limits
	// PITRRetention is how far back a branch's snapshot_at may reach.
	PITRRetention time.Duration
	// OIDC verifies the id_token of POST /customer/claim; nil when no
	// issuer is configured (claim answers 501).
	OIDC *oidc.Verifier
	// Requests is told of every SQL-over-HTTP call (observability); nil: none.
	Requests RequestObserver
}

// Service implements the use cases.
type Service struct {
	cfg    Config
	cat    *catalog.Catalog
	place  placement.Driver
	sealer *auth.Sealer
	log    *slog.Logger

	types  sync.Map                              // database id -> *sqlexec.TypeCache
	touch  tokenToucher                          // last_used_at updates
	oidc   *oidc.Verifier                        // nil: claim is not configured
	meta   sync.Map                              // database id -> struct{}: platform schema checked
	pgBin  func() (pgbin.Bin, error)             // PostgreSQL binaries, for pg_dump
	tokens *ttlCache[string, catalog.Token]      // token hash -> token
	dbs    *ttlCache[dbKey, catalog.DatabaseRow] // (customer, id or name) -> database
	// revoked holds ids of tokens revoked by this process for longer than a
	// cached lookup can live.
	revoked *ttlCache[string, bool]
	clones  cloner // branches being made (branch.go)
	// onDelete run when a database starts being deleted (OnDatabaseDeleted).
	onDelete []func(id string)
}

type dbKey struct{ customer, idOrName string }

// cacheTTL bounds how long a cached token or database lookup is trusted.
const cacheTTL = 5 * time.Second

// New wires a Service from its dependencies.
func New(cfg Config, cat *catalog.Catalog, place placement.Driver, sealer *auth.Sealer, log *slog.Logger) *Service {
	return &Service{cfg: cfg, cat: cat, place: place, sealer: sealer, log: log,
		tokens:  newTTLCache[string, catalog.Token](cacheTTL, 100_000),
		dbs:     newTTLCache[dbKey, catalog.DatabaseRow](cacheTTL, 100_000),
		revoked: newTTLCache[string, bool](2*cacheTTL, 100_000),
		oidc:    cfg.OIDC,
		pgBin:   sync.OnceValues(pgbin.Find)}
}

// Reconcile brings the catalog and the disk into agreement after a start,
// finishing or rolling back what a crash cut off, and opens the placement
// driver. It must run before any request is served.
func (s *Service) Reconcile(ctx context.Context) error {
	rows, err := s.cat.DatabasesInStates(ctx, platform.StateCreating, platform.StateActive, platform.StateCloning, platform.StateDisabling)
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
		return err
	}
	for _, id := range deleting { // files already removed by Open (not in keep)
		if err := s.cat.FinishDelete(ctx, id); err != nil {
			return err
		}
		s.log.Info("finished interrupted delete", "component", "control", "db", id)
	}
	for _, id := range creating {
		if err := s.cat.DeleteRow(ctx, id); err != nil {
			return err
		}
		s.log.Info("rolled back interrupted create", "component", "control", "db", id)
	}
	for _, id := range missing {
		s.log.Error("database has no instance directory; marking CREATE_FAILED", "component", "control", "db", id)
		if err := s.cat.SetState(ctx, id, platform.StateCreateFailed, "instance files missing"); err != nil {
			return err
		}
		delete(keep, id)
	}
	return s.resumeClones(ctx, rows, keep)
}

// Principal is the authenticated caller of a request.
type Principal struct {
	Customer platform.Customer
	TokenID  string
	// Scope limits the token to some databases; nil is full access.
	Scope *Scope
}

// Authenticate resolves a bearer token to its principal.
func (s *Service) Authenticate(ctx context.Context, token string) (Principal, error) {
	if token == "" {
		return Principal{}, platform.Errorf(platform.CodeUnauthorized, "missing bearer token")
	}
	hash := auth.HashToken(token)
	t, ok := s.tokens.get(string(hash))
	if !ok {
		var err error
		t, err = s.cat.LookupToken(ctx, hash)
		if errors.Is(err, catalog.ErrNotFound) {
			return Principal{}, platform.Errorf(platform.CodeUnauthorized, "invalid or expired token")
		}
		if err != nil {
			return Principal{}, err
		}
		s.tokens.put(string(hash), t, t.ExpiresAt)
	}
	if _, gone := s.revoked.get(t.ID); gone {
		return Principal{}, platform.Errorf(platform.CodeUnauthorized, "invalid or expired token")
	}
	scope, err := parseStoredScope(t.Scope)
	if err != nil {
		return Principal{}, fmt.Errorf("token %s: %w", t.ID, err)
	}
	s.touchToken(t.ID)
	return Principal{Customer: t.Customer, TokenID: t.ID, Scope: scope}, nil
}

// AnonymousRegistration is the answer to anonymous-register.
type AnonymousRegistration struct {
	Token           string
	ExpiresAt       time.Time
	CustomerID      string
	AnonymousSecret string
}

const (
	anonymousTokenLife = 90 * 24 * time.Hour
	defaultTokenLife   = 365 * 24 * time.Hour
)

// RegisterAnonymous creates an anonymous account with its first token.
func (s *Service) RegisterAnonymous(ctx context.Context) (AnonymousRegistration, error) {
	secret := auth.NewSecret()
	token := auth.NewAPIToken()
	exp := time.Now().Add(anonymousTokenLife).UTC().Truncate(time.Second)
	cust := platform.Customer{ID: platform.NewUUID(), IsAnonymous: true}
	if _, err := s.cat.CreateCustomer(ctx, cust, auth.HashToken(secret), platform.NewID(16), "anonymous", auth.HashToken(token), exp); err != nil {
		return AnonymousRegistration{}, fmt.Errorf("register anonymous: %w", err)
	}
	return AnonymousRegistration{Token: token, ExpiresAt: exp, CustomerID: cust.ID, AnonymousSecret: secret}, nil
}

// RefreshAnonymous issues a new token for an anonymous account given its secret.
func (s *Service) RefreshAnonymous(ctx context.Context, id, secret string) (string, time.Time, error) {
	bad := platform.Errorf(platform.CodeUnauthorized, "invalid anonymous_id or anonymous_secret")
	h, err := s.cat.AnonymousSecretHash(ctx, id)
	if errors.Is(err, catalog.ErrNotFound) {
		return "", time.Time{}, bad
	}
	if err != nil {
		return "", time.Time{}, err
	}
	if !auth.EqualHash(h, auth.HashToken(secret)) {
		return "", time.Time{}, bad
	}
	token := auth.NewAPIToken()
	exp := time.Now().Add(anonymousTokenLife).UTC().Truncate(time.Second)
	if err := s.cat.AddToken(ctx, id, platform.NewID(16), "anonymous-refresh", auth.HashToken(token), exp); err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}

// CreateCustomer creates a full (non-anonymous) customer and its first API
// token: the operator's way in to a self-hosted install.
func (s *Service) CreateCustomer(ctx context.Context, email string) (platform.Customer, string, error) {
	return CreateCustomer(ctx, s.cat, email)
}

// CreateCustomer is the use case on a bare catalog, for the operator CLI
// that runs without a server.
func CreateCustomer(ctx context.Context, cat *catalog.Catalog, email string) (platform.Customer, string, error) {
	if !validEmail(email) {
		return platform.Customer{}, "", platform.Errorf(platform.CodeInvalid, "email: %q is not an email address", email)
	}
	token := auth.NewAPIToken()
	cust, err := cat.CreateCustomer(ctx, platform.Customer{ID: platform.NewUUID(), Email: email}, nil,
		platform.NewID(16), "admin-created", auth.HashToken(token), time.Now().Add(defaultTokenLife))
	if errors.Is(err, catalog.ErrNameTaken) {
		return platform.Customer{}, "", platform.Errorf(platform.CodeConflict, "a customer with email %s already exists", email)
	}
	return cust, token, err
}

func validEmail(s string) bool {
	if len(s) < 3 || len(s) > 254 {
		return false
	}
	at := -1
	for i, c := range s {
		if c <= ' ' || c == 0x7f {
			return false
		}
		if c == '@' {
			if at >= 0 {
				return false
			}
			at = i
		}
	}
	return at > 0 && at < len(s)-1
}

// ConnectionString renders the connection string of a database, with the
// password when given.
func (s *Service) ConnectionString(id, role, password string) string {
	u := url.URL{Scheme: "postgresql", Host: net.JoinHostPort(s.cfg.PublicHost, strconv.Itoa(s.cfg.PublicPort)), Path: "/postgres"}
	if password != "" {
		u.User = url.UserPassword(id+"."+role, password)
	} else {
		u.User = url.User(id + "." + role)
	}
	return u.String()
}

// Host and Port are where clients reach the PostgreSQL front door.
func (s *Service) Host() string { return s.cfg.PublicHost }

// Port is the public port of the PostgreSQL front door.
func (s *Service) Port() int { return s.cfg.PublicPort }
