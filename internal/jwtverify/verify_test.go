package jwtverify

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/google/go-cmp/cmp"
)

func fakeDNS(table map[string]string) func(ctx context.Context, network, host string) ([]netip.Addr, error) {
	return func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		if a, ok := table[host]; ok {
			return []netip.Addr{netip.MustParseAddr(a)}, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
}

func inlineConfig(tb testing.TB, p *testIdP, algs ...string) Config {
	tb.Helper()
	c := Config{JWKS: p.jwks(), Issuer: testIssuer, Audience: "app", Algorithms: algs}
	c, err := ParseConfig(mustJSON(c))
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

func mustVerifier(tb testing.TB, c Config, kc *KeyCache) *Verifier {
	tb.Helper()
	v, err := New(c, kc)
	if err != nil {
		tb.Fatal(err)
	}
	return v
}

// TestVerify_Families: every algorithm family verifies when allowed, and
// only then.
func TestVerify_Families(t *testing.T) {
	p := newIdP(t)
	all := mustVerifier(t, inlineConfig(t, p, "RS256", "RS384", "RS512", "ES256", "ES384", "EdDSA"), nil)
	def := mustVerifier(t, inlineConfig(t, p), nil) // RS256, ES256
	now := time.Now()
	cases := []struct {
		kid       string
		alg       jose.SignatureAlgorithm
		byDefault bool
	}{
		{"rsa1", jose.RS256, true}, {"rsa1", jose.RS384, false}, {"rsa1", jose.RS512, false},
		{"ec256", jose.ES256, true}, {"ec384", jose.ES384, false}, {"ed1", jose.EdDSA, false},
	}
	for _, tc := range cases {
		tok := p.signAlg(t, tc.kid, tc.alg, claimsAt(now, "alice"))
		res, err := all.Verify(context.Background(), tok)
		if err != nil {
			t.Errorf("%s: %v", tc.alg, err)
			continue
		}
		if res.Role != "authenticated" || res.Subject != "alice" {
			t.Errorf("%s: result %+v", tc.alg, res)
		}
		_, err = def.Verify(context.Background(), tok)
		if tc.byDefault != (err == nil) {
			t.Errorf("%s with the default algorithms: err = %v", tc.alg, err)
		}
		if err != nil && !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", tc.alg, err)
		}
	}
}

// TestVerify_Refusals: tokens that must never verify.
func TestVerify_Refusals(t *testing.T) {
	p := newIdP(t)
	v := mustVerifier(t, inlineConfig(t, p, "RS256", "ES256", "EdDSA"), nil)
	now := time.Now()
	with := func(k string, val any) map[string]any {
		c := claimsAt(now, "alice")
		if val == nil {
			delete(c, k)
		} else {
			c[k] = val
		}
		return c
	}
	rsaPub := p.keys["rsa1"].Public().(*rsa.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(rsaPub)
	jwkJSON, _ := json.Marshal(jose.JSONWebKey{Key: rsaPub, KeyID: "rsa1", Use: "sig"})
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	foreign := func() string { // signed by an unpublished key, under a published kid
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: other}, (&jose.SignerOptions{}).WithHeader("kid", "rsa1"))
		o, _ := s.Sign(mustJSON(claimsAt(now, "alice")))
		tok, _ := o.CompactSerialize()
		return tok
	}
	embedded := func() string { // the attacker's key embedded in the header
		s, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: other}, (&jose.SignerOptions{EmbedJWK: true}))
		o, _ := s.Sign(mustJSON(claimsAt(now, "alice")))
		tok, _ := o.CompactSerialize()
		return tok
	}
	good := p.sign(t, "rsa1", claimsAt(now, "alice"))
	parts := strings.Split(good, ".")
	tampered := parts[0] + "." + strings.TrimRight(parts[1], "A") + "B." + parts[2]

	cases := map[string]string{
		"alg none":                  forge(map[string]any{"alg": "none", "kid": "rsa1"}, claimsAt(now, "alice"), nil),
		"alg none, no kid":          forge(map[string]any{"alg": "none"}, claimsAt(now, "alice"), nil),
		"HS256 with public DER":     forge(map[string]any{"alg": "HS256", "kid": "rsa1"}, claimsAt(now, "alice"), der),
		"HS256 with public JWK":     forge(map[string]any{"alg": "HS256", "kid": "rsa1"}, claimsAt(now, "alice"), jwkJSON),
		"HS256 with modulus":        forge(map[string]any{"alg": "HS256", "kid": "rsa1"}, claimsAt(now, "alice"), rsaPub.N.Bytes()),
		"HS256 no kid":              forge(map[string]any{"alg": "HS256"}, claimsAt(now, "alice"), der),
		"wrong aud":                 p.sign(t, "rsa1", with("aud", "other-app")),
		"wrong aud array":           p.sign(t, "rsa1", with("aud", []string{"x", "y"})),
		"no aud":                    p.sign(t, "rsa1", with("aud", nil)),
		"wrong iss":                 p.sign(t, "rsa1", with("iss", "https://evil.example.com/")),
		"iss without slash":         p.sign(t, "rsa1", with("iss", strings.TrimSuffix(testIssuer, "/"))),
		"no iss":                    p.sign(t, "rsa1", with("iss", nil)),
		"expired":                   p.sign(t, "rsa1", with("exp", now.Add(-2*time.Minute).Unix())),
		"no exp":                    p.sign(t, "rsa1", with("exp", nil)),
		"exp not a number":          p.sign(t, "rsa1", with("exp", "tomorrow")),
		"not yet valid":             p.sign(t, "rsa1", with("nbf", now.Add(2*time.Minute).Unix())),
		"issued in the future":      p.sign(t, "rsa1", with("iat", now.Add(2*time.Minute).Unix())),
		"unknown kid":               p.signAlg(t, "rsa2", jose.RS256, claimsAt(now, "alice")),
		"RS256 under an EC kid":     forge(map[string]any{"alg": "RS256", "kid": "ec256"}, claimsAt(now, "alice"), nil),
		"ES256 under the P-384 kid": p.signAlg(t, "ec384", jose.ES384, claimsAt(now, "alice")), // ES384 is not allowed here
		"foreign key":               foreign(),
		"embedded jwk":              embedded(),
		"tampered payload":          tampered,
		"role admin":                p.sign(t, "rsa1", with("role", "admin")),
		"role service_role":         p.sign(t, "rsa1", with("role", "service_role")),
		"role postgres":             p.sign(t, "rsa1", with("role", "postgres")),
		"role pg_":                  p.sign(t, "rsa1", with("role", "pg_read_server_files")),
		"role _db9":                 p.sign(t, "rsa1", with("role", "_db9_sys_readonly")),
		"role not a string":         p.sign(t, "rsa1", with("role", 7)),
		"role empty":                p.sign(t, "rsa1", with("role", "")),
		"claims an array":           p.sign(t, "rsa1", []any{1, 2}),
		"not a JWT":                 "not-a-jwt",
		"empty":                     "",
		"JSON serialization":        `{"payload":"e30","signatures":[]}`,
		"huge":                      strings.Repeat("a", 20000) + ".b.c",
	}
	for name, tok := range cases {
		res, err := v.Verify(context.Background(), tok)
		if err == nil {
			t.Errorf("%s: verified as %+v", name, res)
			continue
		}
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v is not ErrInvalid", name, err)
		}
		t.Logf("%s: %v", name, err)
		if tok != "" && strings.Contains(err.Error(), tok) {
			t.Errorf("%s: the error echoes the token", name)
		}
	}
	if _, err := v.Verify(context.Background(), cases["expired"]); !errors.Is(err, ErrExpired) {
		t.Errorf("expired: %v is not ErrExpired", err)
	}
	// Within the clock skew, and with aud as an array: accepted.
	for name, c := range map[string]map[string]any{
		"exp 10 s ago": with("exp", now.Add(-10*time.Second).Unix()),
		"nbf in 10 s":  with("nbf", now.Add(10*time.Second).Unix()),
		"aud array":    with("aud", []string{"other", "app"}),
		"no role":      with("role", nil),
		"no sub":       with("sub", nil),
	} {
		if _, err := v.Verify(context.Background(), p.sign(t, "rsa1", c)); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestVerifySignature_KeyType: even with HS256 among the algorithms (no
// config can say so), an RSA public key never verifies an HMAC.
func TestVerifySignature_KeyType(t *testing.T) {
	p := newIdP(t)
	set, err := ParseKeySetStrict(p.jwks())
	if err != nil {
		t.Fatal(err)
	}
	rsaPub := p.keys["rsa1"].Public().(*rsa.PublicKey)
	der, _ := x509.MarshalPKIXPublicKey(rsaPub)
	for _, kid := range []string{"rsa1", ""} {
		tok := forge(map[string]any{"alg": "HS256", "kid": kid}, claimsAt(time.Now(), "a"), der)
		_, _, err := VerifySignature(context.Background(), tok, []jose.SignatureAlgorithm{jose.HS256, jose.RS256}, StaticKeys{set})
		if !errors.Is(err, ErrInvalid) {
			t.Errorf("HS256 kid %q: %v", kid, err)
		}
	}
}

func TestVerify_RoleAndClaims(t *testing.T) {
	p := newIdP(t)
	now := time.Now()
	c := claimsAt(now, "bob")
	delete(c, "role")
	c["app_metadata"] = map[string]any{"role": "editor", "n": json.Number("12345678901234567890")}
	c["big"] = json.Number("12345678901234567890")
	tok := p.sign(t, "ec256", c)

	cfg := inlineConfig(t, p)
	res, err := mustVerifier(t, cfg, nil).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	if res.Role != "authenticated" || res.Subject != "bob" {
		t.Errorf("default role: %+v", res)
	}
	if !strings.Contains(string(res.Claims), `"big":12345678901234567890`) {
		t.Errorf("claims lost precision: %s", res.Claims)
	}

	cfg.RoleClaim = "app_metadata.role"
	cfg.DefaultRole = "anon"
	cfg.ClaimsAllowlist = []string{"sub", "email", "absent"}
	res, err = mustVerifier(t, cfg, nil).Verify(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(res.Claims, &got); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"sub": "bob", "email": "bob@example.com"}, got); diff != "" || res.Role != "editor" {
		t.Errorf("role %q, claims (-want +got):\n%s", res.Role, diff)
	}
	// A path that leads nowhere gives the default role.
	cfg.RoleClaim = "app_metadata.role.deeper"
	if res, err = mustVerifier(t, cfg, nil).Verify(context.Background(), tok); err != nil || res.Role != "anon" {
		t.Errorf("missing path: %+v %v", res, err)
	}
	// A reserved role in a nested claim is refused too.
	c["app_metadata"] = map[string]any{"role": "service_role"}
	cfg.RoleClaim = "app_metadata.role"
	if _, err := mustVerifier(t, cfg, nil).Verify(context.Background(), p.sign(t, "ec256", c)); !errors.Is(err, ErrInvalid) {
		t.Errorf("nested service_role: %v", err)
	}
}

func FuzzVerify(f *testing.F) {
	p := newIdP(f)
	now := time.Now()
	f.Add(p.sign(f, "rsa1", claimsAt(now, "x")))
	f.Add(p.sign(f, "ed1", claimsAt(now, "x")))
	f.Add(forge(map[string]any{"alg": "none"}, claimsAt(now, "x"), nil))
	f.Add("a.b.c")
	v := mustVerifier(f, inlineConfig(f, p, "RS256", "ES256", "EdDSA"), nil)
	f.Fuzz(func(t *testing.T, tok string) {
		res, err := v.Verify(context.Background(), tok)
		if err == nil {
			// Only the seeds themselves (signed by the test keys) verify.
			if res.Subject != "x" {
				t.Fatalf("verified %q as %+v", tok, res)
			}
			return
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}
