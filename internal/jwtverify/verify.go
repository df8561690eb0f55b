package jwtverify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
)

// ClockSkew is how far exp, nbf and iat may be off.
const ClockSkew = 30 * time.Second

// Result is what a verified token grants.
type Result struct {
	// Role to run as: the role_claim's value, or default_role without one.
	// Its name passed CheckRoleName; check it against the database with
	// CheckRole (or ClaimableRolesSQL) before SET ROLE.
	Role string
	// Subject is the sub claim ("" when absent).
	Subject string
	// Claims is the claims object for request.jwt.claims, filtered by
	// claims_allowlist when set; values are the token's bytes unchanged.
	Claims json.RawMessage
	// Expiry is exp.
	Expiry time.Time
}

// Verifier checks tokens for one auth-config. It is safe for concurrent
// use; make one per database and drop it when the config changes.
type Verifier struct {
	cfg  Config
	algs []jose.SignatureAlgorithm
	src  KeySource
	path []string
	now  func() time.Time
}

// New returns a Verifier for cfg (validated again here), with keys from
// the inline jwks or from kc for jwks_url. It does no I/O.
func New(cfg Config, kc *KeyCache) (*Verifier, error) {
	cfg = cfg.WithDefaults()
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, algs: cfg.algs(), path: strings.Split(cfg.RoleClaim, "."), now: time.Now}
	if cfg.JWKSURL != "" {
		if kc == nil {
			return nil, errors.New("new verifier: jwks_url needs a KeyCache")
		}
		v.src = kc.Source(cfg.JWKSURL)
		v.now = kc.cfg.Now
	} else {
		set, err := ParseKeySetStrict(cfg.JWKS)
		if err != nil {
			return nil, fmt.Errorf("new verifier: %w", err)
		}
		v.src = StaticKeys{Set: set}
	}
	return v, nil
}

// Verify checks token and returns what it grants. Errors wrap ErrInvalid
// (ErrExpired for an expired token) or ErrUnavailable; their messages never
// contain the token.
func (v *Verifier) Verify(ctx context.Context, token string) (Result, error) {
	payload, _, err := VerifySignature(ctx, token, v.algs, v.src)
	if err != nil {
		return Result{}, err
	}
	var std jwt.Claims
	if err := json.Unmarshal(payload, &std); err != nil {
		return Result{}, invalid("claims: %v", claimsError(err))
	}
	var all map[string]json.RawMessage
	if err := json.Unmarshal(payload, &all); err != nil || all == nil {
		return Result{}, invalid("claims: not a JSON object")
	}
	if std.Expiry == nil {
		return Result{}, invalid("exp: required")
	}
	exp := jwt.Expected{Issuer: v.cfg.Issuer, Time: v.now()}
	if v.cfg.Audience != "" {
		exp.AnyAudience = jwt.Audience{v.cfg.Audience}
	}
	if err := std.ValidateWithLeeway(exp, ClockSkew); err != nil {
		switch {
		case errors.Is(err, jwt.ErrExpired):
			return Result{}, ErrExpired
		case errors.Is(err, jwt.ErrInvalidIssuer):
			return Result{}, invalid("iss: not the configured issuer")
		case errors.Is(err, jwt.ErrInvalidAudience):
			return Result{}, invalid("aud: does not include the configured audience")
		case errors.Is(err, jwt.ErrNotValidYet):
			return Result{}, invalid("nbf: not valid yet")
		case errors.Is(err, jwt.ErrIssuedInTheFuture):
			return Result{}, invalid("iat: issued in the future")
		}
		return Result{}, invalid("%v", err)
	}
	role, err := v.role(all)
	if err != nil {
		return Result{}, err
	}
	claims, err := v.filter(all, payload)
	if err != nil {
		return Result{}, err
	}
	return Result{Role: role, Subject: std.Subject, Claims: claims, Expiry: std.Expiry.Time()}, nil
}

func claimsError(err error) string {
	switch {
	case errors.Is(err, jwt.ErrUnmarshalAudience):
		return "aud: not a string or an array of strings"
	case errors.Is(err, jwt.ErrUnmarshalNumericDate):
		return "exp, nbf or iat: not a NumericDate"
	}
	var typeErr *json.UnmarshalTypeError
	if errors.As(err, &typeErr) && typeErr.Field != "" {
		return fmt.Sprintf("%s: expected %s", typeErr.Field, typeErr.Type)
	}
	return "not a JSON object"
}

// role follows role_claim (a dotted path into nested objects).
func (v *Verifier) role(all map[string]json.RawMessage) (string, error) {
	raw, ok := all[v.path[0]]
	for _, seg := range v.path[1:] {
		if !ok {
			break
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(raw, &obj) != nil {
			ok = false
			break
		}
		raw, ok = obj[seg]
	}
	if !ok || string(raw) == "null" {
		return v.cfg.DefaultRole, nil
	}
	var role string
	if err := json.Unmarshal(raw, &role); err != nil {
		return "", invalid("%s: not a string", v.cfg.RoleClaim)
	}
	if err := CheckRoleName(role); err != nil {
		return "", invalid("%s: %v", v.cfg.RoleClaim, err)
	}
	return role, nil
}

func (v *Verifier) filter(all map[string]json.RawMessage, payload []byte) (json.RawMessage, error) {
	if len(v.cfg.ClaimsAllowlist) == 0 {
		var buf bytes.Buffer
		if err := json.Compact(&buf, payload); err != nil {
			return nil, invalid("claims: not JSON")
		}
		return buf.Bytes(), nil
	}
	kept := make(map[string]json.RawMessage, len(v.cfg.ClaimsAllowlist))
	for _, name := range v.cfg.ClaimsAllowlist {
		if val, ok := all[name]; ok {
			kept[name] = val
		}
	}
	b, err := json.Marshal(kept)
	if err != nil {
		return nil, invalid("claims: %v", err)
	}
	return b, nil
}
