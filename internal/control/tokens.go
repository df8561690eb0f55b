package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
)

// TokenView is an API token as the API shows it.
type TokenView struct {
	ID         string
	Name       string
	Scope      *tenancy.Scope // nil = full
	CreatedAt  time.Time
	ExpiresAt  time.Time
	LastUsedAt *time.Time
}

func tokenView(t catalog.TokenInfo, scope *tenancy.Scope) TokenView {
	return TokenView{ID: t.ID, Name: t.Name, Scope: scope, CreatedAt: t.CreatedAt, ExpiresAt: t.ExpiresAt, LastUsedAt: t.LastUsedAt}
}

// CreateTokenRequest is the input of CreateToken.
type CreateTokenRequest struct {
	Name          string // "": a generated name, token-<UTC yyyymmdd-hhmmss>
	ExpiresInDays *int
	ScopeJSON     *string
}

// CreatedToken is a new token with its secret, shown once.
type CreatedToken struct {
	TokenView
	Token string
}

const maxTokenDays = 3650

// CreateToken issues a new API token for the caller's account.
func (a *Accounts) CreateToken(ctx context.Context, p tenancy.Principal, req CreateTokenRequest) (CreatedToken, error) {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return CreatedToken{}, err
	}
	if req.Name == "" {
		req.Name = "token-" + time.Now().UTC().Format("20060102-150405")
	}
	if utf8.RuneCountInString(req.Name) > 100 || strings.ContainsFunc(req.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return CreatedToken{}, platform.Errorf(platform.CodeInvalid, "name: must be 1 to 100 characters without control characters")
	}
	life := defaultTokenLife
	if req.ExpiresInDays != nil {
		if d := *req.ExpiresInDays; d < 1 || d > maxTokenDays {
			return CreatedToken{}, platform.Errorf(platform.CodeInvalid, "expires_in_days: must be from 1 to %d", maxTokenDays)
		}
		life = time.Duration(*req.ExpiresInDays) * 24 * time.Hour
	}
	var scope *tenancy.Scope
	var raw []byte
	if req.ScopeJSON != nil {
		var err error
		if scope, err = tenancy.ParseScopeJSON(*req.ScopeJSON); err != nil {
			return CreatedToken{}, err
		}
		seen := map[string]bool{}
		for i, d := range scope.Databases {
			row, err := a.dir.Lookup(ctx, p, d.ID)
			if platform.ErrorCode(err) == platform.CodeNotFound {
				return CreatedToken{}, platform.Errorf(platform.CodeInvalid, "scope_json: databases[%d]: database %q not found", i, d.ID)
			} else if err != nil {
				return CreatedToken{}, err
			}
			if seen[row.ID] {
				return CreatedToken{}, platform.Errorf(platform.CodeInvalid, "scope_json: databases[%d]: database %q named twice", i, d.ID)
			}
			seen[row.ID] = true
			scope.Databases[i].ID = row.ID // names resolve to ids once, here
		}
		raw, _ = json.Marshal(scope)
	}
	token := auth.NewAPIToken()
	exp := time.Now().Add(life).UTC().Truncate(time.Second)
	info, err := a.cat.Tokens.Insert(ctx, p.Customer.ID, platform.NewID(16), req.Name, auth.HashToken(token), raw, exp)
	if err != nil {
		return CreatedToken{}, fmt.Errorf("create token: %w", err)
	}
	return CreatedToken{TokenView: tokenView(info, scope), Token: token}, nil
}

// ListTokens lists the caller's unrevoked tokens, newest first.
func (a *Accounts) ListTokens(ctx context.Context, p tenancy.Principal) ([]TokenView, error) {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return nil, err
	}
	rows, err := a.cat.Tokens.List(ctx, p.Customer.ID)
	if err != nil {
		return nil, err
	}
	out := make([]TokenView, len(rows))
	for i, r := range rows {
		sc, err := tenancy.ParseStoredScope(r.Scope)
		if err != nil {
			return nil, err
		}
		out[i] = tokenView(r, sc)
	}
	return out, nil
}

// RevokeToken revokes one of the caller's tokens. It stops working at once
// in this process (its cache entry is dropped); other processes sharing
// the catalog notice within the cache's ttl.
func (a *Accounts) RevokeToken(ctx context.Context, p tenancy.Principal, id string) error {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return err
	}
	if id == "" || len(id) > 64 {
		return platform.NotFound("token")
	}
	err := a.cat.Tokens.Revoke(ctx, p.Customer.ID, id)
	if err == nil {
		// A lookup that read the row just before the revoke may cache it
		// just after; remembering the id closes that window.
		a.revoked.Put(id, true, time.Time{})
	}
	a.tokens.RemoveIf(func(_ string, t catalog.Token) bool { return t.ID == id })
	if errors.Is(err, catalog.ErrNotFound) {
		return platform.NotFound("token")
	}
	return err
}

// forgetCustomerTokens drops the cached tokens of a customer whose account
// changed (claim), so the change applies to the next request.
func (a *Accounts) forgetCustomerTokens(customerID string) {
	a.tokens.RemoveIf(func(_ string, t catalog.Token) bool { return t.CustomerID == customerID })
}

// touchInterval is how often at most last_used_at is written per token.
const touchInterval = time.Minute

// tokenToucher throttles last_used_at updates: at most one per token per
// touchInterval in this process, written in the background so that no
// request waits for it, with a bound on the writes in flight. close waits
// for them.
type tokenToucher struct {
	mu       sync.Mutex
	last     map[string]time.Time
	inflight int
	closed   bool
	wg       sync.WaitGroup
}

// maxTouchesInFlight bounds the last_used_at writes running at once; a
// touch over it is skipped and tried again on a later request.
const maxTouchesInFlight = 8

func (a *Accounts) touchToken(id string) {
	t := &a.touch
	now := time.Now()
	t.mu.Lock()
	if t.last == nil || len(t.last) > 100_000 {
		t.last = map[string]time.Time{}
	}
	if prev, ok := t.last[id]; ok && now.Sub(prev) < touchInterval || t.closed || t.inflight >= maxTouchesInFlight {
		t.mu.Unlock()
		return
	}
	t.last[id] = now
	t.inflight++
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		err := a.cat.Tokens.Touch(ctx, id)
		t.mu.Lock()
		defer t.mu.Unlock()
		t.inflight--
		if err != nil {
			a.log.Debug("update last_used_at", logkey.Token, id, logkey.Err, err)
			delete(t.last, id)
		}
	}()
}

// close waits for the writes in flight and starts no more.
func (t *tokenToucher) close() {
	t.mu.Lock()
	t.closed = true
	t.mu.Unlock()
	t.wg.Wait()
}
