package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/json"
	"sort"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/pgtest"
)

// jsonKeys returns the sorted keys of a JSON object.
func jsonKeys(t *testing.T, raw []byte) string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("not a JSON object: %s", raw)
	}
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func ecJWKS(t *testing.T) json.RawMessage {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	return b
}

// TestDataPlaneKeys_Endpoints covers the six endpoints of API.md "Browser
// data plane" (auth-config, publishable keys, service keys) against a real
// server: shapes, defaults, options, bad input, revocation, storage.
// (Which tokens may call them is in TestAuthz_Matrix.)
func TestDataPlaneKeys_Endpoints(t *testing.T) {
	t.Parallel()
	ext := pgtest.Start(t)
	s := StartServer(t, "--catalog-url", ext.ConnString(pgtest.Superuser))
	c := s.Anonymous()
	db := c.CreateDB("keys")
	base := "/customer/databases/" + db.Name

	t.Run("publishable keys", func(t *testing.T) {
		// Defaults.
		code, raw := c.Do("POST", base+"/publishable-keys", nil)
		if code != 201 {
			t.Fatalf("POST publishable-keys without a body: %d %s", code, raw)
		}
		if got := jsonKeys(t, raw); got != "allowed_origins,created_at,expires_at,exposed_schemas,exposed_tables,id,key,name,rate_limit" {
			t.Errorf("created publishable key fields: %s", got)
		}
		var k struct {
			ID, Name, Key                                 string
			AllowedOrigins, ExposedSchemas, ExposedTables []string
			RateLimit                                     *struct {
				RPS   float64
				Burst int
			} `json:"rate_limit"`
			CreatedAt time.Time  `json:"created_at"`
			ExpiresAt *time.Time `json:"expires_at"`
		}
		json.Unmarshal(raw, &k)
		var defaults map[string]json.RawMessage
		json.Unmarshal(raw, &defaults)
		if string(defaults["allowed_origins"]) != `["*"]` || string(defaults["exposed_schemas"]) != `["public"]` ||
			string(defaults["exposed_tables"]) != `[]` || string(defaults["rate_limit"]) != "null" || string(defaults["expires_at"]) != "null" {
			t.Errorf("defaults: %s", raw)
		}
		if !strings.HasPrefix(k.Key, "db9pk_") || len(k.Key) != 49 || k.ID == "" || k.Name == "" || time.Since(k.CreatedAt) > time.Minute {
			t.Errorf("created key: %s", raw)
		}

		// Every option, and an unknown field, which is ignored.
		var opt map[string]json.RawMessage
		c.MustDo("POST", base+"/publishable-keys", map[string]any{
			"name": "web", "allowed_origins": []string{"https://app.example.com", "http://localhost:3000"},
			"exposed_schemas": []string{"public", "api"}, "exposed_tables": []string{"posts", "api.items"},
			"rate_limit": map[string]any{"rps": 2.5, "burst": 10}, "expires_in_days": 7, "colour": "blue",
		}, 201, &opt)
		for field, want := range map[string]string{"name": `"web"`, "allowed_origins": `["https://app.example.com","http://localhost:3000"]`,
			"exposed_schemas": `["public","api"]`, "exposed_tables": `["posts","api.items"]`, "rate_limit": `{"rps":2.5,"burst":10}`} {
			if string(opt[field]) != want {
				t.Errorf("%s = %s, want %s", field, opt[field], want)
			}
		}
		var exp time.Time
		json.Unmarshal(opt["expires_at"], &exp)
		if d := time.Until(exp); d < 6*24*time.Hour || d > 8*24*time.Hour {
			t.Errorf("expires_in_days 7: expires_at %s", opt["expires_at"])
		}

		// The list: newest first, no secret, last_used_at.
		var list []json.RawMessage
		c.MustDo("GET", base+"/publishable-keys", nil, 200, &list)
		if len(list) != 2 {
			t.Fatalf("list has %d keys: %s", len(list), list)
		}
		if got := jsonKeys(t, list[0]); got != "allowed_origins,created_at,expires_at,exposed_schemas,exposed_tables,id,last_used_at,name,rate_limit" {
			t.Errorf("listed publishable key fields: %s", got)
		}
		var first struct{ ID string }
		json.Unmarshal(list[1], &first)
		if first.ID != k.ID {
			t.Errorf("list is not newest first: %s", list)
		}

		// Revoke: gone from the list, a second revoke is 404.
		var msg map[string]string
		c.MustDo("DELETE", base+"/publishable-keys/"+k.ID, nil, 200, &msg)
		if msg["message"] == "" {
			t.Errorf("DELETE answer: %v", msg)
		}
		c.MustDo("GET", base+"/publishable-keys", nil, 200, &list)
		if len(list) != 1 || strings.Contains(string(list[0]), k.ID) {
			t.Errorf("after revoke: %s", list)
		}
		checkErrorResponse(t, "revoke twice", raw2(t, s, c, "DELETE", base+"/publishable-keys/"+k.ID, ""), 404, "not_found", "")

		// The key is stored as its SHA-256 only; the revoke is recorded.
		sum := sha256.Sum256([]byte(k.Key))
		var n int
		var revoked bool
		catalogQuery(t, ext, `SELECT count(*), bool_and(revoked_at IS NOT NULL) FROM data_keys WHERE key_hash = $1`, []any{sum[:]}, &n, &revoked)
		if n != 1 || !revoked {
			t.Errorf("catalog rows with the key's hash: %d (revoked %v), want 1 revoked", n, revoked)
		}
		catalogQuery(t, ext, `SELECT count(*) FROM data_keys d WHERE strpos(row_to_json(d)::text, $1) > 0`, []any{k.Key[6:]}, &n)
		if n != 0 {
			t.Errorf("the key's secret appears in the catalog")
		}
	})

	t.Run("service keys", func(t *testing.T) {
		code, raw := c.Do("POST", base+"/service-keys", map[string]any{"name": "backend", "expires_in_days": 30, "allowed_origins": []string{"x"}})
		if code != 201 {
			t.Fatalf("POST service-keys: %d %s", code, raw)
		}
		if got := jsonKeys(t, raw); got != "created_at,expires_at,id,key,name" {
			t.Errorf("created service key fields: %s", got)
		}
		var k struct{ ID, Name, Key string }
		json.Unmarshal(raw, &k)
		if !strings.HasPrefix(k.Key, "db9sk_") || k.Name != "backend" {
			t.Errorf("created service key: %s", raw)
		}
		var list []json.RawMessage
		c.MustDo("GET", base+"/service-keys", nil, 200, &list)
		if len(list) != 1 || jsonKeys(t, list[0]) != "created_at,expires_at,id,last_used_at,name" {
			t.Fatalf("service key list: %s", list)
		}
		// The kinds are apart: a service key is not a publishable key.
		checkErrorResponse(t, "revoke a service key as publishable", raw2(t, s, c, "DELETE", base+"/publishable-keys/"+k.ID, ""), 404, "not_found", "")
		c.MustDo("DELETE", base+"/service-keys/"+k.ID, nil, 200, nil)
		c.MustDo("GET", base+"/service-keys", nil, 200, &list)
		if len(list) != 0 {
			t.Errorf("after revoke: %s", list)
		}
	})

	t.Run("bad key requests", func(t *testing.T) {
		for _, b := range []string{
			`[]`, `"x"`, `{"name": 5}`, `{"name": ""}`, `{"expires_in_days": "7"}`, `{"expires_in_days": 1.5}`, `{"expires_in_days": 0}`,
			`{"allowed_origins": "*"}`, `{"allowed_origins": [1]}`, `{"allowed_origins": ["example.com"]}`,
			`{"exposed_schemas": []}`, `{"exposed_schemas": ["pg_catalog"]}`, `{"exposed_schemas": ["_db9"]}`,
			`{"exposed_tables": ["other.t"]}`, `{"exposed_tables": {"t": 1}}`,
			`{"rate_limit": {"rps": 1}}`, `{"rate_limit": {"rps": "1", "burst": 1}}`, `{"rate_limit": {"rps": 0, "burst": 1}}`,
			`{"rate_limit": {"rps": 1, "burst": 0.5}}`, `{"rate_limit": 10}`,
		} {
			checkErrorResponse(t, "POST publishable-keys "+b, raw2(t, s, c, "POST", base+"/publishable-keys", b), 400, "invalid_request", "")
		}
		for _, b := range []string{`{"name": []}`, `{"expires_in_days": -1}`, `{"expires_in_days": 99999}`} {
			checkErrorResponse(t, "POST service-keys "+b, raw2(t, s, c, "POST", base+"/service-keys", b), 400, "invalid_request", "")
		}
		// A wrong type is a 400 that names the field.
		checkErrorResponse(t, "wrong type", raw2(t, s, c, "POST", base+"/publishable-keys", `{"allowed_origins": "*"}`), 400, "invalid_request", "allowed_origins")
	})

	t.Run("auth-config", func(t *testing.T) {
		code, raw := c.Do("GET", base+"/auth-config", nil)
		if code != 200 || string(raw) != `{"auth_mode":"none","byo_jwt":null,"updated_at":null}`+"\n" {
			t.Fatalf("never configured: %d %s", code, raw)
		}
		jwks := ecJWKS(t)
		var put map[string]json.RawMessage
		c.MustDo("PUT", base+"/auth-config", map[string]any{"auth_mode": "byo_jwt", "extra": true,
			"byo_jwt": map[string]any{"jwks": jwks, "issuer": "https://idp.example.com", "audience": "app"}}, 200, &put)
		if string(put["auth_mode"]) != `"byo_jwt"` || string(put["updated_at"]) == "null" {
			t.Errorf("PUT answer: %v", put)
		}
		var byo map[string]json.RawMessage
		json.Unmarshal(put["byo_jwt"], &byo)
		for field, want := range map[string]string{"issuer": `"https://idp.example.com"`, "audience": `"app"`, "jwks_url": "null",
			"algorithms": `["RS256","ES256"]`, "role_claim": `"role"`, "default_role": `"authenticated"`, "claims_allowlist": `[]`} {
			if string(byo[field]) != want {
				t.Errorf("byo_jwt.%s = %s, want %s", field, byo[field], want)
			}
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(byo["jwks"], &set); err != nil || len(set.Keys) != 1 {
			t.Errorf("byo_jwt.jwks = %s", byo["jwks"])
		}
		var got map[string]json.RawMessage
		c.MustDo("GET", base+"/auth-config", nil, 200, &got)
		if string(got["byo_jwt"]) != string(put["byo_jwt"]) || string(got["updated_at"]) != string(put["updated_at"]) {
			t.Errorf("GET after PUT: %v, want %v", got, put)
		}
		// Everything optional, set.
		c.MustDo("PUT", base+"/auth-config", map[string]any{"auth_mode": "byo_jwt", "byo_jwt": map[string]any{
			"jwks": jwks, "issuer": "i", "algorithms": []string{"ES256", "EdDSA"}, "role_claim": "app_metadata.role",
			"default_role": "member", "claims_allowlist": []string{"sub", "email"}}}, 200, &put)
		json.Unmarshal(put["byo_jwt"], &byo)
		if string(byo["algorithms"]) != `["ES256","EdDSA"]` || string(byo["role_claim"]) != `"app_metadata.role"` ||
			string(byo["default_role"]) != `"member"` || string(byo["claims_allowlist"]) != `["sub","email"]` || string(byo["audience"]) != "null" {
			t.Errorf("options: %s", put["byo_jwt"])
		}

		byoJSON := func(m map[string]any) string {
			b, _ := json.Marshal(map[string]any{"auth_mode": "byo_jwt", "byo_jwt": m})
			return string(b)
		}
		bad400 := []string{
			``, `[]`, `{}`, `{"auth_mode": 5}`, `{"auth_mode": "jwt"}`, `{"auth_mode": "byo_jwt"}`, `{"auth_mode": "byo_jwt", "byo_jwt": null}`,
			`{"auth_mode": "byo_jwt", "byo_jwt": "x"}`, `{"auth_mode": "none", "byo_jwt": {"issuer": "i"}}`,
			byoJSON(map[string]any{"jwks": jwks}),  // no issuer
			byoJSON(map[string]any{"issuer": "i"}), // no keys
			byoJSON(map[string]any{"jwks": jwks, "jwks_url": "https://idp.example.com/jwks", "issuer": "i"}),
			byoJSON(map[string]any{"jwks": jwks, "issuer": "i", "algorithms": []string{"HS256"}}),
			byoJSON(map[string]any{"jwks": jwks, "issuer": "i", "algorithms": []string{"none"}}),
			byoJSON(map[string]any{"jwks": jwks, "issuer": "i", "algorithms": []string{"ES256", "HS512"}}),
			byoJSON(map[string]any{"jwks": jwks, "issuer": "i", "algorithms": "ES256"}),
			byoJSON(map[string]any{"jwks": map[string]any{"keys": []any{}}, "issuer": "i"}),
			byoJSON(map[string]any{"jwks_url": "http://idp.example.com/jwks", "issuer": "i"}),
			byoJSON(map[string]any{"jwks_url": "not a url", "issuer": "i"}),
			byoJSON(map[string]any{"jwks": jwks, "issuer": "i", "default_role": "admin"}),
			byoJSON(map[string]any{"jwks": jwks, "issuer": 7}),
		}
		for _, b := range bad400 {
			checkErrorResponse(t, "PUT auth-config "+b, raw2(t, s, c, "PUT", base+"/auth-config", b), 400, "invalid_request", "")
		}
		for _, u := range []string{"https://127.0.0.1/jwks", "https://10.1.2.3/jwks", "https://169.254.169.254/latest", "https://[::1]:8443/jwks",
			"https://localhost/jwks"} {
			checkErrorResponse(t, "private jwks_url "+u, raw2(t, s, c, "PUT", base+"/auth-config", byoJSON(map[string]any{"jwks_url": u, "issuer": "i"})),
				422, "unprocessable", "--allow-private-jwks")
		}
		// None of the refused PUTs changed the config.
		c.MustDo("GET", base+"/auth-config", nil, 200, &got)
		if string(got["byo_jwt"]) != string(put["byo_jwt"]) {
			t.Errorf("a refused PUT changed the config: %s", got["byo_jwt"])
		}
		// Back to none.
		c.MustDo("PUT", base+"/auth-config", map[string]any{"auth_mode": "none", "byo_jwt": nil}, 200, &got)
		if string(got["auth_mode"]) != `"none"` || string(got["byo_jwt"]) != "null" || string(got["updated_at"]) == "null" {
			t.Errorf("PUT none: %v", got)
		}
	})

	t.Run("deleted database", func(t *testing.T) {
		gone := c.CreateDB("gone")
		c.MustDo("POST", "/customer/databases/"+gone.ID+"/publishable-keys", nil, 201, nil)
		c.MustDo("DELETE", "/customer/databases/"+gone.ID, nil, 200, nil)
		for _, p := range []string{"publishable-keys", "service-keys", "auth-config"} {
			checkErrorResponse(t, "GET "+p+" of a deleted database", raw2(t, s, c, "GET", "/customer/databases/"+gone.ID+"/"+p, ""), 404, "not_found", "")
		}
	})
}

// TestDataPlaneKeys_AllowPrivateJWKS: with --allow-private-jwks an
// auth-config may name an identity provider on a private address.
func TestDataPlaneKeys_AllowPrivateJWKS(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "--allow-private-jwks")
	c := s.Anonymous()
	db := c.CreateDB("selfhosted")
	var got struct {
		BYOJWT struct {
			JWKSURL string `json:"jwks_url"`
		} `json:"byo_jwt"`
	}
	c.MustDo("PUT", "/customer/databases/"+db.ID+"/auth-config", map[string]any{"auth_mode": "byo_jwt",
		"byo_jwt": map[string]any{"jwks_url": "https://10.1.2.3:8443/.well-known/jwks.json", "issuer": "https://idp.internal"}}, 200, &got)
	if got.BYOJWT.JWKSURL != "https://10.1.2.3:8443/.well-known/jwks.json" {
		t.Errorf("stored jwks_url = %q", got.BYOJWT.JWKSURL)
	}
	// Still https only, and still validated.
	code, body := c.Do("PUT", "/customer/databases/"+db.ID+"/auth-config", map[string]any{"auth_mode": "byo_jwt",
		"byo_jwt": map[string]any{"jwks_url": "http://10.1.2.3/jwks", "issuer": "i"}})
	if code != 400 {
		t.Errorf("http jwks_url: %d %s, want 400", code, body)
	}
}

// raw2 sends a raw body with the client's token.
func raw2(t *testing.T, s *Server, c *Client, method, path, body string) rawResponse {
	t.Helper()
	r, err := rawAPICall(s, method, path, "Bearer "+c.Token, body)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// catalogQuery reads one row from the external catalog of a test server.
func catalogQuery(t *testing.T, ext *pgtest.Cluster, sql string, args []any, dst ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ext.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if err := conn.QueryRow(ctx, sql, args...).Scan(dst...); err != nil {
		t.Fatalf("catalog %q: %v", sql, err)
	}
}
