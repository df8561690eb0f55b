// Package jwtverify verifies end users' JWTs for the browser data plane
// against a database's auth-config: the tenant's identity provider signs,
// db9 checks the signature with the provider's public keys (an inline JWK
// Set or one fetched from jwks_url), the algorithm, exp/nbf/iat with a small
// clock skew, iss and aud, and turns the claims into the role and the claims
// JSON a request runs with.
//
// Signatures are checked by go-jose, never by hand. Only asymmetric
// algorithms are accepted (RS256/384/512, ES256/384, EdDSA), each only with a
// key of its own type, so neither "none" nor an HMAC "signed" with a public
// key can pass.
//
// JWKS documents are fetched through netguard (no loopback, private,
// link-local or metadata address, also after DNS and redirects), over https,
// with a timeout and a size limit, cached per URL for the provider's
// Cache-Control max-age (bounded), and fetched again on an unknown kid at
// most once per RefreshGap.
//
// The package does not store auth-configs, does not know databases, and does
// not set claims in a session; it does not issue tokens either.
package jwtverify
