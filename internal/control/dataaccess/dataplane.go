package dataaccess

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/control/ttlcache"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/ratelimit"
)

// DataPlane holds the control-plane use cases of the browser data plane
// (auth-config, publishable and service keys) and the lookups the data API
// makes on every request (ResolveDataKey, AuthConfig).
//
// Lookups are cached for at most tenancy.CacheTTL. A change made through this
// process (revoke, delete of the database, PUT auth-config) is seen by the
// next lookup here at once; other processes sharing the catalog see it
// within tenancy.CacheTTL. Expiry is checked on every use, not only on a
// miss.
type DataPlane struct {
	cat    *catalog.Catalog
	kc     *jwtverify.KeyCache
	lookup tenancy.DatabaseLookup
	log    *slog.Logger
	now    func() time.Time

	keys    *ttlcache.Cache[string, DataKey]    // key hash -> key
	configs *ttlcache.Cache[string, AuthConfig] // database id -> auth-config
	// gen orders an invalidation (revoke, delete, PUT auth-config) against
	// a lookup that read the catalog before it: a lookup caches what it
	// read only when no invalidation happened since it started, so a stale
	// row cannot be cached after the invalidation dropped the old entry.
	mu  sync.Mutex
	gen uint64

	touch dataKeyToucher
}

// New wires the data plane use cases. kc checks jwks_urls (and is the one
// the data API's verifiers share); lookup is the database lookup of the
// /customer API. It does no I/O.
func New(cat *catalog.Catalog, kc *jwtverify.KeyCache, lookup tenancy.DatabaseLookup, log *slog.Logger) *DataPlane {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &DataPlane{cat: cat, kc: kc, lookup: lookup, log: log, now: time.Now,
		keys:    ttlcache.New[string, DataKey](tenancy.CacheTTL, 100_000),
		configs: ttlcache.New[string, AuthConfig](tenancy.CacheTTL, 100_000)}
}

// Close waits for the last_used_at writes in flight and starts no more;
// control.Service.Close calls it before the catalog closes. It is
// idempotent.
func (d *DataPlane) Close() {
	d.touch.mu.Lock()
	d.touch.closed = true
	d.touch.mu.Unlock()
	d.touch.wg.Wait()
}

// KeyCache is the JWKS cache verifiers of the data API should share.
func (d *DataPlane) KeyCache() *jwtverify.KeyCache { return d.kc }

// DataKey is a live publishable or service key, as the data API needs it
// on every request. Its slices are shared with the cache: read only.
type DataKey struct {
	ID           string
	Kind         auth.KeyKind // auth.PublishableKey or auth.ServiceKey
	Name         string
	DatabaseID   string
	DatabaseName string
	// AllowedOrigins are exact origins or "*" (publishable keys; empty for
	// service keys, which browsers may not use at all).
	AllowedOrigins []string
	// ExposedSchemas are the schemas a publishable key reaches; empty for
	// service keys (every schema of the customer's).
	ExposedSchemas []string
	// ExposedTables limits a publishable key to these tables and views
	// ("name" in any exposed schema, or "schema.name"); empty is all of the
	// exposed schemas'.
	ExposedTables []string
	// RateLimit is nil when the key has none.
	RateLimit *ratelimit.Limit
	CreatedAt time.Time
	ExpiresAt *time.Time // nil: never
}

// errBadDataKey is the one answer for a key that is malformed, unknown,
// revoked, expired or of a deleted database: which of these is not told.
func errBadDataKey() error {
	return platform.Errorf(platform.CodeUnauthorized, "invalid, revoked or expired API key")
}

// ResolveDataKey checks a publishable or service key and returns what it
// grants. Every failure to authenticate is platform.CodeUnauthorized; a
// catalog failure is platform.CodeUnavailable. last_used_at is written in
// the background, at most once a minute per key.
func (d *DataPlane) ResolveDataKey(ctx context.Context, key string) (DataKey, error) {
	kind, err := auth.ParseDataKey(key)
	if err != nil {
		return DataKey{}, errBadDataKey()
	}
	hash := string(auth.HashDataKey(key))
	k, ok := d.keys.Get(hash)
	if !ok {
		d.mu.Lock()
		gen := d.gen
		d.mu.Unlock()
		row, dbName, err := d.cat.DataPlane.LookupKey(ctx, []byte(hash))
		if errors.Is(err, catalog.ErrNotFound) {
			return DataKey{}, errBadDataKey()
		}
		if err != nil {
			return DataKey{}, platform.Wrap(platform.CodeUnavailable, err, "could not check the API key; try again")
		}
		k = dataKeyFromRow(row, dbName)
		d.mu.Lock()
		if d.gen == gen { // nothing was revoked or deleted meanwhile
			var until time.Time
			if k.ExpiresAt != nil {
				until = *k.ExpiresAt
			}
			d.keys.Put(hash, k, until)
		}
		d.mu.Unlock()
	}
	if k.Kind != kind || k.ExpiresAt != nil && !d.now().Before(*k.ExpiresAt) {
		return DataKey{}, errBadDataKey()
	}
	d.touch.touch(d, k.ID)
	return k, nil
}

func dataKeyFromRow(r catalog.DataKey, dbName string) DataKey {
	k := DataKey{ID: r.ID, Name: r.Name, DatabaseID: r.DatabaseID, DatabaseName: dbName,
		AllowedOrigins: r.AllowedOrigins, ExposedSchemas: r.ExposedSchemas, ExposedTables: r.ExposedTables,
		CreatedAt: r.CreatedAt, ExpiresAt: r.ExpiresAt}
	switch r.Kind {
	case kindPublishable:
		k.Kind = auth.PublishableKey
	case kindService:
		k.Kind = auth.ServiceKey
	}
	if r.RateRPS != nil && r.RateBurst != nil {
		k.RateLimit = &ratelimit.Limit{RPS: *r.RateRPS, Burst: *r.RateBurst}
	}
	return k
}

// invalidate drops cached keys for which drop is true, and the cached
// auth-config of databaseID (when not empty), after the catalog changed;
// lookups in flight do not cache what they read.
func (d *DataPlane) invalidate(databaseID string, drop func(DataKey) bool) {
	d.mu.Lock()
	d.gen++
	d.mu.Unlock()
	if drop != nil {
		d.keys.RemoveIf(func(_ string, k DataKey) bool { return drop(k) })
	}
	if databaseID != "" {
		d.configs.RemoveIf(func(id string, _ AuthConfig) bool { return id == databaseID })
	}
}

// ForgetDatabase makes every key of a database stop working at once in
// this process; the server calls it when a database is being deleted,
// after the catalog marked it so (later lookups no longer find its keys).
func (d *DataPlane) ForgetDatabase(databaseID string) {
	d.invalidate(databaseID, func(k DataKey) bool { return k.DatabaseID == databaseID })
}

// Auth modes of an auth-config.
const (
	AuthModeNone   = "none"
	AuthModeBYOJWT = "byo_jwt"
)

// AuthConfig is a database's auth-config.
type AuthConfig struct {
	Mode string // AuthModeNone or AuthModeBYOJWT
	// BYOJWT is set with AuthModeBYOJWT: validated, defaults filled.
	BYOJWT *jwtverify.Config
	// Version grows with every change; 0 for a database never configured.
	// A verifier built for one version serves until the version changes.
	Version   int64
	UpdatedAt *time.Time // nil: never configured
}

// AuthConfig returns a database's auth-config for the data API (by id,
// without a principal: the caller has resolved a key of that database).
// A database never configured is AuthModeNone, version 0.
func (d *DataPlane) AuthConfig(ctx context.Context, databaseID string) (AuthConfig, error) {
	if c, ok := d.configs.Get(databaseID); ok {
		return c, nil
	}
	d.mu.Lock()
	gen := d.gen
	d.mu.Unlock()
	c, err := d.readAuthConfig(ctx, databaseID)
	if err != nil {
		return AuthConfig{}, platform.Wrap(platform.CodeUnavailable, err, "could not read the auth-config; try again")
	}
	d.mu.Lock()
	if d.gen == gen {
		d.configs.Put(databaseID, c, time.Time{})
	}
	d.mu.Unlock()
	return c, nil
}

func (d *DataPlane) readAuthConfig(ctx context.Context, databaseID string) (AuthConfig, error) {
	row, err := d.cat.DataPlane.AuthConfig(ctx, databaseID)
	if errors.Is(err, catalog.ErrNotFound) {
		return AuthConfig{Mode: AuthModeNone}, nil
	}
	if err != nil {
		return AuthConfig{}, err
	}
	return authConfigFromRow(row)
}

func authConfigFromRow(row catalog.AuthConfig) (AuthConfig, error) {
	at := row.UpdatedAt
	c := AuthConfig{Mode: row.Mode, Version: row.Version, UpdatedAt: &at}
	if row.Mode == AuthModeBYOJWT {
		var cfg jwtverify.Config
		if err := json.Unmarshal(row.BYOJWT, &cfg); err != nil {
			return AuthConfig{}, fmt.Errorf("decode stored auth-config of %s: %w", row.DatabaseID, err)
		}
		cfg = cfg.WithDefaults()
		c.BYOJWT = &cfg
	}
	return c, nil
}

// touchInterval is how often at most last_used_at is written per key, as
// for API tokens.
const touchInterval = time.Minute

// dataKeyToucher throttles last_used_at writes of data keys as the token
// toucher does for API tokens: at most one per key per touchInterval, in
// the background, with a bound on writes in flight.
type dataKeyToucher struct {
	mu       sync.Mutex
	last     map[string]time.Time
	closed   bool
	wg       sync.WaitGroup
	inflight atomic.Int32
}

func (t *dataKeyToucher) touch(d *DataPlane, id string) {
	now := time.Now()
	t.mu.Lock()
	if t.last == nil || len(t.last) > 100_000 {
		t.last = map[string]time.Time{}
	}
	if prev, ok := t.last[id]; ok && now.Sub(prev) < touchInterval || t.inflight.Load() >= 8 || t.closed {
		t.mu.Unlock()
		return
	}
	t.last[id] = now
	t.inflight.Add(1)
	t.wg.Add(1)
	t.mu.Unlock()
	go func() {
		defer t.wg.Done()
		defer t.inflight.Add(-1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := d.cat.DataPlane.TouchKey(ctx, id); err != nil {
			d.log.Debug("update last_used_at", logkey.Key, id, logkey.Err, err)
			t.mu.Lock()
			delete(t.last, id)
			t.mu.Unlock()
		}
	}()
}
