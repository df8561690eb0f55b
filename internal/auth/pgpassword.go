package auth

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"strconv"
	"strings"
)

// CheckRolePassword reports whether password matches a role's stored
// PostgreSQL password (pg_authid.rolpassword): a SCRAM-SHA-256 verifier,
// checked as PostgreSQL checks a cleartext password against one, or a
// legacy md5 hash. Anything else (no password, a plaintext) never matches.
func CheckRolePassword(stored, role, password string) bool {
	switch {
	case strings.HasPrefix(stored, "SCRAM-SHA-256$"):
		return checkSCRAM(stored, password)
	case strings.HasPrefix(stored, "md5") && len(stored) == 35:
		sum := md5.Sum([]byte(password + role))
		return subtle.ConstantTimeCompare([]byte(stored[3:]), []byte(hex.EncodeToString(sum[:]))) == 1
	}
	return false
}

// checkSCRAM parses SCRAM-SHA-256$<iter>:<salt>$<StoredKey>:<ServerKey>.
func checkSCRAM(stored, password string) bool {
	rest := strings.TrimPrefix(stored, "SCRAM-SHA-256$")
	iterSalt, keys, ok := strings.Cut(rest, "$")
	if !ok {
		return false
	}
	iterS, saltS, ok1 := strings.Cut(iterSalt, ":")
	storedS, _, ok2 := strings.Cut(keys, ":")
	if !ok1 || !ok2 {
		return false
	}
	iter, err := strconv.Atoi(iterS)
	if err != nil || iter < 1 || iter > 1_000_000 {
		return false
	}
	salt, err1 := base64.StdEncoding.DecodeString(saltS)
	storedKey, err2 := base64.StdEncoding.DecodeString(storedS)
	if err1 != nil || err2 != nil || len(storedKey) != sha256.Size {
		return false
	}
	salted, err := pbkdf2.Key(sha256.New, saslPrep(password), salt, iter, 32)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, salted)
	m.Write([]byte("Client Key"))
	got := sha256.Sum256(m.Sum(nil))
	return hmac.Equal(got[:], storedKey)
}
