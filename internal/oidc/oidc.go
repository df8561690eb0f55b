package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"time"
)

// ErrInvalid marks an id_token that does not verify. Its message says why;
// it never contains the token.
var ErrInvalid = errors.New("invalid id_token")

// ErrUnavailable marks a failure to reach the issuer's keys.
var ErrUnavailable = errors.New("OIDC issuer unavailable")

// Config configures a Verifier.
type Config struct {
	Issuer   string
	Audience string
	// JWKSURL overrides the jwks_uri of the issuer's discovery document.
	JWKSURL string
	// HTTPClient fetches discovery and JWKS; nil means a client with a 10 s timeout.
	HTTPClient *http.Client
}

// Identity is who a verified id_token names.
type Identity struct {
	Issuer  string
	Subject string
	Email   string // empty unless present and not marked unverified
}

// Verifier checks id_tokens of one issuer. It is safe for concurrent use.
type Verifier struct {
	cfg Config
	now func() time.Time

	mu        sync.Mutex
	jwksURL   string
	keys      map[string]crypto.PublicKey // by kid ("" for keys without one)
	fetchedAt time.Time
}

const (
	keysTTL     = time.Hour        // keys are refetched at least this often
	refetchGap  = 10 * time.Second // unknown kids trigger a refetch at most this often
	leeway      = time.Minute      // clock skew allowed for exp and nbf
	maxDocBytes = 1 << 20
)

// New returns a Verifier; it does no I/O until the first Verify.
func New(cfg Config) *Verifier {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Verifier{cfg: cfg, now: time.Now, jwksURL: cfg.JWKSURL}
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

type header struct {
	Alg string `json:"alg"`
	Kid string `json:"kid"`
}

type claims struct {
	Iss           string          `json:"iss"`
	Sub           string          `json:"sub"`
	Aud           json.RawMessage `json:"aud"`
	Exp           *json.Number    `json:"exp"`
	Nbf           *json.Number    `json:"nbf"`
	Email         string          `json:"email"`
	EmailVerified any             `json:"email_verified"`
}

// Verify checks an id_token and returns the identity it names.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		return Identity{}, invalid("not a JWS compact token")
	}
	var h header
	if err := decodePart(parts[0], &h); err != nil {
		return Identity{}, invalid("header: %v", err)
	}
	if h.Alg != "RS256" && h.Alg != "ES256" {
		return Identity{}, invalid("algorithm %q is not accepted (RS256, ES256)", h.Alg)
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil {
		return Identity{}, invalid("signature is not base64url")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	keys, err := v.keysFor(ctx, h.Kid)
	if err != nil {
		return Identity{}, err
	}
	ok := false
	for _, k := range keys {
		if verifySig(h.Alg, k, digest[:], sig) {
			ok = true
			break
		}
	}
	if !ok {
		if len(keys) == 0 {
			return Identity{}, invalid("no key of the issuer matches kid %q", h.Kid)
		}
		return Identity{}, invalid("signature does not verify")
	}
	var c claims
	if err := decodePart(parts[1], &c); err != nil {
		return Identity{}, invalid("claims: %v", err)
	}
	if c.Iss != v.cfg.Issuer {
		return Identity{}, invalid("issuer %q is not the configured issuer", c.Iss)
	}
	if !audienceHas(c.Aud, v.cfg.Audience) {
		return Identity{}, invalid("audience does not include %q", v.cfg.Audience)
	}
	now := v.now()
	if c.Exp == nil {
		return Identity{}, invalid("exp: required")
	}
	exp, err := numericDate(*c.Exp)
	if err != nil {
		return Identity{}, invalid("exp: %v", err)
	}
	if !now.Before(exp.Add(leeway)) {
		return Identity{}, invalid("expired at %s", exp.UTC().Format(time.RFC3339))
	}
	if c.Nbf != nil {
		nbf, err := numericDate(*c.Nbf)
		if err != nil {
			return Identity{}, invalid("nbf: %v", err)
		}
		if now.Add(leeway).Before(nbf) {
			return Identity{}, invalid("not valid before %s", nbf.UTC().Format(time.RFC3339))
		}
	}
	if c.Sub == "" || len(c.Sub) > 255 {
		return Identity{}, invalid("sub: must be 1 to 255 characters")
	}
	id := Identity{Issuer: c.Iss, Subject: c.Sub}
	if c.EmailVerified != false && c.EmailVerified != "false" && len(c.Email) <= 254 {
		id.Email = c.Email
	}
	return id, nil
}

func decodePart(s string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return errors.New("not base64url")
	}
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return errors.New("not a JSON object")
	}
	return nil
}

func audienceHas(raw json.RawMessage, want string) bool {
	var one string
	if json.Unmarshal(raw, &one) == nil {
		return one == want
	}
	var many []string
	if json.Unmarshal(raw, &many) == nil {
		for _, a := range many {
			if a == want {
				return true
			}
		}
	}
	return false
}

func numericDate(n json.Number) (time.Time, error) {
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, errors.New("not a NumericDate")
	}
	return time.Unix(int64(f), 0), nil
}

func verifySig(alg string, key crypto.PublicKey, digest, sig []byte) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256" && rsa.VerifyPKCS1v15(k, crypto.SHA256, digest, sig) == nil
	case *ecdsa.PublicKey:
		if alg != "ES256" || len(sig) != 64 {
			return false
		}
		r, s := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
		return ecdsa.Verify(k, digest, r, s)
	}
	return false
}

// keysFor returns the candidate keys for kid (all keys when kid is
// empty), fetching the JWKS when the cache is old or misses the kid.
func (v *Verifier) keysFor(ctx context.Context, kid string) ([]crypto.PublicKey, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	age := v.now().Sub(v.fetchedAt)
	if v.keys == nil || age > keysTTL || (len(pick(v.keys, kid)) == 0 && age > refetchGap) {
		keys, err := v.fetchKeys(ctx)
		if err != nil {
			if v.keys == nil {
				return nil, err
			}
			// Keep serving the keys we have while the issuer is unreachable.
		} else {
			v.keys, v.fetchedAt = keys, v.now()
		}
	}
	return pick(v.keys, kid), nil
}

func pick(keys map[string]crypto.PublicKey, kid string) []crypto.PublicKey {
	if kid != "" {
		if k, ok := keys[kid]; ok {
			return []crypto.PublicKey{k}
		}
		return nil
	}
	out := make([]crypto.PublicKey, 0, len(keys))
	for _, k := range keys {
		out = append(out, k)
	}
	return out
}

func (v *Verifier) fetchKeys(ctx context.Context) (map[string]crypto.PublicKey, error) {
	if v.jwksURL == "" {
		var doc struct {
			Issuer  string `json:"issuer"`
			JWKSURI string `json:"jwks_uri"`
		}
		if err := v.getJSON(ctx, strings.TrimSuffix(v.cfg.Issuer, "/")+"/.well-known/openid-configuration", &doc); err != nil {
			return nil, err
		}
		if doc.Issuer != v.cfg.Issuer || doc.JWKSURI == "" {
			return nil, fmt.Errorf("%w: discovery document names issuer %q and jwks_uri %q", ErrUnavailable, doc.Issuer, doc.JWKSURI)
		}
		v.jwksURL = doc.JWKSURI
	}
	var set struct {
		Keys []jwk `json:"keys"`
	}
	if err := v.getJSON(ctx, v.jwksURL, &set); err != nil {
		return nil, err
	}
	keys := map[string]crypto.PublicKey{}
	for _, k := range set.Keys {
		if k.Use != "" && k.Use != "sig" {
			continue
		}
		if pub, err := k.publicKey(); err == nil {
			keys[k.Kid] = pub
		}
	}
	return keys, nil
}

func (v *Verifier) getJSON(ctx context.Context, url string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrUnavailable, err)
	}
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return fmt.Errorf("%w: get %s: %v", ErrUnavailable, url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%w: get %s: status %d", ErrUnavailable, url, resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxDocBytes))
	if err != nil {
		return fmt.Errorf("%w: read %s: %v", ErrUnavailable, url, err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("%w: decode %s: %v", ErrUnavailable, url, err)
	}
	return nil
}

type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	N   string `json:"n"`
	E   string `json:"e"`
	Crv string `json:"crv"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

func (k jwk) publicKey() (crypto.PublicKey, error) {
	b64 := base64.RawURLEncoding.DecodeString
	switch k.Kty {
	case "RSA":
		n, err1 := b64(k.N)
		e, err2 := b64(k.E)
		if err1 != nil || err2 != nil || len(e) == 0 || len(e) > 4 || len(n) < 256 {
			return nil, errors.New("bad RSA key")
		}
		exp := int(new(big.Int).SetBytes(e).Int64())
		return &rsa.PublicKey{N: new(big.Int).SetBytes(n), E: exp}, nil
	case "EC":
		x, err1 := b64(k.X)
		y, err2 := b64(k.Y)
		if k.Crv != "P-256" || err1 != nil || err2 != nil || len(x) != 32 || len(y) != 32 {
			return nil, errors.New("bad EC key")
		}
		return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), append(append([]byte{4}, x...), y...))
	}
	return nil, fmt.Errorf("key type %q not supported", k.Kty)
}
