package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/db9/db9/internal/platform"
)

// NewAPIToken returns a new API token: 128 hex characters (64 random bytes).
func NewAPIToken() string {
	b := make([]byte, 64)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// HashToken returns the SHA-256 of a token, the only form that is stored.
func HashToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

const passwordAlphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"

// NewPassword returns a random password of 24 characters (about 140 bits).
func NewPassword() string { return platform.RandomString(24, passwordAlphabet) }

// NewSecret returns a random secret of 48 hex characters.
func NewSecret() string {
	b := make([]byte, 24)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// SCRAMVerifier returns the PostgreSQL SCRAM-SHA-256 verifier of password,
// suitable for ALTER ROLE ... PASSWORD, so the plaintext never reaches the
// instance's logs or statement statistics. The password is prepared with
// SASLprep first, as PostgreSQL does with a plaintext.
func SCRAMVerifier(password string) string {
	salt := make([]byte, 16)
	_, _ = rand.Read(salt)
	return scramVerifier(password, salt, 4096)
}

func scramVerifier(password string, salt []byte, iterations int) string {
	salted, _ := pbkdf2.Key(sha256.New, saslPrep(password), salt, iterations, 32)
	clientKey := hmacSHA256(salted, "Client Key")
	storedKey := sha256.Sum256(clientKey)
	serverKey := hmacSHA256(salted, "Server Key")
	return fmt.Sprintf("SCRAM-SHA-256$%d:%s$%s:%s", iterations,
		base64.StdEncoding.EncodeToString(salt),
		base64.StdEncoding.EncodeToString(storedKey[:]),
		base64.StdEncoding.EncodeToString(serverKey))
}

func hmacSHA256(key []byte, msg string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(msg))
	return h.Sum(nil)
}

// Sealer encrypts and decrypts stored secrets with AES-256-GCM.
type Sealer struct{ aead cipher.AEAD }

// LoadOrCreateMasterKey reads secrets/master.key under dataDir, creating a
// new random key (mode 0600) on first start.
func LoadOrCreateMasterKey(dataDir string) (*Sealer, error) {
	dir := filepath.Join(dataDir, "secrets")
	path := filepath.Join(dir, "master.key")
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, err
		}
		key = make([]byte, 32)
		_, _ = rand.Read(key)
		tmp := path + ".tmp"
		if err := writeFileSync(tmp, key, 0o600); err != nil {
			return nil, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return nil, err
		}
	} else if err != nil {
		return nil, fmt.Errorf("read master key: %w", err)
	}
	if len(key) != 32 {
		return nil, fmt.Errorf("master key %s has %d bytes, want 32", path, len(key))
	}
	return NewSealer(key)
}

// NewSealer returns a Sealer for a 32-byte key.
func NewSealer(key []byte) (*Sealer, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &Sealer{aead: aead}, nil
}

// Seal encrypts plaintext; the nonce is prepended to the result.
func (s *Sealer) Seal(plaintext string) []byte {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	return s.aead.Seal(nonce, nonce, []byte(plaintext), nil)
}

// Open decrypts what Seal produced.
func (s *Sealer) Open(sealed []byte) (string, error) {
	n := s.aead.NonceSize()
	if len(sealed) < n {
		return "", errors.New("sealed secret too short")
	}
	b, err := s.aead.Open(nil, sealed[:n], sealed[n:], nil)
	if err != nil {
		return "", fmt.Errorf("open sealed secret: %w", err)
	}
	return string(b), nil
}

func writeFileSync(path string, b []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// EqualHash compares two hashes in constant time.
func EqualHash(a, b []byte) bool { return len(a) > 0 && hmac.Equal(a, b) }
