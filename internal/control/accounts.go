package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/control/ttlcache"
	"github.com/db9/db9/internal/oidc"
	"github.com/db9/db9/internal/platform"
)

// Accounts holds the use cases of accounts and API tokens: authenticating
// a request, anonymous accounts (register, refresh, claim, adopt their
// databases), customers made by the operator, and tokens.
type Accounts struct {
	cat   *catalog.Catalog
	dir   *tenancy.Directory // scopes name databases; adopt moves them
	quota tenancy.Quota
	oidc  *oidc.Verifier // nil: claim is not configured
	log   *slog.Logger

	tokens *ttlcache.Cache[string, catalog.Token] // token hash -> token
	// revoked holds ids of tokens revoked by this process for longer than a
	// cached lookup can live.
	revoked *ttlcache.Cache[string, bool]
	touch   tokenToucher // last_used_at updates
}

func newAccounts(cat *catalog.Catalog, dir *tenancy.Directory, q tenancy.Quota, verifier *oidc.Verifier, log *slog.Logger) *Accounts {
	return &Accounts{cat: cat, dir: dir, quota: q, oidc: verifier, log: log,
		tokens:  ttlcache.New[string, catalog.Token](tenancy.CacheTTL, 100_000),
		revoked: ttlcache.New[string, bool](2*tenancy.CacheTTL, 100_000)}
}

// close waits for the last_used_at writes in flight and starts no more.
func (a *Accounts) close() { a.touch.close() }

// Authenticate resolves a bearer token to its principal.
func (a *Accounts) Authenticate(ctx context.Context, token string) (tenancy.Principal, error) {
	if token == "" {
		return tenancy.Principal{}, platform.Errorf(platform.CodeUnauthorized, "missing bearer token")
	}
	hash := auth.HashToken(token)
	t, ok := a.tokens.Get(string(hash))
	if !ok {
		var err error
		t, err = a.cat.Tokens.Lookup(ctx, hash)
		if errors.Is(err, catalog.ErrNotFound) {
			return tenancy.Principal{}, platform.Errorf(platform.CodeUnauthorized, "invalid or expired token")
		}
		if err != nil {
			return tenancy.Principal{}, err
		}
		a.tokens.Put(string(hash), t, t.ExpiresAt)
	}
	if _, gone := a.revoked.Get(t.ID); gone {
		return tenancy.Principal{}, platform.Errorf(platform.CodeUnauthorized, "invalid or expired token")
	}
	scope, err := tenancy.ParseStoredScope(t.Scope)
	if err != nil {
		return tenancy.Principal{}, fmt.Errorf("token %s: %w", t.ID, err)
	}
	a.touchToken(t.ID)
	return tenancy.Principal{Customer: t.Customer, TokenID: t.ID, Scope: scope}, nil
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
func (a *Accounts) RegisterAnonymous(ctx context.Context) (AnonymousRegistration, error) {
	secret := auth.NewSecret()
	token := auth.NewAPIToken()
	exp := time.Now().Add(anonymousTokenLife).UTC().Truncate(time.Second)
	cust := platform.Customer{ID: platform.NewUUID(), IsAnonymous: true}
	if _, err := a.cat.Accounts.Create(ctx, cust, auth.HashToken(secret), platform.NewID(16), "anonymous", auth.HashToken(token), exp); err != nil {
		return AnonymousRegistration{}, fmt.Errorf("register anonymous: %w", err)
	}
	return AnonymousRegistration{Token: token, ExpiresAt: exp, CustomerID: cust.ID, AnonymousSecret: secret}, nil
}

// RefreshAnonymous issues a new token for an anonymous account given its secret.
func (a *Accounts) RefreshAnonymous(ctx context.Context, id, secret string) (string, time.Time, error) {
	bad := platform.Errorf(platform.CodeUnauthorized, "invalid anonymous_id or anonymous_secret")
	h, err := a.cat.Accounts.AnonymousSecretHash(ctx, id)
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
	if err := a.cat.Tokens.Add(ctx, id, platform.NewID(16), "anonymous-refresh", auth.HashToken(token), exp); err != nil {
		return "", time.Time{}, err
	}
	return token, exp, nil
}

// CreateCustomer creates a full (non-anonymous) customer and its first API
// token: the operator's way in to a self-hosted install.
func (a *Accounts) CreateCustomer(ctx context.Context, email string) (platform.Customer, string, error) {
	return CreateCustomer(ctx, a.cat, email)
}

// CreateCustomer is the use case on a bare catalog, for the operator CLI
// that runs without a server.
func CreateCustomer(ctx context.Context, cat *catalog.Catalog, email string) (platform.Customer, string, error) {
	if !validEmail(email) {
		return platform.Customer{}, "", platform.Errorf(platform.CodeInvalid, "email: %q is not an email address", email)
	}
	token := auth.NewAPIToken()
	cust, err := cat.Accounts.Create(ctx, platform.Customer{ID: platform.NewUUID(), Email: email}, nil,
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
