package auth

import "time"

// ScramVerifierWithSalt exposes the verifier with a given salt, so tests
// can compare it byte for byte with one PostgreSQL built from a plaintext.
var ScramVerifierWithSalt = scramVerifier

// NewConnectSigner is a signer for key, without a key file.
var NewConnectSigner = newConnectSigner

// WithClock is the signer issuing tokens at now's time.
func (s *ConnectSigner) WithClock(now func() time.Time) *ConnectSigner { return s.withClock(now) }
