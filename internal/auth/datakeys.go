package auth

import (
	"errors"
	"strings"

	"github.com/db9/db9/internal/platform"
)

// KeyKind tells the two keys of the browser data plane apart.
type KeyKind int

const (
	// PublishableKey (db9pk_...) may sit in a web page; it runs as anon,
	// or as the end user of a verified JWT.
	PublishableKey KeyKind = iota + 1
	// ServiceKey (db9sk_...) is for servers only; it runs as service_role.
	ServiceKey
)

// Key prefixes, so a leaked key is recognisable (secret scanners) and its
// kind known before any lookup.
const (
	PublishableKeyPrefix = "db9pk_"
	ServiceKeyPrefix     = "db9sk_"
)

// dataKeyAlphabet is base62: keys survive copy and paste, URLs and shells.
const dataKeyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// dataKeyRandom is the length of the random part: 43 base62 characters
// carry 256 bits.
const dataKeyRandom = 43

// ErrMalformedKey marks a string that is not a data plane key.
var ErrMalformedKey = errors.New("malformed key")

// NewPublishableKey returns a new db9pk_ key. Store only HashToken(key).
func NewPublishableKey() string {
	return PublishableKeyPrefix + platform.RandomString(dataKeyRandom, dataKeyAlphabet)
}

// NewServiceKey returns a new db9sk_ key. Store only HashToken(key).
func NewServiceKey() string {
	return ServiceKeyPrefix + platform.RandomString(dataKeyRandom, dataKeyAlphabet)
}

// ParseDataKey returns the kind of key, or ErrMalformedKey when key has
// neither prefix, the wrong length or a character outside base62, so
// garbage is refused before it is hashed and looked up.
func ParseDataKey(key string) (KeyKind, error) {
	var kind KeyKind
	switch {
	case strings.HasPrefix(key, PublishableKeyPrefix):
		kind = PublishableKey
	case strings.HasPrefix(key, ServiceKeyPrefix):
		kind = ServiceKey
	default:
		return 0, ErrMalformedKey
	}
	rest := key[len(PublishableKeyPrefix):]
	if len(rest) != dataKeyRandom {
		return 0, ErrMalformedKey
	}
	for i := 0; i < len(rest); i++ {
		if !strings.ContainsRune(dataKeyAlphabet, rune(rest[i])) {
			return 0, ErrMalformedKey
		}
	}
	return kind, nil
}

// HashDataKey returns the SHA-256 of a data plane key, the only form
// stored; it is HashToken, named for the call sites' clarity.
func HashDataKey(key string) []byte { return HashToken(key) }

// String returns "publishable" or "service".
func (k KeyKind) String() string {
	switch k {
	case PublishableKey:
		return "publishable"
	case ServiceKey:
		return "service"
	}
	return "unknown"
}
