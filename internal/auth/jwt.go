package auth

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Connect tokens are short-lived RS256 JWTs that stand in for a role's
// password on the PostgreSQL front door. They are made and checked here
// with the standard library alone: the format is small, and a verifier
// that accepts exactly one algorithm and one key leaves no room for the
// algorithm-confusion mistakes general JWT libraries must guard against.

// ConnectAudience is the aud claim of every connect token.
const ConnectAudience = "db9-server"

// ConnectIssuer is the iss claim of every connect token.
const ConnectIssuer = "db9"

// ConnectTokenLife is how long a connect token is valid.
const ConnectTokenLife = 900 * time.Second

// ConnectClaims are the claims of a connect token.
type ConnectClaims struct {
	DatabaseID string `json:"tid"`
	Role       string `json:"usr"`
	PGRole     string `json:"role"` // = usr, read by auth.role() inside the database
	Audience   string `json:"aud"`
	Issuer     string `json:"iss"`
	IssuedAt   int64  `json:"iat"`
	ExpiresAt  int64  `json:"exp"`
}

// ErrBadToken is returned for a connect token that is malformed, signed by
// another key, or not meant for db9.
var ErrBadToken = errors.New("invalid connect token")

// ErrTokenExpired is returned for a well-signed connect token past its exp.
var ErrTokenExpired = errors.New("connect token expired")

// ConnectSigner signs and verifies connect tokens with the server's RSA key.
type ConnectSigner struct {
	key *rsa.PrivateKey
	kid string
	now func() time.Time
}

// LoadOrCreateConnectKey reads secrets/connect-jwt.pem under dataDir,
// generating a 2048-bit RSA key (mode 0600) on first start.
func LoadOrCreateConnectKey(dataDir string) (*ConnectSigner, error) {
	dir := filepath.Join(dataDir, "secrets")
	path := filepath.Join(dir, "connect-jwt.pem")
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			return nil, fmt.Errorf("generate connect token key: %w", err)
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, err
		}
		b = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
		tmp := path + ".tmp"
		if err := writeFileSync(tmp, b, 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("read connect token key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("connect token key %s: no PEM block", path)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("connect token key %s: %w", path, err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("connect token key %s: not an RSA key", path)
	}
	return newConnectSigner(rk), nil
}

// newConnectSigner returns a signer for key; its kid is the key's RFC 7638
// thumbprint.
func newConnectSigner(key *rsa.PrivateKey) *ConnectSigner {
	j := jwk(&key.PublicKey)
	canon := fmt.Sprintf(`{"e":"%s","kty":"RSA","n":"%s"}`, j.E, j.N)
	sum := sha256.Sum256([]byte(canon))
	return &ConnectSigner{key: key, kid: b64(sum[:]), now: time.Now}
}

// withClock returns a signer with the same key that reads the time from
// now (for tests that need tokens issued at another time).
func (s *ConnectSigner) withClock(now func() time.Time) *ConnectSigner {
	c := *s
	c.now = now
	return &c
}

// KeyID is the kid of the signing key.
func (s *ConnectSigner) KeyID() string { return s.kid }

// JWK is one key of a JSON Web Key Set.
type JWK struct {
	Kty string `json:"kty"`
	Use string `json:"use"`
	Alg string `json:"alg"`
	Kid string `json:"kid"`
	N   string `json:"n"`
	E   string `json:"e"`
}

func jwk(pub *rsa.PublicKey) JWK {
	return JWK{Kty: "RSA", Use: "sig", Alg: "RS256", N: b64(pub.N.Bytes()), E: b64(big.NewInt(int64(pub.E)).Bytes())}
}

// JWKS returns the public key set: {"keys": [...]}.
func (s *ConnectSigner) JWKS() map[string][]JWK {
	k := jwk(&s.key.PublicKey)
	k.Kid = s.kid
	return map[string][]JWK{"keys": {k}}
}

func b64(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// Sign mints a connect token for role in database id.
func (s *ConnectSigner) Sign(databaseID, role string) (token string, c ConnectClaims, err error) {
	now := s.now().Unix()
	c = ConnectClaims{DatabaseID: databaseID, Role: role, PGRole: role, Audience: ConnectAudience,
		Issuer: ConnectIssuer, IssuedAt: now, ExpiresAt: now + int64(ConnectTokenLife/time.Second)}
	hdr, _ := json.Marshal(map[string]string{"alg": "RS256", "typ": "JWT", "kid": s.kid})
	body, err := json.Marshal(c)
	if err != nil {
		return "", c, err
	}
	signing := b64(hdr) + "." + b64(body)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, sum[:])
	if err != nil {
		return "", c, fmt.Errorf("sign connect token: %w", err)
	}
	return signing + "." + b64(sig), c, nil
}

// LooksLikeJWT reports whether s has the shape of a compact JWS: three
// non-empty base64url parts separated by dots.
func LooksLikeJWT(s string) bool {
	parts := strings.Split(s, ".")
	if len(parts) != 3 {
		return false
	}
	for _, p := range parts {
		if p == "" || strings.IndexFunc(p, func(r rune) bool {
			return !(r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-' || r == '_')
		}) >= 0 {
			return false
		}
	}
	return true
}

// Verify checks a connect token's signature (RS256 with this server's key
// only), audience, issuer and lifetime, and returns its claims and the raw
// claims object (for the session settings).
func (s *ConnectSigner) Verify(token string) (ConnectClaims, map[string]any, error) {
	var c ConnectClaims
	if len(token) > 4096 || !LooksLikeJWT(token) {
		return c, nil, ErrBadToken
	}
	parts := strings.Split(token, ".")
	hdrJSON, err1 := base64.RawURLEncoding.DecodeString(parts[0])
	body, err2 := base64.RawURLEncoding.DecodeString(parts[1])
	sig, err3 := base64.RawURLEncoding.DecodeString(parts[2])
	if err1 != nil || err2 != nil || err3 != nil {
		return c, nil, ErrBadToken
	}
	var hdr struct {
		Alg  string `json:"alg"`
		Kid  string `json:"kid"`
		Crit any    `json:"crit"`
	}
	if json.Unmarshal(hdrJSON, &hdr) != nil || hdr.Alg != "RS256" || hdr.Kid != s.kid || hdr.Crit != nil {
		return c, nil, ErrBadToken
	}
	sum := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if rsa.VerifyPKCS1v15(&s.key.PublicKey, crypto.SHA256, sum[:], sig) != nil {
		return c, nil, ErrBadToken
	}
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if dec.Decode(&raw) != nil || json.Unmarshal(body, &c) != nil {
		return c, nil, ErrBadToken
	}
	if c.Audience != ConnectAudience || c.Issuer != ConnectIssuer || c.DatabaseID == "" || c.Role == "" || c.ExpiresAt == 0 {
		return c, nil, ErrBadToken
	}
	now := s.now().Unix()
	if c.IssuedAt > now+60 {
		return c, nil, ErrBadToken
	}
	if now >= c.ExpiresAt {
		return c, nil, ErrTokenExpired
	}
	return c, raw, nil
}
