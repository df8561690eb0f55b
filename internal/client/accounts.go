package client

import (
	"context"
	"net/url"
	"time"
)

// AccountsService is the caller's account: anonymous registration and
// refresh, identity, and claiming an anonymous account.
type AccountsService service

// TokensService is the caller's API tokens.
type TokensService service

// Registration is the answer of POST /customer/anonymous-register.
type Registration struct {
	Token           string    `json:"token"`
	ExpiresAt       time.Time `json:"expires_at"`
	IsAnonymous     bool      `json:"is_anonymous"`
	AnonymousID     string    `json:"anonymous_id"`
	AnonymousSecret string    `json:"anonymous_secret"`
	CustomerID      string    `json:"customer_id"`
}

// Session is a fresh token and its expiry (POST /customer/anonymous-refresh).
type Session struct {
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Me is the caller's identity (GET /customer/me, POST /customer/claim).
type Me struct {
	ID          string    `json:"id"`
	Email       *string   `json:"email"`
	IsAnonymous bool      `json:"is_anonymous"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

// RegisterAnonymous creates an anonymous account and returns its session.
func (s *AccountsService) RegisterAnonymous(ctx context.Context) (Registration, error) {
	var r Registration
	err := s.client.call(ctx, "POST", "/customer/anonymous-register", false, nil, &r)
	return r, err
}

// RefreshAnonymous trades an anonymous account's id and secret for a new token.
func (s *AccountsService) RefreshAnonymous(ctx context.Context, anonymousID, secret string) (Session, error) {
	var ses Session
	in := map[string]string{"anonymous_id": anonymousID, "anonymous_secret": secret}
	err := s.client.call(ctx, "POST", "/customer/anonymous-refresh", false, in, &ses)
	return ses, err
}

// Me returns the identity behind the token.
func (s *AccountsService) Me(ctx context.Context) (Me, error) {
	var m Me
	err := s.client.call(ctx, "GET", "/customer/me", true, nil, &m)
	return m, err
}

// Claim turns the anonymous account behind the token into a full one,
// proven by an OIDC id_token.
func (s *AccountsService) Claim(ctx context.Context, idToken string) (Me, error) {
	var m Me
	err := s.client.call(ctx, "POST", "/customer/claim", true, map[string]string{"id_token": idToken}, &m)
	return m, err
}

// Token is an API token as listed; its Token (the secret) is set only on
// creation.
type Token struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Token      string     `json:"token,omitempty"`
	Scope      any        `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
}

// TokenScope limits a token to some databases.
type TokenScope struct {
	Databases []ScopedDatabase `json:"databases"`
}

// ScopedDatabase is one database of a TokenScope; Access is "ro" or "rw".
type ScopedDatabase struct {
	ID     string `json:"id"`
	Access string `json:"access"`
}

// CreateTokenRequest is the body of POST /customer/tokens. ScopeJSON is a
// JSON document in a string, as the API wants it.
type CreateTokenRequest struct {
	Name          string `json:"name"`
	ExpiresInDays *int   `json:"expires_in_days,omitempty"`
	ScopeJSON     string `json:"scope_json,omitempty"`
}

// Create makes a new API token; the answer's Token is its only showing.
func (s *TokensService) Create(ctx context.Context, req CreateTokenRequest) (Token, error) {
	var t Token
	err := s.client.call(ctx, "POST", "/customer/tokens", true, req, &t)
	return t, err
}

// List lists the caller's API tokens, newest first.
func (s *TokensService) List(ctx context.Context) ([]Token, error) {
	var ts []Token
	err := s.client.call(ctx, "GET", "/customer/tokens", true, nil, &ts)
	return ts, err
}

// Revoke revokes an API token at once.
func (s *TokensService) Revoke(ctx context.Context, id string) (Message, error) {
	var m Message
	err := s.client.call(ctx, "DELETE", "/customer/tokens/"+url.PathEscape(id), true, nil, &m)
	return m, err
}

// Message is the {message} answer of deletes.
type Message struct {
	Message string `json:"message"`
}
