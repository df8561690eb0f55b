package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/db9/db9/internal/client"
)

func TestCLI_DataPlaneKeysAndAuthConfig(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "web")

	// Keys: the secret shown once with a hint, then listed without it.
	out, errOut, code := u.run("", "db", "keys", "create", "web", "--publishable", "--name", "site", "--origin", "https://app.example.com",
		"--schema", "public", "--schema", "api", "--table", "posts", "--rate-limit", "5:10")
	if code != 0 || !strings.Contains(out, "db9pk_") || !strings.Contains(errOut, "only time the key is shown") {
		t.Fatalf("keys create --publishable: exit %d\n%s\n%s", code, out, errOut)
	}
	var pk client.DataKey
	u.okJSON(&pk, "db", "keys", "create", "web", "--publishable", "--expires-in-days", "30")
	if !strings.HasPrefix(pk.Key, "db9pk_") || pk.ExpiresAt == nil || len(pk.AllowedOrigins) != 1 || pk.AllowedOrigins[0] != "*" ||
		len(pk.ExposedSchemas) != 1 || pk.ExposedSchemas[0] != "public" || pk.RateLimit != nil {
		t.Errorf("keys create --json with defaults: %+v", pk)
	}
	var sk client.DataKey
	u.okJSON(&sk, "db", "keys", "create", "web", "--service", "--name", "backend")
	if !strings.HasPrefix(sk.Key, "db9sk_") || sk.Name != "backend" {
		t.Errorf("keys create --service: %+v", sk)
	}
	if q := u.ok("db", "keys", "create", "web", "--service", "--quiet"); !strings.HasPrefix(q, "db9sk_") || strings.Count(q, "\n") != 1 {
		t.Errorf("keys create --quiet printed %q, want the key alone", q)
	}

	var listed []struct {
		Kind string `json:"kind"`
		client.DataKey
	}
	u.okJSON(&listed, "db", "keys", "list", "web")
	if len(listed) != 4 {
		t.Fatalf("keys list: %d keys: %+v", len(listed), listed)
	}
	kinds := map[string]int{}
	for _, k := range listed {
		kinds[k.Kind]++
		if k.Key != "" {
			t.Errorf("keys list shows a secret: %+v", k)
		}
	}
	if kinds["publishable"] != 2 || kinds["service"] != 2 {
		t.Errorf("keys list kinds: %v", kinds)
	}
	u.okJSON(&listed, "db", "keys", "list", "web", "--service")
	if len(listed) != 2 {
		t.Errorf("keys list --service: %+v", listed)
	}
	if table := u.ok("db", "keys", "list", "web"); !strings.Contains(table, "https://app.example.com") || !strings.Contains(table, "5/s, burst 10") ||
		!strings.Contains(table, "public,api posts") {
		t.Errorf("keys list table:\n%s", table)
	}

	// Revoke: with the right kind only.
	if line := u.fails("", "db", "keys", "revoke", "web", sk.ID, "--publishable"); !strings.Contains(line, "no publishable key with id") {
		t.Errorf("revoke with the wrong kind: %s", line)
	}
	u.ok("db", "keys", "revoke", "web", sk.ID, "--service")
	u.okJSON(&listed, "db", "keys", "list", "web", "--service")
	if len(listed) != 1 {
		t.Errorf("after revoke: %+v", listed)
	}
	// Usage errors.
	for _, args := range [][]string{
		{"db", "keys", "create", "web"},
		{"db", "keys", "create", "web", "--publishable", "--service"},
		{"db", "keys", "create", "web", "--service", "--origin", "https://x.example"},
		{"db", "keys", "create", "web", "--publishable", "--rate-limit", "fast"},
		{"db", "keys", "create", "web", "--publishable", "--schema", "pg_catalog"},
		{"db", "keys", "revoke", "web", pk.ID},
		{"db", "keys", "list", "nosuchdb"},
	} {
		u.fails("", args...)
	}

	// auth-config: none until set; set from flags or a JWKS file; back to none.
	var cfg client.AuthConfig
	u.okJSON(&cfg, "db", "auth-config", "get", "web")
	if cfg.AuthMode != "none" || cfg.BYOJWT != nil || cfg.UpdatedAt != nil {
		t.Errorf("auth-config get before set: %+v", cfg)
	}
	jwksFile := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(jwksFile, ecJWKS(t), 0o600); err != nil {
		t.Fatal(err)
	}
	u.okJSON(&cfg, "db", "auth-config", "set", "web", "--jwks-file", jwksFile, "--issuer", "https://auth.example.com",
		"--audience", "web", "--algorithms", "ES256", "--role-claim", "app_metadata.role", "--default-role", "member",
		"--claims-allowlist", "sub,email")
	b := cfg.BYOJWT
	if cfg.AuthMode != "byo_jwt" || b == nil || b.Issuer != "https://auth.example.com" || b.Audience != "web" || len(b.JWKS) == 0 ||
		strings.Join(b.Algorithms, ",") != "ES256" || b.RoleClaim != "app_metadata.role" || b.DefaultRole != "member" ||
		strings.Join(b.ClaimsAllowlist, ",") != "sub,email" {
		t.Errorf("auth-config set: %+v %+v", cfg, b)
	}
	if text := u.ok("db", "auth-config", "get", "web"); !strings.Contains(text, "inline JWK Set") || !strings.Contains(text, "app_metadata.role") {
		t.Errorf("auth-config get:\n%s", text)
	}
	for _, args := range [][]string{
		{"db", "auth-config", "set", "web"},
		{"db", "auth-config", "set", "web", "--issuer", "i"},
		{"db", "auth-config", "set", "web", "--jwks-file", jwksFile},
		{"db", "auth-config", "set", "web", "--jwks-file", jwksFile, "--issuer", "i", "--algorithms", "HS256"},
		{"db", "auth-config", "set", "web", "--jwks-url", "https://127.0.0.1/jwks", "--issuer", "i"},
		{"db", "auth-config", "set", "web", "--mode", "none", "--issuer", "i"},
		{"db", "auth-config", "set", "web", "--mode", "sometimes"},
	} {
		u.fails("", args...)
	}
	u.okJSON(&cfg, "db", "auth-config", "set", "web", "--mode", "none")
	if cfg.AuthMode != "none" || cfg.BYOJWT != nil || cfg.UpdatedAt == nil {
		t.Errorf("auth-config set --mode none: %+v", cfg)
	}
}
