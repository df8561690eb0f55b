package jwtverify

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/netip"
	neturl "net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/db9/db9/internal/netguard"
)

// KeyCacheConfig configures a KeyCache. Zero values mean the defaults.
type KeyCacheConfig struct {
	// AllowPrivate lets jwks_url reach loopback and private addresses
	// (--allow-private-jwks, for self-hosted identity providers).
	AllowPrivate bool
	// AllowHTTP accepts http:// jwks_urls (tests, private networks).
	AllowHTTP bool
	// Allow permits these ranges although not public (tests on loopback).
	Allow []netip.Prefix
	// Resolve looks names up; nil means the system resolver.
	Resolve netguard.Resolver
	// RootCAs verifies servers' certificates; nil means the system roots.
	RootCAs *x509.CertPool

	Timeout    time.Duration // one fetch; default 5 s
	MinTTL     time.Duration // lower bound of Cache-Control max-age; default 5 min
	MaxTTL     time.Duration // upper bound; default 24 h
	DefaultTTL time.Duration // without max-age; default 1 h
	RefreshGap time.Duration // fetches of one URL at most this often when not expired; default 30 s
	MaxBytes   int64         // largest JWKS document; default 256 KiB
	MaxEntries int           // URLs cached; the least recently used go first; default 1000
	Now        func() time.Time
}

// KeyCache fetches and caches JWK Sets by URL, for every database's
// verifier. It is safe for concurrent use and holds no goroutines.
type KeyCache struct {
	cfg    KeyCacheConfig
	guard  *netguard.Guard
	client *http.Client

	mu      sync.Mutex
	entries map[string]*cacheEntry
}

type cacheEntry struct {
	mu        sync.Mutex // one fetch of a URL at a time; others wait for it
	set       *KeySet
	expires   time.Time
	attempted time.Time // last fetch, successful or not
	err       error     // of the last fetch, when it failed
	used      time.Time // under KeyCache.mu
}

// NewKeyCache returns a KeyCache; it does no I/O.
func NewKeyCache(cfg KeyCacheConfig) *KeyCache {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&cfg.Timeout, 5*time.Second)
	def(&cfg.MinTTL, 5*time.Minute)
	def(&cfg.MaxTTL, 24*time.Hour)
	def(&cfg.DefaultTTL, time.Hour)
	def(&cfg.RefreshGap, 30*time.Second)
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = 256 << 10
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = 1000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	g := &netguard.Guard{AllowPrivate: cfg.AllowPrivate, Allow: cfg.Allow, Resolve: cfg.Resolve, DialTimeout: cfg.Timeout}
	client := g.Client(cfg.Timeout)
	if cfg.RootCAs != nil {
		tr := client.Transport.(*http.Transport)
		tr.TLSClientConfig = tr.TLSClientConfig.Clone()
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = newTLSConfig()
		}
		tr.TLSClientConfig.RootCAs = cfg.RootCAs
	}
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		if req.URL.Scheme != "https" && !(cfg.AllowHTTP && req.URL.Scheme == "http") {
			return fmt.Errorf("redirect to a %s URL refused", req.URL.Scheme)
		}
		return g.CheckRedirect(req, via)
	}
	return &KeyCache{cfg: cfg, guard: g, client: client, entries: map[string]*cacheEntry{}}
}

// Source returns the KeySource of the JWK Set at url.
func (kc *KeyCache) Source(url string) KeySource { return urlSource{kc, url} }

type urlSource struct {
	kc  *KeyCache
	url string
}

func (s urlSource) Keys(ctx context.Context, refresh bool) (*KeySet, error) {
	return s.kc.Keys(ctx, s.url, refresh)
}

// Keys returns the keys at url: from the cache while fresh, else fetched.
// With refresh (a token named an unknown kid) they are fetched again unless
// the last fetch was less than RefreshGap ago, so tokens with made-up kids
// cannot make the server hammer the provider. When a fetch fails, keys
// fetched before keep serving until MaxTTL past their expiry.
func (kc *KeyCache) Keys(ctx context.Context, url string, refresh bool) (*KeySet, error) {
	e := kc.entry(url)
	e.mu.Lock()
	defer e.mu.Unlock()
	now := kc.cfg.Now()
	fresh := e.set != nil && now.Before(e.expires)
	recent := !e.attempted.IsZero() && now.Sub(e.attempted) < kc.cfg.RefreshGap
	if (fresh && !refresh) || recent {
		return e.current(now, kc.cfg.MaxTTL)
	}
	e.attempted = now
	set, ttl, err := kc.fetch(ctx, url)
	if err != nil {
		e.err = err
		return e.current(now, kc.cfg.MaxTTL)
	}
	e.set, e.expires, e.err = set, now.Add(ttl), nil
	return set, nil
}

func (e *cacheEntry) current(now time.Time, maxStale time.Duration) (*KeySet, error) {
	if e.set != nil && now.Before(e.expires.Add(maxStale)) {
		return e.set, nil
	}
	if e.err != nil {
		return nil, e.err
	}
	return nil, fmt.Errorf("%w: no keys", ErrUnavailable)
}

func (kc *KeyCache) entry(url string) *cacheEntry {
	kc.mu.Lock()
	defer kc.mu.Unlock()
	now := kc.cfg.Now()
	e, ok := kc.entries[url]
	if !ok {
		if len(kc.entries) >= kc.cfg.MaxEntries {
			kc.evictLocked()
		}
		e = &cacheEntry{}
		kc.entries[url] = e
	}
	e.used = now
	return e
}

// evictLocked drops the least recently used entry. A linear scan: it runs
// only when the cache is full, and MaxEntries is small.
func (kc *KeyCache) evictLocked() {
	var oldest string
	var at time.Time
	for u, e := range kc.entries {
		if oldest == "" || e.used.Before(at) {
			oldest, at = u, e.used
		}
	}
	delete(kc.entries, oldest)
}

// Forget drops url from the cache (its auth-config changed).
func (kc *KeyCache) Forget(url string) {
	kc.mu.Lock()
	delete(kc.entries, url)
	kc.mu.Unlock()
}

func (kc *KeyCache) fetch(ctx context.Context, url string) (*KeySet, time.Duration, error) {
	fail := func(format string, args ...any) (*KeySet, time.Duration, error) {
		return nil, 0, fmt.Errorf("%w: fetch %s: %s", ErrUnavailable, url, fmt.Sprintf(format, args...))
	}
	if _, err := parseJWKSURL(url, kc.cfg.AllowHTTP); err != nil {
		return fail("%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, kc.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fail("%v", err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json")
	resp, err := kc.client.Do(req)
	if err != nil {
		var ue *neturl.Error
		if errors.As(err, &ue) {
			err = ue.Err // the *url.Error repeats the URL
		}
		return nil, 0, fmt.Errorf("%w: fetch %s: %w", ErrUnavailable, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fail("status %d", resp.StatusCode)
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		if mt, _, _ := mime.ParseMediaType(ct); mt != "application/json" && mt != "application/jwk-set+json" && !strings.HasSuffix(mt, "+json") {
			return fail("content type %q, not JSON", mt)
		}
	}
	if resp.ContentLength > kc.cfg.MaxBytes {
		return fail("larger than %d bytes", kc.cfg.MaxBytes)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, kc.cfg.MaxBytes+1))
	if err != nil {
		return fail("read: %v", err)
	}
	if int64(len(body)) > kc.cfg.MaxBytes {
		return fail("larger than %d bytes", kc.cfg.MaxBytes)
	}
	set, err := ParseKeySet(body)
	if err != nil {
		return fail("%v", err)
	}
	return set, kc.ttl(resp.Header.Get("Cache-Control")), nil
}

// ttl reads max-age from Cache-Control, bounded to [MinTTL, MaxTTL];
// no-store and no-cache mean MinTTL, as fetching on every request would
// put the provider's availability on every request's path.
func (kc *KeyCache) ttl(cc string) time.Duration {
	ttl := kc.cfg.DefaultTTL
	for _, d := range strings.Split(cc, ",") {
		name, val, _ := strings.Cut(strings.TrimSpace(d), "=")
		switch strings.ToLower(name) {
		case "max-age":
			if n, err := strconv.ParseInt(strings.Trim(val, `"`), 10, 64); err == nil && n >= 0 {
				ttl = time.Duration(min(n, int64(kc.cfg.MaxTTL/time.Second))) * time.Second
			}
		case "no-store", "no-cache":
			ttl = kc.cfg.MinTTL
		}
	}
	return max(kc.cfg.MinTTL, min(ttl, kc.cfg.MaxTTL))
}
