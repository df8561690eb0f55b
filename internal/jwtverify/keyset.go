package jwtverify

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"

	jose "github.com/go-jose/go-jose/v4"
)

// minRSABits is the smallest RSA modulus accepted; shorter keys are
// factorable by a determined attacker.
const minRSABits = 2048

// maxKeys bounds a key set, inline or fetched.
const maxKeys = 100

// KeySet holds the public signature keys of one JWK Set.
type KeySet struct {
	keys []jose.JSONWebKey
}

// Len returns the number of usable keys.
func (s *KeySet) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// ByKID returns the keys with kid, or all keys when kid is empty.
func (s *KeySet) ByKID(kid string) []jose.JSONWebKey {
	if s == nil {
		return nil
	}
	var out []jose.JSONWebKey
	for _, k := range s.keys {
		if kid == "" || k.KeyID == kid {
			out = append(out, k)
		}
	}
	return out
}

// ParseKeySet decodes a JWK Set document, keeping the keys that can verify
// signatures (public RSA of 2048 bits or more, EC P-256/P-384/P-521,
// Ed25519, with use "sig" or none) and skipping the others, as identity
// providers publish encryption keys and new key types beside their signing
// keys. It fails only when the document is not a JWK Set.
func ParseKeySet(data []byte) (*KeySet, error) {
	raws, err := rawKeys(data)
	if err != nil {
		return nil, err
	}
	set := &KeySet{}
	for _, raw := range raws {
		if k, err := parseKey(raw); err == nil {
			set.keys = append(set.keys, k)
		}
	}
	return set, nil
}

// ParseKeySetStrict is ParseKeySet for a set a tenant types in: every key
// must be usable, and a private or symmetric key is an error (so that a
// pasted private key is refused rather than stored).
func ParseKeySetStrict(data []byte) (*KeySet, error) {
	raws, err := rawKeys(data)
	if err != nil {
		return nil, err
	}
	if len(raws) == 0 {
		return nil, errors.New("jwks has no keys")
	}
	set := &KeySet{}
	for i, raw := range raws {
		k, err := parseKey(raw)
		if err != nil {
			return nil, fmt.Errorf("jwks key %d: %w", i, err)
		}
		set.keys = append(set.keys, k)
	}
	return set, nil
}

func rawKeys(data []byte) ([]json.RawMessage, error) {
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, errors.New("not a JWK Set (a JSON object with a \"keys\" array)")
	}
	if doc.Keys == nil {
		return nil, errors.New("not a JWK Set: no \"keys\" array")
	}
	if len(doc.Keys) > maxKeys {
		return nil, fmt.Errorf("jwks has %d keys, at most %d", len(doc.Keys), maxKeys)
	}
	return doc.Keys, nil
}

func parseKey(raw json.RawMessage) (jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON(raw); err != nil {
		return k, fmt.Errorf("unsupported or malformed key: %w", err)
	}
	if k.Use != "" && k.Use != "sig" {
		return k, fmt.Errorf("key %q has use %q, not sig", k.KeyID, k.Use)
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		if pub.N.BitLen() < minRSABits {
			return k, fmt.Errorf("key %q: RSA key of %d bits, at least %d", k.KeyID, pub.N.BitLen(), minRSABits)
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	case []byte:
		return k, fmt.Errorf("key %q is symmetric; only public keys (RSA, EC, OKP) may be given", k.KeyID)
	default:
		return k, fmt.Errorf("key %q is a private key; give only the public key", k.KeyID)
	}
	if k.Algorithm != "" {
		if _, ok := allowedAlgs[k.Algorithm]; !ok {
			return k, fmt.Errorf("key %q: algorithm %q is not accepted", k.KeyID, k.Algorithm)
		}
		if !fits(k, jose.SignatureAlgorithm(k.Algorithm)) {
			return k, fmt.Errorf("key %q: algorithm %q does not fit its key type", k.KeyID, k.Algorithm)
		}
	}
	return k, nil
}

// fits reports whether key k may verify a signature made with alg: the key
// type must be alg's, and a key that names its algorithm names this one.
func fits(k jose.JSONWebKey, alg jose.SignatureAlgorithm) bool {
	if k.Algorithm != "" && k.Algorithm != string(alg) {
		return false
	}
	switch pub := k.Key.(type) {
	case *rsa.PublicKey:
		return alg == jose.RS256 || alg == jose.RS384 || alg == jose.RS512
	case *ecdsa.PublicKey:
		switch alg {
		case jose.ES256:
			return pub.Curve == elliptic.P256()
		case jose.ES384:
			return pub.Curve == elliptic.P384()
		case jose.ES512:
			return pub.Curve == elliptic.P521()
		}
	case ed25519.PublicKey:
		return alg == jose.EdDSA
	}
	return false
}

// KeySource gives the keys a token is checked with. With refresh, the
// source may fetch its keys again first (a token named a kid it does not
// know); sources rate-limit that themselves.
type KeySource interface {
	Keys(ctx context.Context, refresh bool) (*KeySet, error)
}

// StaticKeys is a KeySource of a fixed set (an inline jwks).
type StaticKeys struct{ Set *KeySet }

// Keys returns the set.
func (s StaticKeys) Keys(context.Context, bool) (*KeySet, error) { return s.Set, nil }

// maxTokenBytes bounds what is parsed; real tokens are a few KiB.
const maxTokenBytes = 16 << 10

// VerifySignature checks a compact JWS: its algorithm must be one of algs,
// its key the one named by kid in src (every fitting key when the token
// names none), refreshing src once when the kid is unknown. It returns the
// verified payload and the algorithm. Errors wrap ErrInvalid, or
// ErrUnavailable when the keys could not be had at all.
func VerifySignature(ctx context.Context, token string, algs []jose.SignatureAlgorithm, src KeySource) ([]byte, jose.SignatureAlgorithm, error) {
	if len(token) > maxTokenBytes {
		return nil, "", invalid("token larger than %d bytes", maxTokenBytes)
	}
	jws, err := jose.ParseSignedCompact(token, algs)
	if err != nil {
		var unexpected *jose.ErrUnexpectedSignatureAlgorithm
		if errors.As(err, &unexpected) {
			return nil, "", invalid("algorithm %q is not accepted (%s)", unexpected.Got, algList(algs))
		}
		return nil, "", invalid("not a signed JWT")
	}
	if len(jws.Signatures) != 1 {
		return nil, "", invalid("not a signed JWT")
	}
	h := jws.Signatures[0].Protected
	alg := jose.SignatureAlgorithm(h.Algorithm)
	set, err := src.Keys(ctx, false)
	if err != nil {
		return nil, "", err
	}
	cands, known := set.candidates(h.KeyID, alg)
	if !known && h.KeyID != "" {
		if set, err = src.Keys(ctx, true); err != nil {
			return nil, "", err
		}
		cands, known = set.candidates(h.KeyID, alg)
	}
	switch {
	case !known && h.KeyID != "":
		return nil, "", invalid("no key with kid %q", h.KeyID)
	case len(cands) == 0 && h.KeyID != "":
		return nil, "", invalid("key %q does not fit algorithm %s", h.KeyID, alg)
	case len(cands) == 0:
		return nil, "", invalid("no key fits algorithm %s", alg)
	}
	for _, k := range cands {
		if payload, err := jws.Verify(k.Key); err == nil {
			return payload, alg, nil
		}
	}
	return nil, "", invalid("signature does not verify")
}

// candidates returns the keys that may verify a signature by alg with kid,
// and whether any key carries that kid at all (always true for no kid).
func (s *KeySet) candidates(kid string, alg jose.SignatureAlgorithm) (out []jose.JSONWebKey, known bool) {
	if s == nil {
		return nil, kid == ""
	}
	known = kid == ""
	for _, k := range s.keys {
		if kid != "" && k.KeyID != kid {
			continue
		}
		known = true
		if fits(k, alg) {
			out = append(out, k)
		}
	}
	return out, known
}
