package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"

	"github.com/db9/db9/internal/jwtverify"
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
	keys      *jwtverify.KeySet
	fetchedAt time.Time
}

const (
	keysTTL     = time.Hour        // keys are refetched at least this often
	refetchGap  = 10 * time.Second // unknown kids trigger a refetch at most this often
	leeway      = time.Minute      // clock skew allowed for exp and nbf
	maxDocBytes = 1 << 20
)

// algorithms are those id_tokens may be signed with; the operator's
// issuer is one of the common providers, which all sign RS256 or ES256.
var algorithms = []jose.SignatureAlgorithm{jose.RS256, jose.ES256}

// New returns a Verifier; it does no I/O until the first Verify.
func New(cfg Config) *Verifier {
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 10 * time.Second}
	}
	return &Verifier{cfg: cfg, now: time.Now, jwksURL: cfg.JWKSURL}
}

// InvalidError is an id_token that does not verify, with the reason; it
// matches ErrInvalid.
type InvalidError struct{ Reason string }

func (e *InvalidError) Error() string        { return ErrInvalid.Error() + ": " + e.Reason }
func (e *InvalidError) Is(target error) bool { return target == ErrInvalid }

func invalid(format string, args ...any) error {
	return &InvalidError{Reason: fmt.Sprintf(format, args...)}
}

type claims struct {
	jwt.Claims
	Email         string `json:"email"`
	EmailVerified any    `json:"email_verified"`
}

// Verify checks an id_token and returns the identity it names. The
// signature is checked by jwtverify (go-jose), as end users' JWTs are.
func (v *Verifier) Verify(ctx context.Context, raw string) (Identity, error) {
	payload, _, err := jwtverify.VerifySignature(ctx, raw, algorithms, v)
	if err != nil {
		if ie := (*jwtverify.InvalidError)(nil); errors.As(err, &ie) {
			return Identity{}, invalid("%s", ie.Reason)
		}
		if errors.Is(err, jwtverify.ErrInvalid) { // expired
			return Identity{}, invalid("%s", err.Error())
		}
		return Identity{}, err
	}
	var c claims
	if err := json.Unmarshal(payload, &c); err != nil {
		return Identity{}, invalid("claims: not a JSON object of the registered claims")
	}
	if c.Issuer != v.cfg.Issuer {
		return Identity{}, invalid("issuer %q is not the configured issuer", c.Issuer)
	}
	if !c.Audience.Contains(v.cfg.Audience) {
		return Identity{}, invalid("audience does not include %q", v.cfg.Audience)
	}
	if c.Expiry == nil {
		return Identity{}, invalid("exp: required")
	}
	err = c.ValidateWithLeeway(jwt.Expected{Time: v.now()}, leeway)
	switch {
	case errors.Is(err, jwt.ErrExpired):
		return Identity{}, invalid("expired at %s", c.Expiry.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrNotValidYet):
		return Identity{}, invalid("not valid before %s", c.NotBefore.Time().UTC().Format(time.RFC3339))
	case errors.Is(err, jwt.ErrIssuedInTheFuture):
		return Identity{}, invalid("issued in the future")
	case err != nil:
		return Identity{}, invalid("%v", err)
	}
	if c.Subject == "" || len(c.Subject) > 255 {
		return Identity{}, invalid("sub: must be 1 to 255 characters")
	}
	id := Identity{Issuer: c.Issuer, Subject: c.Subject}
	if c.EmailVerified != false && c.EmailVerified != "false" && len(c.Email) <= 254 {
		id.Email = c.Email
	}
	return id, nil
}

// Keys returns the issuer's keys (jwtverify.KeySource), fetching the JWKS
// when the cache is old, or on refresh (an unknown kid) at most once per
// refetchGap.
func (v *Verifier) Keys(ctx context.Context, refresh bool) (*jwtverify.KeySet, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	age := v.now().Sub(v.fetchedAt)
	if v.keys == nil || age > keysTTL || (refresh && age > refetchGap) {
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
	return v.keys, nil
}

// keysFor returns the keys with kid (all keys when kid is empty).
func (v *Verifier) keysFor(ctx context.Context, kid string) ([]jose.JSONWebKey, error) {
	set, err := v.Keys(ctx, false)
	if err != nil {
		return nil, err
	}
	return set.ByKID(kid), nil
}

func (v *Verifier) fetchKeys(ctx context.Context) (*jwtverify.KeySet, error) {
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
	var set json.RawMessage
	if err := v.getJSON(ctx, v.jwksURL, &set); err != nil {
		return nil, err
	}
	keys, err := jwtverify.ParseKeySet(set)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrUnavailable, v.jwksURL, err)
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
