package client

import (
	"context"
	"encoding/json"
	"net/url"
	"time"
)

// BYOJWT is a database's bring-your-own-JWT configuration: how the data
// API verifies end users' tokens. Exactly one of JWKSURL and JWKS is set.
type BYOJWT struct {
	JWKSURL         string          `json:"jwks_url,omitempty"`
	JWKS            json.RawMessage `json:"jwks,omitempty"`
	Issuer          string          `json:"issuer"`
	Audience        string          `json:"audience,omitempty"`
	Algorithms      []string        `json:"algorithms,omitempty"`
	RoleClaim       string          `json:"role_claim,omitempty"`
	DefaultRole     string          `json:"default_role,omitempty"`
	ClaimsAllowlist []string        `json:"claims_allowlist,omitempty"`
}

// UnmarshalJSON reads the answer's explicit nulls as empty fields.
func (b *BYOJWT) UnmarshalJSON(data []byte) error {
	var raw struct {
		JWKSURL         *string         `json:"jwks_url"`
		JWKS            json.RawMessage `json:"jwks"`
		Issuer          string          `json:"issuer"`
		Audience        *string         `json:"audience"`
		Algorithms      []string        `json:"algorithms"`
		RoleClaim       string          `json:"role_claim"`
		DefaultRole     string          `json:"default_role"`
		ClaimsAllowlist []string        `json:"claims_allowlist"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return err
	}
	*b = BYOJWT{Issuer: raw.Issuer, Algorithms: raw.Algorithms, RoleClaim: raw.RoleClaim, DefaultRole: raw.DefaultRole,
		ClaimsAllowlist: raw.ClaimsAllowlist}
	if raw.JWKSURL != nil {
		b.JWKSURL = *raw.JWKSURL
	}
	if raw.Audience != nil {
		b.Audience = *raw.Audience
	}
	if len(raw.JWKS) > 0 && string(raw.JWKS) != "null" {
		b.JWKS = raw.JWKS
	}
	return nil
}

// DataPlaneService is what the browser data API of a database needs from
// its owner: how end users' JWTs are verified, and publishable and service
// keys.
type DataPlaneService service

// AuthConfig is a database's auth-config.
type AuthConfig struct {
	AuthMode  string     `json:"auth_mode"` // "none" or "byo_jwt"
	BYOJWT    *BYOJWT    `json:"byo_jwt"`
	UpdatedAt *time.Time `json:"updated_at"`
}

// GetAuthConfig returns a database's auth-config.
func (s *DataPlaneService) GetAuthConfig(ctx context.Context, db string) (AuthConfig, error) {
	var a AuthConfig
	err := s.client.call(ctx, "GET", dbPath(db, "auth-config"), true, nil, &a)
	return a, err
}

// PutAuthConfig replaces a database's auth-config and returns it as stored
// (defaults filled in).
func (s *DataPlaneService) PutAuthConfig(ctx context.Context, db string, cfg AuthConfig) (AuthConfig, error) {
	in := struct {
		AuthMode string  `json:"auth_mode"`
		BYOJWT   *BYOJWT `json:"byo_jwt"`
	}{cfg.AuthMode, cfg.BYOJWT}
	var a AuthConfig
	err := s.client.call(ctx, "PUT", dbPath(db, "auth-config"), true, in, &a)
	return a, err
}

// RateLimit is a publishable key's token bucket.
type RateLimit struct {
	RPS   float64 `json:"rps"`
	Burst int     `json:"burst"`
}

// DataKeyRequest is the body of creating a publishable or service key;
// service keys take only Name and ExpiresInDays.
type DataKeyRequest struct {
	Name           string     `json:"name,omitempty"`
	AllowedOrigins []string   `json:"allowed_origins,omitempty"`
	ExposedSchemas []string   `json:"exposed_schemas,omitempty"`
	ExposedTables  []string   `json:"exposed_tables,omitempty"`
	RateLimit      *RateLimit `json:"rate_limit,omitempty"`
	ExpiresInDays  *int       `json:"expires_in_days,omitempty"`
}

// DataKey is a publishable or service key. Key (the secret) is set only in
// the answer of its creation; LastUsedAt only in lists. The settings are
// empty for service keys.
type DataKey struct {
	ID             string     `json:"id"`
	Name           string     `json:"name"`
	Key            string     `json:"key,omitempty"`
	AllowedOrigins []string   `json:"allowed_origins,omitempty"`
	ExposedSchemas []string   `json:"exposed_schemas,omitempty"`
	ExposedTables  []string   `json:"exposed_tables,omitempty"`
	RateLimit      *RateLimit `json:"rate_limit,omitempty"`
	CreatedAt      time.Time  `json:"created_at"`
	ExpiresAt      *time.Time `json:"expires_at"`
	LastUsedAt     *time.Time `json:"last_used_at,omitempty"`
}

// Key kinds, as they appear in the API's paths.
const (
	PublishableKeys = "publishable-keys"
	ServiceKeys     = "service-keys"
)

// CreateKey creates a key of kind (PublishableKeys or ServiceKeys).
func (s *DataPlaneService) CreateKey(ctx context.Context, db, kind string, req DataKeyRequest) (DataKey, error) {
	var k DataKey
	err := s.client.call(ctx, "POST", dbPath(db, kind), true, req, &k)
	return k, err
}

// ListKeys lists a database's keys of kind, newest first.
func (s *DataPlaneService) ListKeys(ctx context.Context, db, kind string) ([]DataKey, error) {
	var ks []DataKey
	err := s.client.call(ctx, "GET", dbPath(db, kind), true, nil, &ks)
	return ks, err
}

// RevokeKey revokes a key of kind; it stops working at once.
func (s *DataPlaneService) RevokeKey(ctx context.Context, db, kind, id string) (Message, error) {
	var m Message
	err := s.client.call(ctx, "DELETE", dbPath(db, kind, url.PathEscape(id)), true, nil, &m)
	return m, err
}
