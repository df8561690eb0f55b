package control

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/control/ttlcache"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// WireAccess holds the use cases of access over the PostgreSQL wire
// protocol: connect tokens, connect keys, and the login check of the
// front door.
type WireAccess struct {
	cat    *catalog.Catalog
	signer *auth.ConnectSigner
	tls    bool
	dir    *tenancy.Directory
	inst   *tenancy.Instances
	door   tenancy.FrontDoor
	log    *slog.Logger

	// pwKey keys the HMAC that stands for a password in pwCache, so the
	// cache never holds a plain hash of a password.
	pwKey   []byte
	pwCache *ttlcache.Cache[pwCacheKey, string]          // -> the verifier the password matched
	dbs     *ttlcache.Cache[string, catalog.DatabaseRow] // id or name -> database, any customer

	fs9URL string // what fs-connect hands out; "": fs9 is not served
}

type pwCacheKey struct {
	db, role string
	mac      [sha256.Size]byte
}

// passwordCacheTTL bounds how long a checked password is remembered. The
// entry only counts while the role's verifier is unchanged, so a new
// password (reset-password, users API, ALTER ROLE) takes effect at once.
const passwordCacheTTL = 10 * time.Minute

// newWireAccess wires the wire access use cases. tls says whether the
// front door offers TLS (it is reported in connect-token answers).
func newWireAccess(cat *catalog.Catalog, signer *auth.ConnectSigner, tls bool, dir *tenancy.Directory, inst *tenancy.Instances, door tenancy.FrontDoor, log *slog.Logger) *WireAccess {
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	return &WireAccess{cat: cat, signer: signer, tls: tls, dir: dir, inst: inst, door: door, log: log, pwKey: key,
		pwCache: ttlcache.New[pwCacheKey, string](passwordCacheTTL, 100_000),
		dbs:     ttlcache.New[string, catalog.DatabaseRow](tenancy.CacheTTL, 100_000)}
}

// JWKS is the public key set of connect tokens.
func (a *WireAccess) JWKS() any { return a.signer.JWKS() }

// ConnectKeyPrefix starts every connect key.
const ConnectKeyPrefix = "db9ck_"

// ScopePG lets a connect key log in through the PostgreSQL front door; it
// is the only scope so far and the default.
const ScopePG = "pg"

func validRole(field, role string) error {
	if role == "" || len(role) > 63 || strings.ContainsFunc(role, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return platform.Errorf(platform.CodeInvalid, "%s: must be 1-63 bytes without control characters", field)
	}
	if tenancy.ReservedRole(role) {
		return platform.Errorf(platform.CodeInvalid, "%s: %q is reserved by the platform", field, role)
	}
	return nil
}

// ConnectToken is the answer of POST .../connect-token.
type ConnectToken struct {
	Host      string
	Port      int
	User      string
	Token     string
	ExpiresAt time.Time
	ExpiresIn int
	TLS       bool
}

// ConnectToken mints a 900-second connect token for role (default admin).
func (a *WireAccess) ConnectToken(ctx context.Context, p tenancy.Principal, idOrName, role string) (ConnectToken, error) {
	if role == "" {
		role = tenancy.AdminUser
	}
	if err := validRole("role", role); err != nil {
		return ConnectToken{}, err
	}
	row, err := a.dir.ActiveLookup(ctx, p, idOrName)
	if err != nil {
		return ConnectToken{}, err
	}
	// A login as a database role is write access: not for ro tokens.
	if err := tenancy.RequireWrite(p, row.ID); err != nil {
		return ConnectToken{}, err
	}
	tok, c, err := a.signer.Sign(row.ID, role)
	if err != nil {
		return ConnectToken{}, err
	}
	return ConnectToken{Host: a.door.Host, Port: a.door.Port, User: row.ID + "." + role, Token: tok,
		ExpiresAt: time.Unix(c.ExpiresAt, 0).UTC(), ExpiresIn: int(c.ExpiresAt - c.IssuedAt), TLS: a.tls}, nil
}

// ConnectKeyRequest is the input of CreateConnectKey; nil means default.
type ConnectKeyRequest struct {
	Name          *string
	Role          *string
	Scopes        []string
	ExpiresInDays *int
}

// ConnectKey is a connect key as the API shows it (never its secret).
type ConnectKey struct {
	ID         string
	DatabaseID string
	Name       string
	Role       string
	Scopes     []string
	CreatedAt  time.Time
	ExpiresAt  *time.Time // nil: never
	LastUsedAt *time.Time
}

func connectKeyView(k catalog.ConnectKey) ConnectKey {
	return ConnectKey{ID: k.ID, DatabaseID: k.DatabaseID, Name: k.Name, Role: k.Role, Scopes: k.Scopes,
		CreatedAt: k.CreatedAt, ExpiresAt: k.ExpiresAt, LastUsedAt: k.LastUsedAt}
}

// CreatedConnectKey is a new key with its secret, shown once.
type CreatedConnectKey struct {
	ConnectKey
	Secret string
}

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// CreateConnectKey makes a long-lived connect key for a role of a database.
func (a *WireAccess) CreateConnectKey(ctx context.Context, p tenancy.Principal, idOrName string, req ConnectKeyRequest) (CreatedConnectKey, error) {
	k := catalog.ConnectKey{Name: "connect-key", Role: tenancy.AdminUser, Scopes: []string{ScopePG}}
	if req.Name != nil {
		k.Name = *req.Name
		if k.Name == "" || len(k.Name) > 100 || strings.ContainsFunc(k.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return CreatedConnectKey{}, platform.Errorf(platform.CodeInvalid, "name: must be 1-100 characters without control characters")
		}
	}
	if req.Role != nil {
		k.Role = *req.Role
	}
	if err := validRole("role", k.Role); err != nil {
		return CreatedConnectKey{}, err
	}
	if req.Scopes != nil {
		if len(req.Scopes) == 0 {
			return CreatedConnectKey{}, platform.Errorf(platform.CodeInvalid, "scopes: must not be empty")
		}
		for i, sc := range req.Scopes {
			if sc != ScopePG {
				return CreatedConnectKey{}, platform.Errorf(platform.CodeInvalid, "scopes[%d]: unknown scope %q (known: %q)", i, sc, ScopePG)
			}
		}
		k.Scopes = []string{ScopePG}
	}
	if req.ExpiresInDays != nil {
		d := *req.ExpiresInDays
		if d < 1 || d > 3650 {
			return CreatedConnectKey{}, platform.Errorf(platform.CodeInvalid, "expires_in_days: must be 1 to 3650")
		}
		exp := time.Now().Add(time.Duration(d) * 24 * time.Hour).UTC().Truncate(time.Second)
		k.ExpiresAt = &exp
	}
	row, err := a.dir.ActiveLookup(ctx, p, idOrName)
	if err != nil {
		return CreatedConnectKey{}, err
	}
	if err := tenancy.RequireWrite(p, row.ID); err != nil {
		return CreatedConnectKey{}, err
	}
	k.ID, k.DatabaseID, k.CustomerID = platform.NewID(16), row.ID, row.CustomerID
	secret := ConnectKeyPrefix + platform.RandomString(43, keyAlphabet)
	k, err = a.cat.ConnectKeys.Insert(ctx, k, auth.HashToken(secret))
	if err != nil {
		return CreatedConnectKey{}, fmt.Errorf("record connect key: %w", err)
	}
	return CreatedConnectKey{ConnectKey: connectKeyView(k), Secret: secret}, nil
}

// ListConnectKeys lists a database's live keys, newest first.
func (a *WireAccess) ListConnectKeys(ctx context.Context, p tenancy.Principal, idOrName string) ([]ConnectKey, error) {
	row, err := a.dir.Lookup(ctx, p, idOrName)
	if err != nil {
		return nil, err
	}
	ks, err := a.cat.ConnectKeys.List(ctx, row.ID)
	if err != nil {
		return nil, err
	}
	out := make([]ConnectKey, len(ks))
	for i, k := range ks {
		out[i] = connectKeyView(k)
	}
	return out, nil
}

// RevokeConnectKey revokes a key; new logins with it fail at once.
func (a *WireAccess) RevokeConnectKey(ctx context.Context, p tenancy.Principal, idOrName, keyID string) error {
	row, err := a.dir.Lookup(ctx, p, idOrName)
	if err != nil {
		return err
	}
	if err := tenancy.RequireWrite(p, row.ID); err != nil {
		return err
	}
	if err := a.cat.ConnectKeys.Revoke(ctx, row.ID, keyID); errors.Is(err, catalog.ErrNotFound) {
		return platform.NotFound("connect key")
	} else if err != nil {
		return err
	}
	return nil
}

// PGSession is a login the front door accepted: the instance is held
// running by Lease until the caller releases it.
type PGSession struct {
	DatabaseID string
	Role       string
	Method     string // "password", "connect_token" or "connect_key"
	// Settings are session settings the front door must apply so that the
	// client cannot override them (request.jwt.claims and request.jwt.claim.*).
	Settings map[string]string
	Lease    placement.Lease
}

// Login checks a front-door login: user "<dbRef>.<role>" with a password
// that is a connect key (db9ck_...), a connect token (a JWT) or the role's
// own password. It wakes the instance and returns it leased.
//
// A name in dbRef is resolved among every customer's databases; with a
// connect token or key the database is known from the credential, so the
// name only has to be that database's. With a password a name several
// customers use is refused (3D000), asking for the id.
func (a *WireAccess) Login(ctx context.Context, dbRef, role, password string) (*PGSession, error) {
	if tenancy.ReservedRole(role) || role == "" || len(role) > 63 {
		return nil, platform.Errorf(platform.CodeForbidden, "role %q may not log in", role)
	}
	switch {
	case strings.HasPrefix(password, ConnectKeyPrefix):
		return a.loginKey(ctx, dbRef, role, password)
	case auth.LooksLikeJWT(password):
		return a.loginToken(ctx, dbRef, role, password)
	}
	return a.loginPassword(ctx, dbRef, role, password)
}

func badLogin(role string) error {
	return platform.Errorf(platform.CodeUnauthorized, "password authentication failed for user %q", role)
}

func (a *WireAccess) loginKey(ctx context.Context, dbRef, role, secret string) (*PGSession, error) {
	k, d, err := a.cat.ConnectKeys.Use(ctx, auth.HashToken(secret))
	if errors.Is(err, catalog.ErrNotFound) {
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect key is invalid, revoked or expired")
	}
	if err != nil {
		return nil, platform.Wrap(platform.CodeUnavailable, err, "could not check the connect key; try again")
	}
	if dbRef != d.ID && dbRef != d.Name {
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect key is for another database")
	}
	if role != k.Role {
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect key is for another role")
	}
	if !contains(k.Scopes, ScopePG) {
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect key lacks the %q scope", ScopePG)
	}
	return a.open(ctx, d, role, "connect_key", nil)
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

func (a *WireAccess) loginToken(ctx context.Context, dbRef, role, token string) (*PGSession, error) {
	c, raw, err := a.signer.Verify(token)
	switch {
	case errors.Is(err, auth.ErrTokenExpired):
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect token expired")
	case err != nil:
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect token is invalid")
	}
	d, err := a.find(ctx, c.DatabaseID)
	if platform.ErrorCode(err) == platform.CodeNotFound || err == nil && dbRef != d.ID && dbRef != d.Name {
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect token is for another database")
	}
	if err != nil {
		return nil, err
	}
	if role != c.Role {
		return nil, platform.Errorf(platform.CodeUnauthorized, "connect token is for another role")
	}
	return a.open(ctx, d, role, "connect_token", raw)
}

func (a *WireAccess) loginPassword(ctx context.Context, dbRef, role, password string) (*PGSession, error) {
	d, err := a.find(ctx, dbRef)
	if err != nil {
		return nil, err
	}
	sess, err := a.open(ctx, d, role, "password", nil)
	if err != nil {
		return nil, err
	}
	if err := a.checkPassword(ctx, sess.Lease, d.ID, role, password); err != nil {
		sess.Lease.Release()
		return nil, err
	}
	return sess, nil
}

// checkPassword checks password against the role's stored verifier in the
// instance. A password that matched this very verifier before is not
// checked again (PBKDF2 costs milliseconds by design).
func (a *WireAccess) checkPassword(ctx context.Context, lease placement.Lease, dbID, role, password string) error {
	pool, err := lease.Pool(placement.Superuser)
	if err != nil {
		return platform.Wrap(platform.CodeUnavailable, err, "database is unavailable; try again")
	}
	var stored *string
	var canLogin, super bool
	var validUntil *time.Time
	err = pool.QueryRow(ctx, `SELECT rolpassword, rolcanlogin, rolsuper, rolvaliduntil FROM pg_catalog.pg_authid WHERE rolname = $1`, role).
		Scan(&stored, &canLogin, &super, &validUntil)
	if errors.Is(err, pgx.ErrNoRows) {
		return badLogin(role)
	}
	if err != nil {
		return platform.Wrap(platform.CodeUnavailable, err, "could not check the password; try again")
	}
	if stored == nil || validUntil != nil && validUntil.Before(time.Now()) {
		return badLogin(role)
	}
	m := hmac.New(sha256.New, a.pwKey)
	m.Write([]byte(password))
	key := pwCacheKey{db: dbID, role: role}
	copy(key.mac[:], m.Sum(nil))
	if v, ok := a.pwCache.Get(key); !ok || v != *stored {
		if !auth.CheckRolePassword(*stored, role, password) {
			return badLogin(role)
		}
		a.pwCache.Put(key, *stored, time.Time{})
	}
	if !canLogin || super {
		return platform.Errorf(platform.CodeForbidden, "role %q is not permitted to log in", role)
	}
	return nil
}

// find resolves a database of any customer by id or unambiguous name.
func (a *WireAccess) find(ctx context.Context, ref string) (catalog.DatabaseRow, error) {
	if !platform.ValidDatabaseName(ref) {
		return catalog.DatabaseRow{}, platform.Errorf(platform.CodeNotFound, "database %q does not exist", ref)
	}
	if d, ok := a.dbs.Get(ref); ok {
		return d, nil
	}
	d, err := a.cat.Databases.Find(ctx, ref)
	switch {
	case errors.Is(err, catalog.ErrNotFound):
		return d, platform.Errorf(platform.CodeNotFound, "database %q does not exist", ref)
	case errors.Is(err, catalog.ErrAmbiguous):
		return d, platform.Errorf(platform.CodeNotFound, "database name %q is used by more than one account; connect with the database id (user <id>.<role>)", ref)
	case err != nil:
		return d, platform.Wrap(platform.CodeUnavailable, err, "could not look up the database; try again")
	}
	a.dbs.Put(ref, d, time.Time{})
	return d, nil
}

// open checks the database's state and wakes its instance, leased.
func (a *WireAccess) open(ctx context.Context, d catalog.DatabaseRow, role, method string, claims map[string]any) (*PGSession, error) {
	switch d.State {
	case platform.StateActive:
	case platform.StateCloning, platform.StateCreating:
		return nil, platform.Errorf(platform.CodeUnavailable, "database %q is still being created", d.ID)
	default:
		return nil, platform.Errorf(platform.CodeNotFound, "database %q does not exist", d.ID)
	}
	lease, err := a.inst.Acquire(ctx, d.ID)
	if platform.ErrorCode(err) == platform.CodeNotFound {
		a.dbs.RemoveIf(func(_ string, r catalog.DatabaseRow) bool { return r.ID == d.ID })
		return nil, platform.Errorf(platform.CodeNotFound, "database %q does not exist", d.ID)
	}
	if err != nil {
		return nil, err
	}
	sess := &PGSession{DatabaseID: d.ID, Role: role, Method: method, Lease: lease}
	if claims != nil {
		sess.Settings = claimSettings(claims)
	}
	return sess, nil
}

// claimSettings turns token claims into request.jwt.claims (the JSON) and
// request.jwt.claim.<name> for each claim whose name is a plain
// identifier (strings as they are, other values as JSON).
func claimSettings(claims map[string]any) map[string]string {
	b, _ := json.Marshal(claims)
	out := map[string]string{"request.jwt.claims": string(b)}
	names := make([]string, 0, len(claims))
	for k := range claims {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		if !plainIdent(k) {
			continue
		}
		switch v := claims[k].(type) {
		case string:
			out["request.jwt.claim."+k] = v
		default:
			vb, _ := json.Marshal(v)
			out["request.jwt.claim."+k] = string(vb)
		}
	}
	return out
}

func plainIdent(s string) bool {
	if s == "" || len(s) > 40 {
		return false
	}
	for i, r := range s {
		if !(r >= 'a' && r <= 'z' || r == '_' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return true
}
