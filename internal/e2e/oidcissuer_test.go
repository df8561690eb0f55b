package e2e

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// testIssuer is an OpenID provider the test runs: a discovery document and
// a JWKS over HTTP, with keys made for the test.
type testIssuer struct {
	URL      string
	rsaKey   *rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	otherRSA *rsa.PrivateKey // never published
}

func startIssuer(t *testing.T) *testIssuer {
	t.Helper()
	iss := &testIssuer{}
	var err error
	if iss.rsaKey, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if iss.otherRSA, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if iss.ecKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	ecPub, _ := iss.ecKey.PublicKey.Bytes() // 0x04 || X || Y
	jwks := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "rsa1", "use": "sig", "alg": "RS256", "n": b64(iss.rsaKey.N.Bytes()), "e": b64(big.NewInt(int64(iss.rsaKey.E)).Bytes())},
		{"kty": "EC", "kid": "ec1", "use": "sig", "alg": "ES256", "crv": "P-256", "x": b64(ecPub[1:33]), "y": b64(ecPub[33:])},
	}}
	mux := http.NewServeMux()
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	iss.URL = srv.URL
	mux.HandleFunc("GET /.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": iss.URL, "jwks_uri": iss.URL + "/jwks"})
	})
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) { _ = json.NewEncoder(w).Encode(jwks) })
	return iss
}

const testAudience = "db9-test-client"

// claims returns valid id_token claims for subject sub.
func (iss *testIssuer) claims(sub string) map[string]any {
	now := time.Now()
	return map[string]any{"iss": iss.URL, "sub": sub, "aud": testAudience, "iat": now.Unix(),
		"exp": now.Add(10 * time.Minute).Unix(), "email": sub + "@example.com", "email_verified": true}
}

// sign makes a compact JWS of claims with alg (RS256, ES256, or anything
// else for a token no key can verify), kid, and the issuer's key for alg
// (or the unpublished RSA key when foreign).
func (iss *testIssuer) sign(t *testing.T, alg, kid string, claims map[string]any, foreign bool) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	h, _ := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	c, _ := json.Marshal(claims)
	input := b64(h) + "." + b64(c)
	digest := sha256.Sum256([]byte(input))
	var sig []byte
	switch alg {
	case "RS256":
		key := iss.rsaKey
		if foreign {
			key = iss.otherRSA
		}
		var err error
		if sig, err = rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			t.Fatal(err)
		}
	case "ES256":
		r, s, err := ecdsa.Sign(rand.Reader, iss.ecKey, digest[:])
		if err != nil {
			t.Fatal(err)
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		sig = []byte("not-a-signature")
	}
	return input + "." + b64(sig)
}
