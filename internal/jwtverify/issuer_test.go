package jwtverify

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

const testIssuer = "https://idp.example.com/"

// testIdP is an identity provider run by the test: keys of every family,
// a JWKS over TLS on loopback, and a signer.
type testIdP struct {
	keys    map[string]crypto.Signer // by kid
	algOf   map[string]jose.SignatureAlgorithm
	mu      sync.Mutex
	publish []string // kids in the served JWKS
	fetches atomic.Int32
	srv     *httptest.Server
	header  http.Header // extra response headers
}

var (
	keysOnce sync.Once
	testKeys map[string]crypto.Signer
)

// sharedKeys makes the test keys once: RSA generation is slow on a
// shared machine.
func sharedKeys(tb testing.TB) map[string]crypto.Signer {
	keysOnce.Do(func() {
		rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		ec256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		ec384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		_, ed, _ := ed25519.GenerateKey(rand.Reader)
		rsa2, _ := rsa.GenerateKey(rand.Reader, 2048)
		testKeys = map[string]crypto.Signer{"rsa1": rsaKey, "ec256": ec256, "ec384": ec384, "ed1": ed, "rsa2": rsa2}
	})
	return testKeys
}

func newIdP(tb testing.TB) *testIdP {
	return &testIdP{
		keys:    sharedKeys(tb),
		algOf:   map[string]jose.SignatureAlgorithm{"rsa1": jose.RS256, "ec256": jose.ES256, "ec384": jose.ES384, "ed1": jose.EdDSA, "rsa2": jose.RS256},
		publish: []string{"rsa1", "ec256", "ec384", "ed1"},
		header:  http.Header{},
	}
}

// jwks returns the public JWK Set of the published kids.
func (p *testIdP) jwks() []byte {
	p.mu.Lock()
	defer p.mu.Unlock()
	var set jose.JSONWebKeySet
	for _, kid := range p.publish {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: p.keys[kid].Public(), KeyID: kid, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		panic(err)
	}
	return b
}

func (p *testIdP) setPublished(kids ...string) {
	p.mu.Lock()
	p.publish = kids
	p.mu.Unlock()
}

// serveTLS serves the JWKS at /jwks over TLS on 127.0.0.1; /redirect
// redirects to its "to" parameter.
func (p *testIdP) serveTLS(tb testing.TB) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		p.fetches.Add(1)
		for k, v := range p.header {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(p.jwks())
	})
	mux.HandleFunc("GET /redirect", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	})
	mux.HandleFunc("GET /huge", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"keys":[`))
		for range 1 << 16 {
			w.Write([]byte(`{"kty":"oct","k":"AAAA"},`))
		}
		w.Write([]byte(`{}]}`))
	})
	p.srv = httptest.NewTLSServer(mux)
	tb.Cleanup(p.srv.Close)
}

// cache returns a KeyCache trusting the test server's certificate and
// permitting 127.0.0.1 only (the test server); clock is its time.
func (p *testIdP) cache(clock *fakeClock, resolve map[string]string) *KeyCache {
	pool := x509.NewCertPool()
	if p.srv != nil {
		pool.AddCert(p.srv.Certificate())
	}
	return NewKeyCache(KeyCacheConfig{
		Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}, RootCAs: pool,
		Resolve: fakeDNS(resolve), Now: clock.Now,
	})
}

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock { return &fakeClock{t: time.Now()} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// claims returns valid claims at time now.
func claimsAt(now time.Time, sub string) map[string]any {
	return map[string]any{"iss": testIssuer, "sub": sub, "aud": "app", "iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(), "role": "authenticated", "email": sub + "@example.com"}
}

// sign makes a compact JWS of claims with the key kid, by its algorithm.
func (p *testIdP) sign(tb testing.TB, kid string, claims any) string {
	tb.Helper()
	return p.signAlg(tb, kid, p.algOf[kid], claims)
}

func (p *testIdP) signAlg(tb testing.TB, kid string, alg jose.SignatureAlgorithm, claims any) string {
	tb.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader(jose.HeaderKey("kid"), kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: p.keys[kid]}, opts)
	if err != nil {
		tb.Fatal(err)
	}
	payload, _ := json.Marshal(claims)
	obj, err := s.Sign(payload)
	if err != nil {
		tb.Fatal(err)
	}
	out, err := obj.CompactSerialize()
	if err != nil {
		tb.Fatal(err)
	}
	return out
}

// forge builds a token by hand with any header, signed by HMAC-SHA256
// under secret (or with an empty signature when secret is nil).
func forge(header map[string]any, claims any, secret []byte) string {
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(header)
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	if secret == nil {
		return input + "."
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(input))
	return input + "." + b64(m.Sum(nil))
}

func jsonWebKey(key any, kid string) jose.JSONWebKey {
	return jose.JSONWebKey{Key: key, KeyID: kid, Use: "sig"}
}
