package jwtverify

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/platform"
)

func TestParseConfig_Defaults(t *testing.T) {
	c, err := ParseConfig([]byte(`{"jwks_url":"https://idp.example.com/.well-known/jwks.json","issuer":"https://idp.example.com/"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := Config{JWKSURL: "https://idp.example.com/.well-known/jwks.json", Issuer: "https://idp.example.com/",
		Algorithms: []string{"RS256", "ES256"}, RoleClaim: "role", DefaultRole: "authenticated", ClaimsAllowlist: []string{}}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

func TestParseConfig_Invalid(t *testing.T) {
	p := newIdP(t)
	jwks := string(p.jwks())
	const base = `"issuer":"https://i.example/"`
	cases := map[string]string{
		"alg none":             `{"jwks_url":"https://i.example/k",` + base + `,"algorithms":["none"]}`,
		"alg HS256":            `{"jwks_url":"https://i.example/k",` + base + `,"algorithms":["RS256","HS256"]}`,
		"alg hs512":            `{"jwks_url":"https://i.example/k",` + base + `,"algorithms":["hs512"]}`,
		"alg PS256":            `{"jwks_url":"https://i.example/k",` + base + `,"algorithms":["PS256"]}`,
		"both sources":         `{"jwks_url":"https://i.example/k","jwks":` + jwks + `,` + base + `}`,
		"no source":            `{` + base + `}`,
		"jwks null":            `{"jwks":null,` + base + `}`,
		"no issuer":            `{"jwks_url":"https://i.example/k"}`,
		"ftp url":              `{"jwks_url":"ftp://i.example/k",` + base + `}`,
		"relative url":         `{"jwks_url":"/k",` + base + `}`,
		"userinfo":             `{"jwks_url":"https://u:p@i.example/k",` + base + `}`,
		"jwks not a set":       `{"jwks":{"kty":"RSA"},` + base + `}`,
		"jwks empty":           `{"jwks":{"keys":[]},` + base + `}`,
		"jwks symmetric":       `{"jwks":{"keys":[{"kty":"oct","k":"c2VjcmV0"}]},` + base + `}`,
		"jwks private":         `{"jwks":` + privateJWKS(t, p) + `,` + base + `}`,
		"role_claim empty seg": `{"jwks_url":"https://i.example/k",` + base + `,"role_claim":"a..b"}`,
		"default_role admin":   `{"jwks_url":"https://i.example/k",` + base + `,"default_role":"admin"}`,
		"default_role pg_":     `{"jwks_url":"https://i.example/k",` + base + `,"default_role":"pg_monitor"}`,
		"unknown field":        `{"jwks_url":"https://i.example/k",` + base + `,"secret":"x"}`,
		"wrong type":           `{"jwks_url":"https://i.example/k",` + base + `,"algorithms":"RS256"}`,
		"trailing":             `{"jwks_url":"https://i.example/k",` + base + `} {}`,
		"not json":             `nope`,
		"empty allowlist name": `{"jwks_url":"https://i.example/k",` + base + `,"claims_allowlist":[""]}`,
	}
	for name, doc := range cases {
		_, err := ParseConfig([]byte(doc))
		if platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("%s: %v, want CodeInvalid", name, err)
			continue
		}
		t.Logf("%s: %v", name, err)
	}
	if _, err := ParseConfig([]byte(`{"jwks":` + jwks + `,` + base + `,"algorithms":["EdDSA","ES384","RS512"],"role_claim":"app_metadata.role","claims_allowlist":["sub"]}`)); err != nil {
		t.Errorf("valid inline config: %v", err)
	}
}

// privateJWKS is the JWK Set of the private RSA key, as a careless tenant
// might paste it.
func privateJWKS(tb testing.TB, p *testIdP) string {
	b, err := json.Marshal(map[string]any{"keys": []any{jsonWebKey(p.keys["rsa1"], "rsa1")}})
	if err != nil {
		tb.Fatal(err)
	}
	return string(b)
}

func FuzzParseConfig(f *testing.F) {
	for _, s := range []string{
		`{"jwks_url":"https://i.example/k","issuer":"i"}`,
		`{"jwks":{"keys":[{"kty":"EC","crv":"P-256","x":"AAAA","y":"AAAA"}]},"issuer":"i","algorithms":["ES256"]}`,
		`{"jwks_url":"https://i.example/k","issuer":"i","role_claim":"a.b","claims_allowlist":["x"],"default_role":"r"}`,
		`{"algorithms":["none"]}`, `null`, `[]`, `{"jwks":null}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := ParseConfig(data)
		if err != nil {
			if platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("error %v is not CodeInvalid", err)
			}
			return
		}
		// What parses makes a verifier and survives a round trip.
		if _, err := New(c, NewKeyCache(KeyCacheConfig{})); err != nil {
			t.Fatalf("New(%+v): %v", c, err)
		}
		c2, err := ParseConfig(mustJSON(c))
		if err != nil {
			t.Fatalf("round trip of %s: %v", mustJSON(c), err)
		}
		if diff := cmp.Diff(mustJSON(c), mustJSON(c2)); diff != "" {
			t.Fatalf("round trip changed the config:\n%s", diff)
		}
		for _, a := range c.Algorithms {
			if strings.HasPrefix(strings.ToUpper(a), "HS") || strings.EqualFold(a, "none") {
				t.Fatalf("accepted algorithm %q", a)
			}
		}
	})
}

func TestCheckRoleName(t *testing.T) {
	for _, r := range []string{"admin", "service_role", "postgres", "_db9_sys_readonly", "_db9", "pg_monitor", "", strings.Repeat("r", 64), "a\x00b"} {
		if CheckRoleName(r) == nil {
			t.Errorf("CheckRoleName(%q) accepted", r)
		}
	}
	for _, r := range []string{"authenticated", "anon", "editor", "Admin", "db9_reader"} {
		if err := CheckRoleName(r); err != nil {
			t.Errorf("CheckRoleName(%q) = %v", r, err)
		}
	}
}

// TestCheckRole runs against a real PostgreSQL: the role list decides.
func TestCheckRole(t *testing.T) {
	c := pgtest.Start(t)
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, `CREATE ROLE authenticated NOLOGIN; CREATE ROLE editor NOLOGIN;
		CREATE ROLE boss SUPERUSER; CREATE ROLE rls_skipper BYPASSRLS; CREATE ROLE repl REPLICATION;
		CREATE ROLE admin LOGIN; CREATE ROLE service_role BYPASSRLS; CREATE ROLE _db9_sys_readonly`)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"authenticated", "editor"} {
		if err := CheckRole(ctx, conn, r); err != nil {
			t.Errorf("CheckRole(%s) = %v", r, err)
		}
	}
	for _, r := range []string{"boss", "rls_skipper", "repl", "admin", "service_role", "_db9_sys_readonly", "postgres", "pg_monitor", "nobody"} {
		if err := CheckRole(ctx, conn, r); !errors.Is(err, ErrRoleRefused) {
			t.Errorf("CheckRole(%s) = %v, want ErrRoleRefused", r, err)
		}
	}
	rows, err := conn.Query(ctx, ClaimableRolesSQL+` AND rolname NOT LIKE 'pg%' ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"authenticated", "editor"}, got); diff != "" {
		t.Errorf("claimable roles (-want +got):\n%s", diff)
	}
}
