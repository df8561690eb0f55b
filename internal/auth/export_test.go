package auth

// ScramVerifierWithSalt exposes the verifier with a given salt, so tests
// can compare it byte for byte with one PostgreSQL built from a plaintext.
var ScramVerifierWithSalt = scramVerifier
