package jwtverify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strings"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/db9/db9/internal/netguard"
	"github.com/db9/db9/internal/platform"
)

// Config is a database's byo_jwt auth-config, as the API takes and shows it.
type Config struct {
	JWKSURL         string          `json:"jwks_url,omitempty"`
	JWKS            json.RawMessage `json:"jwks,omitempty"`
	Issuer          string          `json:"issuer"`
	Audience        string          `json:"audience,omitempty"`
	Algorithms      []string        `json:"algorithms"`
	RoleClaim       string          `json:"role_claim"`
	DefaultRole     string          `json:"default_role"`
	ClaimsAllowlist []string        `json:"claims_allowlist"`
}

// Defaults of API.md.
var (
	DefaultAlgorithms = []string{"RS256", "ES256"}
)

const (
	DefaultRoleClaim   = "role"
	DefaultDefaultRole = "authenticated"
)

// allowedAlgs are the algorithms a config may name: asymmetric only.
var allowedAlgs = map[string]jose.SignatureAlgorithm{
	"RS256": jose.RS256, "RS384": jose.RS384, "RS512": jose.RS512,
	"ES256": jose.ES256, "ES384": jose.ES384, "EdDSA": jose.EdDSA,
}

const (
	maxConfigBytes = 128 << 10
	maxJWKSBytes   = 64 << 10
	maxURLBytes    = 2048
	maxNameBytes   = 256
	maxAllowlist   = 100
	maxIssuerBytes = 1024
)

// ParseConfig decodes a byo_jwt object strictly (unknown fields are an
// error), fills the defaults and validates it without network access. Its
// errors are platform.Errors with CodeInvalid (400).
func ParseConfig(data []byte) (Config, error) {
	var c Config
	if len(data) > maxConfigBytes {
		return c, platform.Errorf(platform.CodeInvalid, "byo_jwt: larger than %d bytes", maxConfigBytes)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, platform.Wrap(platform.CodeInvalid, err, "byo_jwt: "+decodeMessage(err))
	}
	if dec.More() {
		return Config{}, platform.Errorf(platform.CodeInvalid, "byo_jwt: trailing data after the object")
	}
	c = c.WithDefaults()
	if err := c.Validate(); err != nil {
		return Config{}, err
	}
	return c, nil
}

func decodeMessage(err error) string {
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) {
		return fmt.Sprintf("field %s: expected %s", typeErr.Field, typeErr.Type)
	}
	msg := err.Error()
	if strings.HasPrefix(msg, "json: unknown field ") {
		return "unknown field " + strings.TrimPrefix(msg, "json: unknown field ")
	}
	return "not a JSON object"
}

// WithDefaults returns c with API.md's defaults for empty fields.
func (c Config) WithDefaults() Config {
	if len(c.Algorithms) == 0 {
		c.Algorithms = slices.Clone(DefaultAlgorithms)
	}
	if c.RoleClaim == "" {
		c.RoleClaim = DefaultRoleClaim
	}
	if c.DefaultRole == "" {
		c.DefaultRole = DefaultDefaultRole
	}
	if c.ClaimsAllowlist == nil {
		c.ClaimsAllowlist = []string{}
	}
	return c
}

// Validate checks c without network access; call WithDefaults first. Every
// error is a platform.Error with CodeInvalid (400).
func (c Config) Validate() error {
	bad := func(format string, args ...any) error {
		return platform.Errorf(platform.CodeInvalid, "byo_jwt: "+format, args...)
	}
	hasURL, hasSet := c.JWKSURL != "", len(c.JWKS) > 0 && string(c.JWKS) != "null"
	switch {
	case hasURL && hasSet:
		return bad("give exactly one of jwks_url and jwks, not both")
	case !hasURL && !hasSet:
		return bad("jwks_url or jwks is required")
	case hasURL:
		if _, err := parseJWKSURL(c.JWKSURL, true); err != nil {
			return bad("jwks_url: %v", err)
		}
	default:
		if len(c.JWKS) > maxJWKSBytes {
			return bad("jwks: larger than %d bytes", maxJWKSBytes)
		}
		if _, err := ParseKeySetStrict(c.JWKS); err != nil {
			return bad("jwks: %v", err)
		}
	}
	if c.Issuer == "" {
		return bad("issuer is required")
	}
	if len(c.Issuer) > maxIssuerBytes {
		return bad("issuer: longer than %d bytes", maxIssuerBytes)
	}
	if len(c.Audience) > maxIssuerBytes {
		return bad("audience: longer than %d bytes", maxIssuerBytes)
	}
	if len(c.Algorithms) == 0 {
		return bad("algorithms: at least one is required")
	}
	for _, a := range c.Algorithms {
		if _, ok := allowedAlgs[a]; !ok {
			if strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS") {
				return bad("algorithms: %q is refused: only asymmetric algorithms (RS256, RS384, RS512, ES256, ES384, EdDSA)", a)
			}
			return bad("algorithms: %q is not supported (RS256, RS384, RS512, ES256, ES384, EdDSA)", a)
		}
	}
	if err := checkClaimPath(c.RoleClaim); err != nil {
		return bad("role_claim: %v", err)
	}
	if err := CheckRoleName(c.DefaultRole); err != nil {
		return bad("default_role: %v", err)
	}
	if len(c.ClaimsAllowlist) > maxAllowlist {
		return bad("claims_allowlist: at most %d names", maxAllowlist)
	}
	for _, n := range c.ClaimsAllowlist {
		if n == "" || len(n) > maxNameBytes {
			return bad("claims_allowlist: names must be 1 to %d bytes", maxNameBytes)
		}
	}
	return nil
}

func checkClaimPath(p string) error {
	if len(p) > maxNameBytes {
		return fmt.Errorf("longer than %d bytes", maxNameBytes)
	}
	for _, seg := range strings.Split(p, ".") {
		if seg == "" {
			return fmt.Errorf("%q has an empty path segment", p)
		}
	}
	return nil
}

// parseJWKSURL checks the form of a jwks_url: absolute, https (http only
// when allowHTTP), a host, no user info, no fragment.
func parseJWKSURL(raw string, allowHTTP bool) (*url.URL, error) {
	if len(raw) > maxURLBytes {
		return nil, fmt.Errorf("longer than %d bytes", maxURLBytes)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a URL")
	}
	switch {
	case u.Scheme == "http" && allowHTTP:
	case u.Scheme != "https":
		return nil, errors.New("must be an https URL")
	}
	if u.Hostname() == "" {
		return nil, errors.New("has no host")
	}
	if u.User != nil {
		return nil, errors.New("must not carry user info")
	}
	if u.Fragment != "" {
		return nil, errors.New("must not carry a fragment")
	}
	return u, nil
}

// CheckNetwork checks what Validate cannot: that jwks_url uses https (or
// http when the cache allows it) and that its host resolves, to public
// addresses only unless the cache allows private ones. Its errors are
// platform.Errors with CodeUnprocessable (422) or CodeInvalid (400, for a
// scheme refused by this server).
func (kc *KeyCache) CheckNetwork(ctx context.Context, c Config) error {
	if c.JWKSURL == "" {
		return nil
	}
	u, err := parseJWKSURL(c.JWKSURL, kc.cfg.AllowHTTP)
	if err != nil {
		return platform.Errorf(platform.CodeInvalid, "byo_jwt: jwks_url: %v", err)
	}
	if err := kc.guard.CheckHost(ctx, u.Hostname()); err != nil {
		if errors.Is(err, netguard.ErrForbidden) {
			return platform.Wrap(platform.CodeUnprocessable, err, fmt.Sprintf(
				"byo_jwt: jwks_url: %v; the server fetches JWKS only from public addresses (a self-hosted server may allow private ones with --allow-private-jwks)", err))
		}
		return platform.Wrap(platform.CodeUnprocessable, err, fmt.Sprintf("byo_jwt: jwks_url: %v", err))
	}
	return nil
}

// algs returns c's algorithms for go-jose.
func (c Config) algs() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, 0, len(c.Algorithms))
	for _, a := range c.Algorithms {
		if alg, ok := allowedAlgs[a]; ok {
			out = append(out, alg)
		}
	}
	return out
}

func algList(algs []jose.SignatureAlgorithm) string {
	s := make([]string, len(algs))
	for i, a := range algs {
		s[i] = string(a)
	}
	return strings.Join(s, ", ")
}
