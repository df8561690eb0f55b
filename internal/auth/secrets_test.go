package auth

import (
	"strings"
	"testing"
)

func TestSealer_RoundTrip(t *testing.T) {
	dir := t.TempDir()
	s, err := LoadOrCreateMasterKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	sealed := s.Seal("s3cret")
	if strings.Contains(string(sealed), "s3cret") {
		t.Fatal("plaintext visible in sealed secret")
	}
	s2, err := LoadOrCreateMasterKey(dir) // same key read back
	if err != nil {
		t.Fatal(err)
	}
	got, err := s2.Open(sealed)
	if err != nil || got != "s3cret" {
		t.Fatalf("Open = %q, %v", got, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := s2.Open(sealed); err == nil {
		t.Fatal("tampered secret opened")
	}
}

func TestNewAPIToken_Shape(t *testing.T) {
	tok := NewAPIToken()
	if len(tok) != 128 || strings.Trim(tok, "0123456789abcdef") != "" {
		t.Fatalf("token %q is not 128 hex characters", tok)
	}
	if NewAPIToken() == tok {
		t.Fatal("tokens repeat")
	}
}
