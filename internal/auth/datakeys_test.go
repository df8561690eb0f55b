package auth

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
)

func TestDataKeys(t *testing.T) {
	seen := map[string]bool{}
	for range 100 {
		for _, tc := range []struct {
			key  string
			kind KeyKind
		}{{NewPublishableKey(), PublishableKey}, {NewServiceKey(), ServiceKey}} {
			if seen[tc.key] {
				t.Fatalf("key repeated: %s", tc.key)
			}
			seen[tc.key] = true
			kind, err := ParseDataKey(tc.key)
			if err != nil || kind != tc.kind {
				t.Fatalf("ParseDataKey(%s) = %v, %v; want %v", tc.key, kind, err, tc.kind)
			}
			if len(tc.key) != 6+43 {
				t.Fatalf("key %s has length %d", tc.key, len(tc.key))
			}
		}
	}
	pk := NewPublishableKey()
	if h := sha256.Sum256([]byte(pk)); !bytes.Equal(HashDataKey(pk), h[:]) {
		t.Fatal("HashDataKey is not SHA-256")
	}
	for _, bad := range []string{"", "db9pk_", "db9sk_short", pk + "x", pk[:len(pk)-1], strings.Replace(pk, pk[10:11], "-", 1),
		"db9xk_" + pk[6:], "DB9PK_" + pk[6:], NewAPIToken(), "db9pk_" + strings.Repeat("é", 21) + "a"} {
		if _, err := ParseDataKey(bad); !errors.Is(err, ErrMalformedKey) {
			t.Errorf("ParseDataKey(%q) = %v, want ErrMalformedKey", bad, err)
		}
	}
}

func FuzzParseDataKey(f *testing.F) {
	f.Add(NewPublishableKey())
	f.Add(NewServiceKey())
	f.Add("db9pk_")
	f.Fuzz(func(t *testing.T, s string) {
		kind, err := ParseDataKey(s)
		if err == nil && (len(s) != 49 || (kind == PublishableKey) != strings.HasPrefix(s, "db9pk_")) {
			t.Fatalf("accepted %q as %v", s, kind)
		}
	})
}
