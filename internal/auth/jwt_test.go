package auth_test

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/auth"
)

func newSigner(t *testing.T) *auth.ConnectSigner {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return auth.NewConnectSigner(k)
}

func TestConnectSigner_SignVerify(t *testing.T) {
	s := newSigner(t)
	tok, c, err := s.Sign("abcdefghijkl", "admin")
	if err != nil || !auth.LooksLikeJWT(tok) {
		t.Fatalf("sign: %q %v", tok, err)
	}
	got, raw, err := s.Verify(tok)
	if err != nil || got != c || raw["tid"] != "abcdefghijkl" || c.ExpiresAt-c.IssuedAt != 900 {
		t.Fatalf("verify: %+v %v %v", got, raw, err)
	}
	if jwks := s.JWKS()["keys"]; len(jwks) != 1 || jwks[0].Kid != s.KeyID() || jwks[0].Alg != "RS256" {
		t.Errorf("jwks %+v", jwks)
	}
}

func TestConnectSigner_Refuses(t *testing.T) {
	s := newSigner(t)
	tok, _, _ := s.Sign("abcdefghijkl", "admin")
	parts := strings.Split(tok, ".")
	b64 := base64.RawURLEncoding.EncodeToString
	old, _, _ := s.WithClock(func() time.Time { return time.Now().Add(-time.Hour) }).Sign("abcdefghijkl", "admin")
	future, _, _ := s.WithClock(func() time.Time { return time.Now().Add(time.Hour) }).Sign("abcdefghijkl", "admin")
	other, _, _ := newSigner(t).Sign("abcdefghijkl", "admin")
	cases := map[string]string{
		"alg none":         b64([]byte(`{"alg":"none","kid":"`+s.KeyID()+`"}`)) + "." + parts[1] + ".x",
		"HS256":            b64([]byte(`{"alg":"HS256","kid":"`+s.KeyID()+`"}`)) + "." + parts[1] + "." + parts[2],
		"other kid":        b64([]byte(`{"alg":"RS256","kid":"x"}`)) + "." + parts[1] + "." + parts[2],
		"changed claims":   parts[0] + "." + b64([]byte(`{"tid":"zzzzzzzzzzzz","usr":"admin","aud":"db9-server","iss":"db9","exp":9999999999}`)) + "." + parts[2],
		"other key":        other,
		"issued in future": future,
		"two parts":        parts[0] + "." + parts[1],
		"garbage":          "a.b.c",
	}
	for name, tok := range cases {
		if _, _, err := s.Verify(tok); !errors.Is(err, auth.ErrBadToken) {
			t.Errorf("%s: %v, want ErrBadToken", name, err)
		}
	}
	if _, _, err := s.Verify(old); !errors.Is(err, auth.ErrTokenExpired) {
		t.Errorf("expired: %v", err)
	}
}

func TestCheckRolePassword(t *testing.T) {
	v := auth.SCRAMVerifier("correct horse")
	if !auth.CheckRolePassword(v, "admin", "correct horse") || auth.CheckRolePassword(v, "admin", "correct horsE") {
		t.Error("SCRAM verifier check")
	}
	sum := md5.Sum([]byte("pw" + "bob"))
	md5v := "md5" + hex.EncodeToString(sum[:])
	if !auth.CheckRolePassword(md5v, "bob", "pw") || auth.CheckRolePassword(md5v, "alice", "pw") {
		t.Error("md5 check")
	}
	for _, bad := range []string{"", "plaintext", "SCRAM-SHA-256$", "SCRAM-SHA-256$0:AA==$AA==:AA==", "SCRAM-SHA-256$4096:!!$x:y"} {
		if auth.CheckRolePassword(bad, "admin", "plaintext") {
			t.Errorf("%q matched", bad)
		}
	}
}
