package control

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/oidc"
	"github.com/db9/db9/internal/platform"
)

// Claim upgrades the caller's anonymous account to a full one linked to
// the identity of an OIDC id_token. The database quota lifts with the next
// request. Claiming again with the identity already linked to the caller
// answers like the first claim.
func (a *Accounts) Claim(ctx context.Context, p tenancy.Principal, idToken string) (platform.Customer, error) {
	if a.oidc == nil {
		return platform.Customer{}, platform.Errorf(platform.CodeNotImplemented, "claim is not configured on this server (DB9_OIDC_ISSUER, DB9_OIDC_AUDIENCE)")
	}
	if err := tenancy.RequireUnscoped(p); err != nil {
		return platform.Customer{}, err
	}
	id, err := a.oidc.Verify(ctx, idToken)
	var invalid *oidc.InvalidError
	switch {
	case errors.As(err, &invalid):
		return platform.Customer{}, platform.Wrap(platform.CodeUnauthorized, err, "id_token: "+invalid.Reason)
	case errors.Is(err, oidc.ErrInvalid):
		return platform.Customer{}, platform.Wrap(platform.CodeUnauthorized, err, "id_token: does not verify")
	case err != nil:
		return platform.Customer{}, platform.Wrap(platform.CodeUnavailable, err, "the OIDC issuer could not be reached; try again")
	}
	err = a.cat.Accounts.Claim(ctx, p.Customer.ID, catalog.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email})
	switch {
	case errors.Is(err, catalog.ErrIdentityTaken):
		return platform.Customer{}, platform.Errorf(platform.CodeConflict, "this identity is already linked to another account")
	case errors.Is(err, catalog.ErrConflictState):
		return platform.Customer{}, platform.Errorf(platform.CodeConflict, "this account is already linked to another identity")
	case err != nil:
		return platform.Customer{}, fmt.Errorf("claim customer: %w", err)
	}
	a.forgetCustomerTokens(p.Customer.ID)
	email, anonymous, created, err := a.cat.Accounts.Get(ctx, p.Customer.ID)
	if err != nil {
		return platform.Customer{}, err
	}
	c := platform.Customer{ID: p.Customer.ID, IsAnonymous: anonymous, CreatedAt: created}
	if email != nil {
		c.Email = *email
	}
	a.log.Info("account claimed", logkey.Customer, c.ID)
	return c, nil
}

// AdoptSource names an anonymous account and proves its possession.
type AdoptSource struct {
	CustomerID string
	Secret     string
}

// Quota is a customer's database quota; Limit and Available are nil when
// the account has no limit.
type Quota struct {
	Limit     *int
	Used      int
	Available *int
}

// AdoptPreflight is the answer of adopt-anonymous-databases/preflight.
type AdoptPreflight struct {
	Eligible  bool
	Databases []platform.Database
	Quota     Quota
	Reasons   []string
}

// checkAnonymousSecret verifies possession of an anonymous account.
func (a *Accounts) checkAnonymousSecret(ctx context.Context, src AdoptSource) error {
	bad := platform.Errorf(platform.CodeUnauthorized, "invalid anonymous_customer_id or anonymous_secret")
	h, err := a.cat.Accounts.AnonymousSecretHash(ctx, src.CustomerID)
	if errors.Is(err, catalog.ErrNotFound) {
		return bad
	}
	if err != nil {
		return err
	}
	if !auth.EqualHash(h, auth.HashToken(src.Secret)) {
		return bad
	}
	return nil
}

// usage is the caller's quota and how much of it is used.
func (a *Accounts) usage(ctx context.Context, p tenancy.Principal) (Quota, error) {
	used, _, err := a.cat.Databases.CreateChecks(ctx, p.Customer.ID, "")
	if err != nil {
		return Quota{}, err
	}
	q := Quota{Used: used}
	if p.Customer.IsAnonymous {
		limit, avail := a.quota.AnonymousLimit, max(0, a.quota.AnonymousLimit-used)
		q.Limit, q.Available = &limit, &avail
	}
	return q, nil
}

// PreflightAdopt reports what adopting an anonymous account's databases
// would do, changing nothing.
func (a *Accounts) PreflightAdopt(ctx context.Context, p tenancy.Principal, src AdoptSource) (AdoptPreflight, error) {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return AdoptPreflight{}, err
	}
	if err := a.checkAnonymousSecret(ctx, src); err != nil {
		return AdoptPreflight{}, err
	}
	rows, err := a.cat.Databases.List(ctx, src.CustomerID, true)
	if err != nil {
		return AdoptPreflight{}, err
	}
	q, err := a.usage(ctx, p)
	if err != nil {
		return AdoptPreflight{}, err
	}
	out := AdoptPreflight{Quota: q, Reasons: []string{}, Databases: []platform.Database{}}
	for _, r := range rows {
		out.Databases = append(out.Databases, r.Database)
	}
	if src.CustomerID == p.Customer.ID {
		out.Reasons = append(out.Reasons, "the anonymous account is the caller's own account")
	}
	if len(rows) == 0 {
		out.Reasons = append(out.Reasons, "the anonymous account has no databases")
	}
	if q.Available != nil && len(rows) > *q.Available {
		out.Reasons = append(out.Reasons, fmt.Sprintf("adopting %d databases would exceed the account limit (%d available)", len(rows), *q.Available))
	}
	for _, r := range rows {
		if _, taken, err := a.cat.Databases.CreateChecks(ctx, p.Customer.ID, r.Name); err != nil {
			return AdoptPreflight{}, err
		} else if taken {
			out.Reasons = append(out.Reasons, fmt.Sprintf("a database named %q already exists in this account", r.Name))
		}
	}
	out.Eligible = len(out.Reasons) == 0
	return out, nil
}

// AdoptRequest is the input of Adopt.
type AdoptRequest struct {
	AdoptSource
	DatabaseIDs    []string
	IdempotencyKey string
}

// maxAdoptIDs bounds the databases one adopt call may move.
const maxAdoptIDs = 100

// Adopt moves databases of an anonymous account to the caller, all or
// none. The first answer is recorded under the idempotency key in the same
// transaction: the same key again returns it and moves nothing twice.
func (a *Accounts) Adopt(ctx context.Context, p tenancy.Principal, req AdoptRequest) ([]string, error) {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return nil, err
	}
	if n := len(req.DatabaseIDs); n < 1 || n > maxAdoptIDs {
		return nil, platform.Errorf(platform.CodeInvalid, "database_ids: must hold 1 to %d ids", maxAdoptIDs)
	}
	if k := req.IdempotencyKey; k == "" || len(k) > 255 {
		return nil, platform.Errorf(platform.CodeInvalid, "idempotency_key: must be 1 to 255 characters")
	}
	ids := slices.Clone(req.DatabaseIDs)
	slices.Sort(ids)
	ids = slices.Compact(ids)
	for _, id := range ids {
		if !platform.ValidDatabaseName(id) {
			return nil, platform.NotFound("database " + id)
		}
	}
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s", req.CustomerID, strings.Join(ids, ","))
	// A retry is answered from the record before anything else is checked:
	// the first call may have succeeded even if its answer was lost.
	if prev, err := a.cat.Accounts.AdoptAnswer(ctx, p.Customer.ID, req.IdempotencyKey, h.Sum(nil)); err == nil {
		return prev, nil
	} else if errors.Is(err, catalog.ErrIdempotencyMismatch) {
		return nil, platform.Errorf(platform.CodeConflict, "idempotency_key was already used with a different request")
	} else if !errors.Is(err, catalog.ErrNotFound) {
		return nil, err
	}
	if err := a.checkAnonymousSecret(ctx, req.AdoptSource); err != nil {
		return nil, err
	}
	if req.CustomerID == p.Customer.ID {
		return nil, platform.Errorf(platform.CodeInvalid, "anonymous_customer_id: is the caller's own account")
	}
	limit := a.quota.Limit(p)
	res, err := a.cat.Accounts.Adopt(ctx, catalog.AdoptRequest{
		CustomerID: p.Customer.ID, FromID: req.CustomerID, IDs: ids, Key: req.IdempotencyKey,
		RequestHash: h.Sum(nil), Limit: limit,
	})
	var missing *catalog.MissingDatabaseError
	switch {
	case errors.As(err, &missing):
		return nil, platform.NotFound("database " + missing.ID)
	case errors.Is(err, catalog.ErrIdempotencyMismatch):
		return nil, platform.Errorf(platform.CodeConflict, "idempotency_key was already used with a different request")
	case errors.Is(err, catalog.ErrQuota):
		return nil, a.quota.Err()
	case errors.Is(err, catalog.ErrNameTaken):
		return nil, platform.Errorf(platform.CodeConflict, "a database with the name of an adopted database already exists in this account")
	case errors.Is(err, catalog.ErrConflictState):
		return nil, platform.Errorf(platform.CodeUnauthorized, "invalid anonymous_customer_id or anonymous_secret")
	case err != nil:
		return nil, fmt.Errorf("adopt databases: %w", err)
	}
	if !res.Replayed {
		a.dir.Forget(res.Adopted...)
		a.log.Info("databases adopted", logkey.Customer, p.Customer.ID, logkey.From, req.CustomerID, logkey.Count, len(res.Adopted))
	}
	return res.Adopted, nil
}
