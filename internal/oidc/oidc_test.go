package oidc

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"
)

// newTestVerifier serves a JWKS with one RSA key no test token is signed
// with, so nothing may verify.
func newTestVerifier(tb testing.TB) *Verifier {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		tb.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "k1", "n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())},
		{"kty": "EC", "kid": "bad", "crv": "P-256", "x": "AAAA", "y": "AAAA"},
		{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
	}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(jwks) }))
	tb.Cleanup(srv.Close)
	return New(Config{Issuer: "https://issuer.example", Audience: "aud", JWKSURL: srv.URL})
}

func TestVerify_KeysParsed(t *testing.T) {
	v := newTestVerifier(t)
	keys, err := v.keysFor(context.Background(), "")
	if err != nil || len(keys) != 1 {
		t.Fatalf("keys = %d, %v; want only the RSA key (bad EC and oct keys skipped)", len(keys), err)
	}
	for _, kid := range []string{"bad", "hmac", "nope"} {
		if k, _ := v.keysFor(context.Background(), kid); len(k) != 0 {
			t.Errorf("kid %q found", kid)
		}
	}
}

// FuzzVerify: no input panics, and nothing verifies without the key.
func FuzzVerify(f *testing.F) {
	b64 := base64.RawURLEncoding.EncodeToString
	for _, s := range []string{"", "a.b.c", "..", b64([]byte(`{"alg":"RS256","kid":"k1"}`)) + "." + b64([]byte(`{"iss":"https://issuer.example","aud":"aud","sub":"x","exp":99999999999}`)) + ".AAAA",
		b64([]byte(`{"alg":"none"}`)) + "." + b64([]byte(`{}`)) + ".", b64([]byte(`{"alg":"ES256"}`)) + ".e30." + b64(make([]byte, 64))} {
		f.Add(s)
	}
	v := newTestVerifier(f)
	f.Fuzz(func(t *testing.T, tok string) {
		id, err := v.Verify(context.Background(), tok)
		if err == nil {
			t.Fatalf("verified %q as %+v", tok, id)
		}
		if !errors.Is(err, ErrInvalid) {
			t.Fatalf("error %v is not ErrInvalid", err)
		}
	})
}
