package jwtverify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/db9/db9/internal/netguard"
	"github.com/db9/db9/internal/platform"
)

func urlConfig(tb testing.TB, url string) Config {
	tb.Helper()
	c, err := ParseConfig(mustJSON(Config{JWKSURL: url, Issuer: testIssuer, Audience: "app", Algorithms: []string{"RS256", "ES256", "EdDSA"}}))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// TestKeyCache_TLS: keys fetched over TLS, cached, fetched again on an
// unknown kid at most once per RefreshGap, and rotated keys picked up.
func TestKeyCache_TLS(t *testing.T) {
	p := newIdP(t)
	p.setPublished("rsa1")
	p.serveTLS(t)
	clock := newClock()
	kc := p.cache(clock, nil)
	cfg := urlConfig(t, p.srv.URL+"/jwks")
	if err := kc.CheckNetwork(context.Background(), cfg); err != nil {
		t.Fatal(err)
	}
	v := mustVerifier(t, cfg, kc)
	ctx := context.Background()
	verify := func(kid string) error {
		_, err := v.Verify(ctx, p.sign(t, kid, claimsAt(clock.Now(), "alice")))
		return err
	}
	for range 3 {
		if err := verify("rsa1"); err != nil {
			t.Fatal(err)
		}
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches after 3 tokens = %d, want 1 (cached)", n)
	}
	// The provider rotates in ec256; a token under it arrives at once: the
	// last fetch is too recent, so no fetch and a refusal.
	p.setPublished("rsa1", "ec256")
	if err := verify("ec256"); !errors.Is(err, ErrInvalid) {
		t.Fatalf("new kid within the refresh gap: %v", err)
	}
	if n := p.fetches.Load(); n != 1 {
		t.Fatalf("fetches = %d, want 1 (rate limited)", n)
	}
	// Past the gap, the unknown kid fetches once and verifies.
	clock.Advance(31 * time.Second)
	if err := verify("ec256"); err != nil {
		t.Fatalf("rotated key: %v", err)
	}
	if n := p.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
	// A made-up kid: one fetch, refused; a flood of them: no more fetches.
	clock.Advance(31 * time.Second)
	for i := range 20 {
		tok := forge(map[string]any{"alg": "RS256", "kid": "made-up-" + string(rune('a'+i))}, claimsAt(clock.Now(), "x"), nil)
		if _, err := v.Verify(ctx, tok); !errors.Is(err, ErrInvalid) {
			t.Fatalf("made-up kid: %v", err)
		}
	}
	if n := p.fetches.Load(); n != 3 {
		t.Fatalf("fetches after a flood of unknown kids = %d, want 3", n)
	}
	// Expiry (default TTL 1 h) fetches again.
	clock.Advance(2 * time.Hour)
	if err := verify("rsa1"); err != nil {
		t.Fatal(err)
	}
	if n := p.fetches.Load(); n != 4 {
		t.Fatalf("fetches after expiry = %d, want 4", n)
	}
	// The provider goes away: cached keys keep serving past their expiry.
	p.srv.Close()
	clock.Advance(2 * time.Hour)
	if err := verify("rsa1"); err != nil {
		t.Fatalf("stale keys while the provider is down: %v", err)
	}
	// A URL never fetched, while unreachable: ErrUnavailable.
	_, err := kc.Keys(ctx, p.srv.URL+"/other", false)
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("unreachable: %v", err)
	}
}

func TestKeyCache_TTL(t *testing.T) {
	kc := NewKeyCache(KeyCacheConfig{})
	for cc, want := range map[string]time.Duration{
		"":                          time.Hour,
		"max-age=600":               10 * time.Minute,
		"public, max-age=10":        5 * time.Minute,
		"max-age=999999999999999":   24 * time.Hour,
		"no-store":                  5 * time.Minute,
		"max-age=-5":                time.Hour,
		"max-age=\"7200\", private": 2 * time.Hour,
	} {
		if got := kc.ttl(cc); got != want {
			t.Errorf("ttl(%q) = %v, want %v", cc, got, want)
		}
	}
}

// TestKeyCache_CheckNetwork: jwks_urls at non-public addresses are refused
// with 422, directly or through a name, unless private ones are allowed.
func TestKeyCache_CheckNetwork(t *testing.T) {
	dns := map[string]string{
		"loopback.test": "127.0.0.1", "ten.test": "10.0.0.7", "metadata.test": "169.254.169.254",
		"v6loop.test": "::1", "mapped.test": "::ffff:10.0.0.1", "public.test": "93.184.216.34",
	}
	strict := NewKeyCache(KeyCacheConfig{Resolve: fakeDNS(dns)})
	open := NewKeyCache(KeyCacheConfig{Resolve: fakeDNS(dns), AllowPrivate: true})
	ctx := context.Background()
	for _, host := range []string{"127.0.0.1", "10.1.2.3", "169.254.169.254", "[::1]", "[::ffff:127.0.0.1]", "100.100.100.200",
		"loopback.test", "ten.test", "metadata.test", "v6loop.test", "mapped.test"} {
		cfg := urlConfig(t, "https://"+host+"/jwks")
		err := strict.CheckNetwork(ctx, cfg)
		if platform.ErrorCode(err) != platform.CodeUnprocessable || !errors.Is(err, netguard.ErrForbidden) {
			t.Errorf("%s: %v, want 422 forbidden", host, err)
		}
		if err := open.CheckNetwork(ctx, cfg); err != nil {
			t.Errorf("%s with AllowPrivate: %v", host, err)
		}
	}
	if err := strict.CheckNetwork(ctx, urlConfig(t, "https://public.test/jwks")); err != nil {
		t.Errorf("public host: %v", err)
	}
	if err := strict.CheckNetwork(ctx, urlConfig(t, "https://nxdomain.test/jwks")); platform.ErrorCode(err) != platform.CodeUnprocessable {
		t.Errorf("unresolvable host: %v, want 422", err)
	}
	if err := strict.CheckNetwork(ctx, urlConfig(t, "http://public.test/jwks")); platform.ErrorCode(err) != platform.CodeInvalid {
		t.Errorf("http: %v, want 400", err)
	}
	// The same refusal at fetch time, whatever was checked when saving
	// (DNS may answer differently later).
	_, err := strict.Keys(ctx, "https://metadata.test/jwks", false)
	if !errors.Is(err, ErrUnavailable) || !errors.Is(err, netguard.ErrForbidden) {
		t.Errorf("fetch from metadata.test: %v", err)
	}
}

// TestKeyCache_Redirects: a permitted JWKS server redirecting to a
// private address, a name resolving to one, or to plain http, is refused.
func TestKeyCache_Redirects(t *testing.T) {
	p := newIdP(t)
	p.serveTLS(t)
	port := p.srv.URL[strings.LastIndex(p.srv.URL, ":")+1:]
	kc := p.cache(newClock(), map[string]string{"metadata.test": "169.254.169.254", "ten.test": "10.0.0.1"})
	for _, to := range []string{
		"https://10.0.0.1/jwks", "https://169.254.169.254/latest/meta-data/", "https://metadata.test/jwks", "https://ten.test/",
		"https://127.0.0.2:" + port + "/jwks", "https://[::1]:" + port + "/jwks", "http://127.0.0.1:" + port + "/jwks",
	} {
		_, err := kc.Keys(context.Background(), p.srv.URL+"/redirect?to="+to, false)
		if !errors.Is(err, ErrUnavailable) {
			t.Errorf("redirect to %s: %v, want refused", to, err)
		}
		if !strings.HasPrefix(to, "http:") && !errors.Is(err, netguard.ErrForbidden) {
			t.Errorf("redirect to %s: %v, want ErrForbidden", to, err)
		}
	}
	// A redirect to the permitted server itself works: the refusals above
	// are the guard's.
	set, err := kc.Keys(context.Background(), p.srv.URL+"/redirect?to="+p.srv.URL+"/jwks", false)
	if err != nil || set.Len() != 4 {
		t.Fatalf("redirect to the JWKS: %d keys, %v", set.Len(), err)
	}
	// Oversized documents are refused.
	if _, err := kc.Keys(context.Background(), p.srv.URL+"/huge", false); !errors.Is(err, ErrUnavailable) || !strings.Contains(err.Error(), "larger than") {
		t.Errorf("huge JWKS: %v", err)
	}
}

func TestKeyCache_Evicts(t *testing.T) {
	kc := NewKeyCache(KeyCacheConfig{MaxEntries: 3, Resolve: fakeDNS(nil)})
	for _, u := range []string{"https://a.test/", "https://b.test/", "https://c.test/", "https://d.test/", "https://e.test/"} {
		_, _ = kc.Keys(context.Background(), u, false)
	}
	if n := len(kc.entries); n != 3 {
		t.Fatalf("entries = %d, want 3", n)
	}
}

func TestParseKeySet(t *testing.T) {
	p := newIdP(t)
	var doc struct{ Keys []json.RawMessage }
	if err := json.Unmarshal(p.jwks(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{`{"kty":"oct","kid":"h","k":"c2VjcmV0"}`,
		`{"kty":"RSA","kid":"enc","use":"enc","n":"` + strings.Repeat("A", 342) + `","e":"AQAB"}`,
		`{"kty":"RSA","kid":"small","n":"` + strings.Repeat("A", 171) + `","e":"AQAB"}`,
		`{"kty":"EC","kid":"bad","crv":"P-256","x":"AAAA","y":"AAAA"}`, `{"kty":"weird"}`} {
		doc.Keys = append(doc.Keys, json.RawMessage(bad))
	}
	mixed := mustJSON(doc)
	set, err := ParseKeySet(mixed)
	if err != nil || set.Len() != 4 {
		t.Fatalf("lenient: %d keys, %v; want the 4 good ones", set.Len(), err)
	}
	if _, err := ParseKeySetStrict(mixed); err == nil {
		t.Fatal("strict accepted a set with bad keys")
	}
	if _, _, err := VerifySignature(context.Background(), "a.b.c", []jose.SignatureAlgorithm{jose.RS256}, StaticKeys{set}); !errors.Is(err, ErrInvalid) {
		t.Fatal(err)
	}
	for _, doc := range []string{``, `[]`, `{}`, `{"keys":{}}`, `null`} {
		if _, err := ParseKeySet([]byte(doc)); err == nil {
			t.Errorf("ParseKeySet(%q) accepted", doc)
		}
	}
}
