// Package oidc verifies OpenID Connect id_tokens against one configured
// issuer: its keys (JWKS) are fetched over HTTP — from the issuer's
// discovery document or a configured URL — and cached; signatures are
// RS256 or ES256, checked by go-jose through package jwtverify (the same
// code that checks end users' JWTs); iss, aud, exp, nbf and iat are checked.
//
// It does not run login flows, refresh tokens or talk to userinfo
// endpoints, and it accepts no other algorithms (in particular not "none"
// and not HMAC, which would let a public key sign).
package oidc
