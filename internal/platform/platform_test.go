package platform

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"
)

func TestNewID_Shape(t *testing.T) {
	for _, n := range []int{1, 6, DatabaseIDLen, 40} {
		id := NewID(n)
		if len(id) != n || strings.Trim(id, idAlphabet) != "" {
			t.Errorf("NewID(%d) = %q, want %d characters of [a-z0-9]", n, id, n)
		}
	}
	if id := NewID(DatabaseIDLen); !looksLikeDatabaseID(id) {
		t.Errorf("NewID(DatabaseIDLen) = %q does not look like a database id", id)
	}
}

func TestNewID_Unique(t *testing.T) {
	seen := map[string]bool{}
	for i := 0; i < 10000; i++ {
		id := NewID(DatabaseIDLen)
		if seen[id] {
			t.Fatalf("NewID repeated %q after %d ids", id, i)
		}
		seen[id] = true
	}
}

// TestNewID_UsesWholeAlphabet guards against a biased or truncated
// alphabet: every character appears, and none dominates.
func TestNewID_UsesWholeAlphabet(t *testing.T) {
	counts := map[rune]int{}
	const n = 36 * 1000
	for _, c := range NewID(n) {
		counts[c]++
	}
	if len(counts) != len(idAlphabet) {
		t.Fatalf("NewID used %d distinct characters, want %d", len(counts), len(idAlphabet))
	}
	for c, k := range counts {
		if k < 700 || k > 1300 { // expected 1000; far outside is a bias
			t.Errorf("character %q appeared %d times in %d, want about 1000", c, k, n)
		}
	}
}

func TestValidDatabaseName(t *testing.T) {
	tests := []struct {
		name string
		want bool
	}{
		{"a", true},
		{"7", true},
		{"my-db", true},
		{"db-1-2-3", true},
		{"0abc", true},
		{"a-", true}, // API.md constrains only the first character
		{strings.Repeat("a", 63), true},
		{"1" + strings.Repeat("-", 62), true},
		{"", false},
		{strings.Repeat("a", 64), false},
		{"-db", false},
		{"My-DB", false},
		{"db_1", false},
		{"db.1", false},
		{"db 1", false},
		{"db/1", false},
		{"dé", false},
		{"db\n", false},
		{"\ndb", false},
		{"a\x00", false},
	}
	for _, tt := range tests {
		if got := ValidDatabaseName(tt.name); got != tt.want {
			t.Errorf("ValidDatabaseName(%q) = %v, want %v", tt.name, got, tt.want)
		}
	}
}

func TestLooksLikeDatabaseID(t *testing.T) {
	tests := []struct {
		s    string
		want bool
	}{
		{"abcdefghij12", true},
		{"abcdefghij1", false},
		{"abcdefghij123", false},
		{"abcdefghij-1", false},
		{"ABCDEFGHIJ12", false},
		{"abcdefghij12\n", false},
	}
	for _, tt := range tests {
		if got := looksLikeDatabaseID(tt.s); got != tt.want {
			t.Errorf("looksLikeDatabaseID(%q) = %v, want %v", tt.s, got, tt.want)
		}
	}
}

var uuidV4RE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestNewUUID_Version4(t *testing.T) {
	seen := map[string]bool{}
	variants := map[byte]bool{}
	for i := 0; i < 2000; i++ {
		u := NewUUID()
		if !uuidV4RE.MatchString(u) {
			t.Fatalf("NewUUID = %q, not a lower-case version 4 UUID", u)
		}
		if seen[u] {
			t.Fatalf("NewUUID repeated %q", u)
		}
		seen[u] = true
		variants[u[19]] = true
	}
	// The random bits around the fixed ones still vary.
	if len(variants) != 4 {
		t.Errorf("variant nibble took values %v, want all of 8, 9, a, b", variants)
	}
}

func TestErrorCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"Direct", Errorf(CodeConflict, "x"), CodeConflict},
		{"Wrapped", fmt.Errorf("create database: %w", NotFound("database")), CodeNotFound},
		{"Plain", errors.New("boom"), CodeInternal},
		{"Nil", nil, CodeInternal},
	}
	for _, tt := range tests {
		if got := ErrorCode(tt.err); got != tt.want {
			t.Errorf("%s: ErrorCode = %q, want %q", tt.name, got, tt.want)
		}
	}
}

func TestError_Unwrap(t *testing.T) {
	cause := errors.New("disk full")
	e := Wrap(CodeUnavailable, cause, "try again")
	if !errors.Is(e, cause) {
		t.Error("Wrap does not unwrap to its cause")
	}
	if e.Message != "try again" || strings.Contains(e.Message, "disk") {
		t.Errorf("public message = %q", e.Message)
	}
	if got := NotFound("database").Message; got != "database not found" {
		t.Errorf("NotFound message = %q", got)
	}
}

func TestAllCodes_Unique(t *testing.T) {
	seen := map[Code]bool{}
	snake := regexp.MustCompile(`^[a-z]+(_[a-z]+)*$`)
	for _, c := range AllCodes {
		if seen[c] {
			t.Errorf("code %q listed twice", c)
		}
		seen[c] = true
		if !snake.MatchString(string(c)) {
			t.Errorf("code %q is not snake_case", c)
		}
	}
}

// FuzzDatabaseNameRules: the loops accept exactly what the rules of API.md,
// as regular expressions, accept.
func FuzzDatabaseNameRules(f *testing.F) {
	nameRE := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{0,62}$`)
	idRE := regexp.MustCompile(`^[a-z0-9]{12}$`)
	for _, s := range []string{"", "a", "-a", "a-", "abcdefghij12", "abcdefghij1-", strings.Repeat("a", 63), strings.Repeat("a", 64), "dé", "a\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := ValidDatabaseName(s), nameRE.MatchString(s); got != want {
			t.Fatalf("ValidDatabaseName(%q) = %v, want %v", s, got, want)
		}
		if got, want := looksLikeDatabaseID(s), idRE.MatchString(s); got != want {
			t.Fatalf("looksLikeDatabaseID(%q) = %v, want %v", s, got, want)
		}
	})
}
