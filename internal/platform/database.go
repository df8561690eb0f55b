package platform

import (
	"crypto/rand"
	"time"
)

// DatabaseState is the lifecycle state of a customer database. It is
// separate from whether its instance is running: a stopped database is ACTIVE.
type DatabaseState string

// Database states, as in API.md.
const (
	StateCreating     DatabaseState = "CREATING"
	StateActive       DatabaseState = "ACTIVE"
	StateCloning      DatabaseState = "CLONING"
	StateDisabling    DatabaseState = "DISABLING"
	StateDisabled     DatabaseState = "DISABLED"
	StateCreateFailed DatabaseState = "CREATE_FAILED"
)

// Database is a customer database as the catalog records it.
type Database struct {
	ID               string
	CustomerID       string
	Name             string
	State            DatabaseState
	StateReason      string
	Region           string
	CreatedAt        time.Time
	ParentDatabaseID string
	SnapshotAt       *time.Time
}

// Customer is an account.
type Customer struct {
	ID          string
	Email       string
	IsAnonymous bool
	CreatedAt   time.Time
}

const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

// NewID returns a random id of n characters from [a-z0-9]; database ids use 12.
func NewID(n int) string {
	return RandomString(n, idAlphabet)
}

// RandomString returns n characters drawn uniformly from alphabet with crypto/rand.
func RandomString(n int, alphabet string) string {
	out := make([]byte, n)
	buf := make([]byte, n*2)
	limit := 256 - 256%len(alphabet)
	for i := 0; i < n; {
		if _, err := rand.Read(buf); err != nil {
			panic(err) // crypto/rand never fails on Linux
		}
		for _, b := range buf {
			if int(b) < limit && i < n {
				out[i] = alphabet[int(b)%len(alphabet)]
				i++
			}
		}
	}
	return string(out)
}

// DatabaseIDLen is the length of database ids.
const DatabaseIDLen = 12

// ValidDatabaseName reports whether s follows the name rules of API.md:
// 1 to 63 of a-z, 0-9 and '-', not starting with '-'. It is on the path of
// every database call, so it is a loop rather than a regular expression.
func ValidDatabaseName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !lowerAlnum(c) && c != '-' {
			return false
		}
	}
	return true
}

// looksLikeDatabaseID reports whether s has the shape of a database id:
// DatabaseIDLen of a-z and 0-9.
func looksLikeDatabaseID(s string) bool {
	if len(s) != DatabaseIDLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !lowerAlnum(s[i]) {
			return false
		}
	}
	return true
}

func lowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// NewUUID returns a random (version 4) UUID string, used for customer ids.
func NewUUID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&0xf])
	}
	return string(out)
}
