package dataaccess

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/ratelimit"
)

// dataPlaneEnv is a DataPlane over a real catalog (an external cluster)
// with one customer and one database.
type dataPlaneEnv struct {
	cluster *pgtest.Cluster
	cat     *catalog.Catalog
	dp      *DataPlane
	p       tenancy.Principal
	db      catalog.DatabaseRow
}

func testLookup(cat *catalog.Catalog) tenancy.DatabaseLookup {
	return func(ctx context.Context, p tenancy.Principal, ref string) (platform.Database, error) {
		row, err := cat.Databases.Get(ctx, p.Customer.ID, ref)
		if errors.Is(err, catalog.ErrNotFound) || err == nil && p.Scope.Access(row.ID) == "" {
			return platform.Database{}, platform.NotFound("database")
		}
		return row.Database, err
	}
}

func newDataPlaneEnv(t *testing.T, allowPrivate bool) *dataPlaneEnv {
	t.Helper()
	cl := pgtest.Start(t)
	cat := catalog.New(catalog.Config{URL: cl.ConnString(pgtest.Superuser)})
	ctx := context.Background()
	if err := cat.Open(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cat.Close(context.Background()) })
	e := &dataPlaneEnv{cluster: cl, cat: cat,
		dp: New(cat, jwtverify.NewKeyCache(jwtverify.KeyCacheConfig{AllowPrivate: allowPrivate}), testLookup(cat), nil)}
	t.Cleanup(e.dp.Close) // before the catalog closes
	e.p, e.db = e.newCustomer(t, "app")
	return e
}

func (e *dataPlaneEnv) newCustomer(t *testing.T, dbName string) (tenancy.Principal, catalog.DatabaseRow) {
	t.Helper()
	ctx := context.Background()
	cust, err := e.cat.Accounts.Create(ctx, platform.Customer{ID: platform.NewUUID(), IsAnonymous: true}, auth.HashToken("s"+platform.NewID(8)),
		platform.NewID(16), "t", auth.HashToken(platform.NewID(20)), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	db, err := e.cat.Databases.Insert(ctx, catalog.DatabaseRow{Database: platform.Database{ID: platform.NewID(12), CustomerID: cust.ID,
		Name: dbName, State: platform.StateActive, Region: "local"}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	return tenancy.Principal{Customer: cust}, db
}

// catalogExec runs SQL on the catalog behind the DataPlane's back.
func (e *dataPlaneEnv) catalogExec(t *testing.T, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, e.cluster.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

func wantCode(t *testing.T, what string, err error, code platform.Code) {
	t.Helper()
	if platform.ErrorCode(err) != code {
		t.Errorf("%s: error %v (code %q), want code %q", what, err, platform.ErrorCode(err), code)
	}
}

func TestDataPlane_ResolveDataKey(t *testing.T) {
	e := newDataPlaneEnv(t, false)
	ctx := context.Background()
	dp := e.dp

	pk, err := dp.CreateDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, DataKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if kind, err := auth.ParseDataKey(pk.Secret); err != nil || kind != auth.PublishableKey {
		t.Fatalf("secret %q: kind %v, %v", pk.Secret, kind, err)
	}
	k, err := dp.ResolveDataKey(ctx, pk.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if k.ID != pk.ID || k.Kind != auth.PublishableKey || k.DatabaseID != e.db.ID || k.DatabaseName != "app" ||
		len(k.AllowedOrigins) != 1 || k.AllowedOrigins[0] != "*" || len(k.ExposedSchemas) != 1 || k.ExposedSchemas[0] != "public" ||
		len(k.ExposedTables) != 0 || k.RateLimit != nil || k.ExpiresAt != nil {
		t.Fatalf("resolved publishable key with defaults = %+v", k)
	}

	limit := ratelimit.Limit{RPS: 2.5, Burst: 5}
	sk, err := dp.CreateDataKey(ctx, e.p, e.db.ID, auth.ServiceKey, DataKeyRequest{RateLimit: &limit})
	if err != nil {
		t.Fatal(err)
	}
	k, err = dp.ResolveDataKey(ctx, sk.Secret)
	if err != nil || k.Kind != auth.ServiceKey || k.DatabaseID != e.db.ID || k.RateLimit != nil || len(k.AllowedOrigins) != 0 {
		t.Fatalf("resolved service key = %+v, %v (a service key takes no rate limit nor origins)", k, err)
	}

	// Garbage and keys that were never issued.
	for _, bad := range []string{"", "db9pk_", "db9pk_short", "Bearer x", auth.NewPublishableKey(), auth.NewServiceKey(),
		"db9sk_" + pk.Secret[len("db9pk_"):]} { // the same secret under the other prefix
		_, err := dp.ResolveDataKey(ctx, bad)
		wantCode(t, "resolve "+bad, err, platform.CodeUnauthorized)
	}

	// The key is cached now; revoking it stops it at once.
	if err := dp.RevokeDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, pk.ID); err != nil {
		t.Fatal(err)
	}
	_, err = dp.ResolveDataKey(ctx, pk.Secret)
	wantCode(t, "revoked key", err, platform.CodeUnauthorized)
	wantCode(t, "revoke again", dp.RevokeDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, pk.ID), platform.CodeNotFound)
	// A service key's id is not a publishable key's.
	wantCode(t, "revoke across kinds", dp.RevokeDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, sk.ID), platform.CodeNotFound)
	if _, err := dp.ResolveDataKey(ctx, sk.Secret); err != nil {
		t.Fatalf("service key after revoking another key: %v", err)
	}

	// last_used_at is written in the background.
	deadline := time.Now().Add(10 * time.Second)
	for {
		keys, err := dp.ListDataKeys(ctx, e.p, e.db.Name, auth.ServiceKey)
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 1 && keys[0].LastUsedAt != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("last_used_at not set: %+v", keys)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestDataPlane_ResolveDataKey_Expiry(t *testing.T) {
	e := newDataPlaneEnv(t, false)
	ctx := context.Background()
	one := 1
	pk, err := e.dp.CreateDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, DataKeyRequest{ExpiresInDays: &one})
	if err != nil {
		t.Fatal(err)
	}
	if pk.ExpiresAt == nil || time.Until(*pk.ExpiresAt) < 23*time.Hour || time.Until(*pk.ExpiresAt) > 25*time.Hour {
		t.Fatalf("expires_at = %v, want in a day", pk.ExpiresAt)
	}
	if _, err := e.dp.ResolveDataKey(ctx, pk.Secret); err != nil {
		t.Fatal(err)
	}
	// Expiry is checked on every use, also for a cached key.
	e.dp.now = func() time.Time { return time.Now().Add(25 * time.Hour) }
	_, err = e.dp.ResolveDataKey(ctx, pk.Secret)
	wantCode(t, "expired (cached) key", err, platform.CodeUnauthorized)

	// And by the catalog, for a process that has not cached it.
	e.catalogExec(t, `UPDATE data_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, pk.ID)
	fresh := New(e.cat, e.dp.kc, testLookup(e.cat), nil)
	defer fresh.Close()
	_, err = fresh.ResolveDataKey(ctx, pk.Secret)
	wantCode(t, "expired key, uncached", err, platform.CodeUnauthorized)
}

func TestDataPlane_DatabaseDeleted(t *testing.T) {
	e := newDataPlaneEnv(t, false)
	ctx := context.Background()
	pk, err := e.dp.CreateDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, DataKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.dp.ResolveDataKey(ctx, pk.Secret); err != nil {
		t.Fatal(err)
	}
	// What Service.DeleteDatabase does: mark the row, then run its hooks.
	if err := e.cat.Databases.BeginDelete(ctx, e.p.Customer.ID, e.db.ID); err != nil {
		t.Fatal(err)
	}
	e.dp.ForgetDatabase(e.db.ID)
	_, err = e.dp.ResolveDataKey(ctx, pk.Secret)
	wantCode(t, "key of a deleted database", err, platform.CodeUnauthorized)
	fresh := New(e.cat, e.dp.kc, testLookup(e.cat), nil)
	defer fresh.Close()
	_, err = fresh.ResolveDataKey(ctx, pk.Secret)
	wantCode(t, "key of a deleted database, uncached", err, platform.CodeUnauthorized)
}

// TestDataPlane_RevokeRace resolves a key from several goroutines while it
// is revoked: once RevokeDataKey has returned, no resolve may succeed,
// whatever a lookup in flight read before.
func TestDataPlane_RevokeRace(t *testing.T) {
	e := newDataPlaneEnv(t, false)
	ctx := context.Background()
	for round := 0; round < 5; round++ {
		pk, err := e.dp.CreateDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, DataKeyRequest{})
		if err != nil {
			t.Fatal(err)
		}
		var revoked sync.WaitGroup
		revoked.Add(1)
		var done sync.WaitGroup
		var mu sync.Mutex
		var lateOK int
		for g := 0; g < 4; g++ {
			done.Add(1)
			go func() {
				defer done.Done()
				for i := 0; i < 20; i++ {
					_, _ = e.dp.ResolveDataKey(ctx, pk.Secret)
				}
				revoked.Wait()
				for i := 0; i < 20; i++ {
					if _, err := e.dp.ResolveDataKey(ctx, pk.Secret); err == nil {
						mu.Lock()
						lateOK++
						mu.Unlock()
					}
				}
			}()
		}
		if err := e.dp.RevokeDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, pk.ID); err != nil {
			t.Fatal(err)
		}
		revoked.Done()
		done.Wait()
		if lateOK > 0 {
			t.Fatalf("round %d: %d resolves succeeded after the revoke returned", round, lateOK)
		}
	}
}

func testJWKS(t *testing.T) json.RawMessage {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDataPlane_AuthConfig(t *testing.T) {
	e := newDataPlaneEnv(t, false)
	ctx := context.Background()
	c, err := e.dp.AuthConfig(ctx, e.db.ID)
	if err != nil || c.Mode != AuthModeNone || c.Version != 0 || c.BYOJWT != nil || c.UpdatedAt != nil {
		t.Fatalf("never configured: %+v, %v", c, err)
	}
	byo, _ := json.Marshal(map[string]any{"jwks": testJWKS(t), "issuer": "https://idp.example"})
	put, err := e.dp.PutAuthConfig(ctx, e.p, e.db.Name, AuthConfigRequest{Mode: AuthModeBYOJWT, BYOJWT: byo})
	if err != nil {
		t.Fatal(err)
	}
	if put.Version != 1 || put.BYOJWT == nil || put.BYOJWT.RoleClaim != "role" || put.BYOJWT.DefaultRole != "authenticated" ||
		len(put.BYOJWT.Algorithms) != 2 || put.UpdatedAt == nil {
		t.Fatalf("stored config = %+v", put)
	}
	// The data plane's (cached) view follows a change at once.
	c, err = e.dp.AuthConfig(ctx, e.db.ID)
	if err != nil || c.Version != 1 || c.BYOJWT.Issuer != "https://idp.example" {
		t.Fatalf("after PUT: %+v, %v", c, err)
	}
	if _, err := jwtverify.New(*c.BYOJWT, e.dp.KeyCache()); err != nil {
		t.Fatalf("a verifier cannot be built from the stored config: %v", err)
	}
	if _, err := e.dp.PutAuthConfig(ctx, e.p, e.db.Name, AuthConfigRequest{Mode: AuthModeNone}); err != nil {
		t.Fatal(err)
	}
	c, err = e.dp.AuthConfig(ctx, e.db.ID)
	if err != nil || c.Version != 2 || c.Mode != AuthModeNone || c.BYOJWT != nil {
		t.Fatalf("after PUT none: %+v, %v", c, err)
	}

	bad := []struct {
		req  AuthConfigRequest
		code platform.Code
	}{
		{AuthConfigRequest{Mode: ""}, platform.CodeInvalid},
		{AuthConfigRequest{Mode: "jwt"}, platform.CodeInvalid},
		{AuthConfigRequest{Mode: AuthModeBYOJWT}, platform.CodeInvalid},
		{AuthConfigRequest{Mode: AuthModeNone, BYOJWT: byo}, platform.CodeInvalid},
		{AuthConfigRequest{Mode: AuthModeBYOJWT, BYOJWT: json.RawMessage(`{"jwks_url":"https://127.0.0.1/jwks","issuer":"i"}`)}, platform.CodeUnprocessable},
		{AuthConfigRequest{Mode: AuthModeBYOJWT, BYOJWT: json.RawMessage(`{"jwks_url":"https://169.254.169.254/jwks","issuer":"i"}`)}, platform.CodeUnprocessable},
		{AuthConfigRequest{Mode: AuthModeBYOJWT, BYOJWT: json.RawMessage(`{"jwks_url":"http://idp.example/jwks","issuer":"i"}`)}, platform.CodeInvalid},
	}
	for _, b := range bad {
		_, err := e.dp.PutAuthConfig(ctx, e.p, e.db.Name, b.req)
		wantCode(t, "PutAuthConfig "+b.req.Mode+" "+string(b.req.BYOJWT), err, b.code)
	}
	if c, _ := e.dp.AuthConfig(ctx, e.db.ID); c.Version != 2 {
		t.Errorf("a refused PUT changed the config: %+v", c)
	}
}

func TestDataPlane_AuthConfig_AllowPrivate(t *testing.T) {
	e := newDataPlaneEnv(t, true)
	c, err := e.dp.PutAuthConfig(context.Background(), e.p, e.db.Name, AuthConfigRequest{Mode: AuthModeBYOJWT,
		BYOJWT: json.RawMessage(`{"jwks_url":"https://127.0.0.1:8443/jwks","issuer":"i"}`)})
	if err != nil || c.BYOJWT.JWKSURL != "https://127.0.0.1:8443/jwks" {
		t.Fatalf("private jwks_url with AllowPrivate: %+v, %v", c, err)
	}
}

func TestDataPlane_Access(t *testing.T) {
	e := newDataPlaneEnv(t, false)
	ctx := context.Background()
	pk, err := e.dp.CreateDataKey(ctx, e.p, e.db.Name, auth.PublishableKey, DataKeyRequest{})
	if err != nil {
		t.Fatal(err)
	}
	ro := tenancy.Principal{Customer: e.p.Customer, Scope: &tenancy.Scope{Databases: []tenancy.ScopeDatabase{{ID: e.db.ID, Access: tenancy.AccessRO}}}}
	if _, err := e.dp.ListDataKeys(ctx, ro, e.db.Name, auth.PublishableKey); err != nil {
		t.Errorf("ro token cannot list keys: %v", err)
	}
	if _, err := e.dp.GetAuthConfig(ctx, ro, e.db.Name); err != nil {
		t.Errorf("ro token cannot read the auth-config: %v", err)
	}
	_, err = e.dp.CreateDataKey(ctx, ro, e.db.Name, auth.ServiceKey, DataKeyRequest{})
	wantCode(t, "ro create", err, platform.CodeForbidden)
	wantCode(t, "ro revoke", e.dp.RevokeDataKey(ctx, ro, e.db.Name, auth.PublishableKey, pk.ID), platform.CodeForbidden)
	_, err = e.dp.PutAuthConfig(ctx, ro, e.db.Name, AuthConfigRequest{Mode: AuthModeNone})
	wantCode(t, "ro put auth-config", err, platform.CodeForbidden)

	other, _ := e.newCustomer(t, "app") // the same name, another account
	_, err = e.dp.ListDataKeys(ctx, other, e.db.ID, auth.PublishableKey)
	wantCode(t, "other customer's list", err, platform.CodeNotFound)
	wantCode(t, "other customer's revoke", e.dp.RevokeDataKey(ctx, other, e.db.ID, auth.PublishableKey, pk.ID), platform.CodeNotFound)
	keys, err := e.dp.ListDataKeys(ctx, other, "app", auth.PublishableKey) // its own "app"
	if err != nil || len(keys) != 0 {
		t.Errorf("other customer's own database lists %d keys, %v", len(keys), err)
	}
	if _, err := e.dp.ResolveDataKey(ctx, pk.Secret); err != nil {
		t.Errorf("key stopped working after refused revokes: %v", err)
	}
}

func TestBuildDataKey(t *testing.T) {
	str := func(s string) *string { return &s }
	num := func(n int) *int { return &n }
	ok := []DataKeyRequest{
		{},
		{Name: str("web"), AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000"}},
		{AllowedOrigins: []string{}},
		{ExposedSchemas: []string{"public", "api"}, ExposedTables: []string{"posts", "api.items"}},
		{RateLimit: &ratelimit.Limit{RPS: 0.5, Burst: 1}, ExpiresInDays: num(3650)},
	}
	for _, r := range ok {
		if _, err := buildDataKey(auth.PublishableKey, r); err != nil {
			t.Errorf("buildDataKey(%+v): %v", r, err)
		}
	}
	bad := []DataKeyRequest{
		{Name: str("")},
		{Name: str("a\nb")},
		{ExpiresInDays: num(0)},
		{ExpiresInDays: num(3651)},
		{AllowedOrigins: []string{"app.example.com"}},
		{AllowedOrigins: []string{"https://app.example.com/path"}},
		{AllowedOrigins: []string{"null"}},
		{ExposedSchemas: []string{}},
		{ExposedSchemas: []string{"pg_catalog"}},
		{ExposedSchemas: []string{"information_schema"}},
		{ExposedSchemas: []string{"_db9"}},
		{ExposedSchemas: []string{"auth"}},
		{ExposedSchemas: []string{"a.b"}},
		{ExposedSchemas: []string{"public", "public"}},
		{ExposedTables: []string{"other.t"}},
		{ExposedTables: []string{`"t"`}},
		{ExposedTables: []string{""}},
		{ExposedTables: []string{"a.b.c"}},
		{RateLimit: &ratelimit.Limit{RPS: 0, Burst: 1}},
		{RateLimit: &ratelimit.Limit{RPS: 1, Burst: 0}},
		{RateLimit: &ratelimit.Limit{RPS: 1e9, Burst: 1}},
	}
	for _, r := range bad {
		_, err := buildDataKey(auth.PublishableKey, r)
		wantCode(t, "buildDataKey", err, platform.CodeInvalid)
	}
}
