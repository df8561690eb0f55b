package dataapi

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestHandler_RequestSettings checks what a request's SQL sees of the
// setup statement (role, claims, per-claim settings, method, path, headers,
// search_path, read-only for GET) and that none of it outlives the
// request's transaction on the pooled connection.
func TestHandler_RequestSettings(t *testing.T) {
	e := mustOpenEnv(t)
	ctx := context.Background()
	// A STABLE function runs read-only even through POST (PostgREST's
	// rule); the VOLATILE one is called through POST only.
	const fn = `RETURNS json LANGUAGE sql %s AS $$
	  SELECT json_build_object('role', current_user, 'claims', current_setting('request.jwt.claims', true),
	    'sub', current_setting('request.jwt.claim.sub', true), 'method', current_setting('request.method', true),
	    'path', current_setting('request.path', true), 'probe', current_setting('request.headers', true)::json->>'x-probe',
	    'search_path', current_setting('search_path'), 'read_only', current_setting('transaction_read_only')) $$`
	if _, err := e.su.Exec(ctx, "CREATE FUNCTION req_settings() "+fmt.Sprintf(fn, "STABLE")+
		"; CREATE FUNCTION req_settings_rw() "+fmt.Sprintf(fn, "VOLATILE")); err != nil {
		t.Fatal(err)
	}
	sub := "00000000-0000-0000-0000-000000000001"
	for _, tc := range []struct {
		method, fn string
		p          Principal
		want       map[string]string
	}{
		{"GET", "req_settings", userP(sub), map[string]string{"role": "authenticated", "claims": `{"sub":"` + sub + `","role":"authenticated"}`, "sub": sub,
			"method": "GET", "path": "/rpc/req_settings", "probe": "p-GET", "search_path": "public", "read_only": "on"}},
		{"POST", "req_settings", userP(sub), map[string]string{"role": "authenticated", "claims": `{"sub":"` + sub + `","role":"authenticated"}`, "sub": sub,
			"method": "POST", "path": "/rpc/req_settings", "probe": "p-POST", "search_path": "public", "read_only": "on"}},
		{"POST", "req_settings_rw", userP(sub), map[string]string{"role": "authenticated", "claims": `{"sub":"` + sub + `","role":"authenticated"}`, "sub": sub,
			"method": "POST", "path": "/rpc/req_settings_rw", "probe": "p-POST", "search_path": "public", "read_only": "off"}},
		{"GET", "req_settings", anonP, map[string]string{"role": "anon", "claims": `{}`, "sub": "",
			"method": "GET", "path": "/rpc/req_settings", "probe": "p-GET", "search_path": "public", "read_only": "on"}},
		// The dataplane's anon claims are the session's own: not set, the same.
		{"GET", "req_settings", anonClaimsP, map[string]string{"role": "anon", "claims": `{"role":"anon"}`, "sub": "",
			"method": "GET", "path": "/rpc/req_settings", "probe": "p-GET", "search_path": "public", "read_only": "on"}},
		{"POST", "req_settings_rw", userP(sub), map[string]string{"role": "authenticated", "claims": `{"sub":"` + sub + `","role":"authenticated"}`, "sub": sub,
			"method": "POST", "path": "/rpc/req_settings_rw", "probe": "p-POST", "search_path": "public", "read_only": "off"}},
		{"GET", "req_settings", anonClaimsP, map[string]string{"role": "anon", "claims": `{"role":"anon"}`, "sub": "",
			"method": "GET", "path": "/rpc/req_settings", "probe": "p-GET", "search_path": "public", "read_only": "on"}},
	} {
		body := ""
		if tc.method == "POST" {
			body = "{}"
		}
		for range 7 { // past the executions after which PostgreSQL plans generically
			r := e.do(t, tc.p, tc.method, "/rpc/"+tc.fn, map[string]string{"X-Probe": "p-" + tc.method}, body)
			if r.status != 200 {
				t.Fatalf("%s: %d %s", tc.method, r.status, r.body)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("%s: %v: %s", tc.method, err, r.body)
			}
			if d := cmp.Diff(tc.want, got); d != "" {
				t.Fatalf("%s %s as %s (-want +got):\n%s", tc.method, tc.fn, tc.p.Role, d)
			}
		}
	}
	// Another profile's search_path is set for its request only; the
	// default profile's is the session's own (PlatformSQL), not set.
	if _, err := e.su.Exec(ctx, `CREATE FUNCTION api.path_now() RETURNS text LANGUAGE sql STABLE AS
	  $$ SELECT current_setting('search_path') $$`); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := e.do(t, anonP, "GET", "/rpc/path_now", map[string]string{"Accept-Profile": "api"}, ""); r.status != 200 || r.body != `"\"api\""` {
			t.Fatalf("api profile: %d %s", r.status, r.body)
		}
		if r := e.do(t, anonP, "GET", "/rpc/req_settings", nil, ""); r.status != 200 || !strings.Contains(r.body, `"search_path" : "public"`) {
			t.Fatalf("default profile after api: %d %s", r.status, r.body)
		}
	}
	// The settings were the transaction's: a connection of the pool is
	// back to the authenticator with none of them (read-only, search_path
	// public, request.method GET and anon's claims are the authenticator's
	// own, PlatformSQL).
	c, err := e.h.backend.Acquire(ctx, "db1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	rows, err := c.PgConn().Exec(ctx, `SELECT current_user, coalesce(current_setting('request.method', true), ''),
	  coalesce(current_setting('request.jwt.claims', true), ''), current_setting('transaction_read_only'),
	  current_setting('search_path')`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range rows[0].Rows[0] {
		got = append(got, string(v))
	}
	if d := cmp.Diff([]string{AuthenticatorRole, "GET", `{"role":"anon"}`, "on", "public"}, got); d != "" {
		t.Fatalf("after the requests (-want +got):\n%s", d)
	}
}

// TestHandler_ManyClaims: claims with more per-claim settings than one
// function call takes arguments (the setup splits them over several
// num_nulls calls) all reach SQL.
func TestHandler_ManyClaims(t *testing.T) {
	e := mustOpenEnv(t)
	if _, err := e.su.Exec(context.Background(), `CREATE FUNCTION claim_n(n text) RETURNS text LANGUAGE sql STABLE AS
	  $$ SELECT current_setting('request.jwt.claim.' || n, true) $$`); err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"role": "authenticated", "sub": "00000000-0000-0000-0000-000000000001"}
	for i := range 150 {
		claims[fmt.Sprintf("c%d", i)] = fmt.Sprintf("v%d", i)
	}
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	p := Principal{Role: "authenticated", Schemas: []string{"public"}, Claims: b}
	for _, n := range []string{"c0", "c89", "c90", "c149", "sub"} {
		r := e.do(t, p, "GET", "/rpc/claim_n?n="+n, nil, "")
		want := `"` + fmt.Sprint(claims[n]) + `"`
		if r.status != 200 || r.body != want {
			t.Fatalf("claim %s: %d %s, want %s", n, r.status, r.body, want)
		}
	}
}

// TestHandler_SessionSettingsDoNotLeak: a tenant's function that sets a
// setting for the whole session (set_config(..., false), SET without
// LOCAL) changes only its own request. The next request on the pooled
// connection — another end user, or anon — sees neither the claim it
// planted nor the time zone or search_path it chose (the default profile's
// search_path is the session's own, not set per request), and the
// connection is back to the authenticator's own settings.
func TestHandler_SessionSettingsDoNotLeak(t *testing.T) {
	e := mustOpenEnv(t)
	ctx := context.Background()
	if _, err := e.su.Exec(ctx, `CREATE FUNCTION plant() RETURNS text LANGUAGE sql VOLATILE AS $$
	    SELECT pg_catalog.set_config('request.jwt.claim.sub', '00000000-0000-0000-0000-0000000000ff', false)
	      || pg_catalog.set_config('request.jwt.claim.planted', 'yes', false)
	      || pg_catalog.set_config('timezone', 'Pacific/Chatham', false)
	      || pg_catalog.set_config('search_path', 'pg_temp, api', false)
	      || pg_catalog.set_config('request.method', 'PLANTED', false)
	      || pg_catalog.set_config('request.jwt.claims', '{"role":"planted"}', false) $$;
	  CREATE FUNCTION seen() RETURNS json LANGUAGE sql STABLE AS $$
	    SELECT json_build_object('sub', coalesce(current_setting('request.jwt.claim.sub', true), ''),
	      'planted', coalesce(current_setting('request.jwt.claim.planted', true), ''),
	      'tz', current_setting('timezone'), 'path', current_setting('search_path'),
	      'method', current_setting('request.method'), 'claims', current_setting('request.jwt.claims')) $$`); err != nil {
		t.Fatal(err)
	}
	var tz string
	if err := e.su.QueryRow(ctx, "SELECT current_setting('timezone')").Scan(&tz); err != nil {
		t.Fatal(err)
	}
	sub := "00000000-0000-0000-0000-000000000001"
	for range 3 {
		if r := e.do(t, userP(sub), "POST", "/rpc/plant", nil, "{}"); r.status != 200 {
			t.Fatalf("plant: %d %s", r.status, r.body)
		}
		// The planted values are gone for anon and for a user whose claims
		// lack them, whichever connection of the pool answers.
		for _, p := range []Principal{anonP, anonClaimsP, userP(sub)} {
			r := e.do(t, p, "GET", "/rpc/seen", nil, "")
			if r.status != 200 {
				t.Fatalf("seen: %d %s", r.status, r.body)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"sub": "", "planted": "", "tz": tz, "path": "public", "method": "GET", "claims": string(p.Claims)}
			if p.Role != "anon" {
				want["sub"] = sub
			}
			if len(p.Claims) == 0 {
				want["claims"] = "{}"
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("as %s after a function set session settings (-want +got):\n%s", p.Role, d)
			}
		}
	}
	// Every connection of the pool is clean, held all at once.
	var held []Conn
	defer func() {
		for _, c := range held {
			c.Release()
		}
	}()
	for range 4 {
		c, err := e.h.backend.Acquire(ctx, "db1")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, c)
		rows, err := c.PgConn().Exec(ctx, `SELECT current_user, coalesce(current_setting('request.jwt.claim.sub', true), ''),
		  coalesce(current_setting('request.jwt.claim.planted', true), ''), current_setting('timezone')`).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, v := range rows[0].Rows[0] {
			got = append(got, string(v))
		}
		if d := cmp.Diff([]string{AuthenticatorRole, "", "", tz}, got); d != "" {
			t.Fatalf("a pooled connection after the requests (-want +got):\n%s", d)
		}
	}
}

// TestHandler_SessionWithoutRoleSettings: on a database whose
// authenticator has no settings of its own (PlatformSQL not yet applied),
// the setup sets search_path, request.method and read-only mode as
// before, and writes need no SET TRANSACTION.
func TestHandler_SessionWithoutRoleSettings(t *testing.T) {
	e := mustOpenEnv(t)
	ctx := context.Background()
	if _, err := e.su.Exec(ctx, `ALTER ROLE `+AuthenticatorRole+` RESET search_path;
	  ALTER ROLE `+AuthenticatorRole+` RESET default_transaction_read_only;
	  ALTER ROLE `+AuthenticatorRole+` RESET request.method;
	  ALTER ROLE `+AuthenticatorRole+` RESET request.jwt.claims;
	  CREATE FUNCTION path_now() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_setting('search_path') || ' ' ||
	    current_setting('transaction_read_only') || ' ' || current_setting('request.method') || ' ' ||
	    current_setting('request.jwt.claims') $$;
	  CREATE FUNCTION path_now_rw() RETURNS text LANGUAGE sql VOLATILE AS $$ SELECT current_setting('search_path') || ' ' ||
	    current_setting('transaction_read_only') || ' ' || current_setting('request.method') $$`); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := e.do(t, anonClaimsP, "GET", "/rpc/path_now", nil, ""); r.status != 200 || r.body != `"\"public\" on GET {\"role\":\"anon\"}"` {
			t.Fatalf("GET: %d %s", r.status, r.body)
		}
		if r := e.do(t, userP("00000000-0000-0000-0000-000000000001"), "POST", "/rpc/path_now_rw", nil, "{}"); r.status != 200 || r.body != `"\"public\" off POST"` {
			t.Fatalf("POST: %d %s", r.status, r.body)
		}
	}
}

// anonClaimsP is anon with the claims the dataplane gives it.
var anonClaimsP = Principal{Role: "anon", Schemas: []string{"public", "api"}, Anonymous: true, Claims: []byte(`{"role":"anon"}`)}

func TestSamePath(t *testing.T) {
	for _, c := range []struct {
		path, name string
		want       bool
	}{
		{`"public"`, "public", true}, {"public", "public", true}, {`"user"`, "user", true}, {"user", "user", true},
		{"Public", "Public", false}, {`"Public"`, "Public", true}, {"public, extensions", "public", false},
		{`"$user", public, extensions`, "public", false}, {"1a", "1a", false}, {"", "", false}, {`"a b"`, "a b", true},
	} {
		if got := samePath(c.path, c.name); got != c.want {
			t.Errorf("samePath(%q, %q) = %v", c.path, c.name, got)
		}
	}
}

// TestHandler_GetCannotWrite: a GET runs read-only even through a
// volatile function that writes, before and after writes on the same
// pooled connections (the authenticator's sessions are read-only by
// default and a write sets read-write for its own transaction only).
func TestHandler_GetCannotWrite(t *testing.T) {
	e := mustOpenEnv(t)
	p := userP("00000000-0000-0000-0000-000000000001")
	for i := range 6 {
		r := e.do(t, p, "GET", fmt.Sprintf("/rpc/new_tag?name=get%d", i), nil, "")
		if r.status < 400 || !strings.Contains(r.body, "25006") {
			t.Fatalf("GET new_tag: %d %s", r.status, r.body)
		}
		if r := e.do(t, p, "POST", "/rpc/new_tag", nil, fmt.Sprintf(`{"name": "post%d"}`, i)); r.status != 200 {
			t.Fatalf("POST new_tag: %d %s", r.status, r.body)
		}
	}
	var n int
	if err := e.cluster.QueryRowInt(t, "SELECT count(*)::int FROM tags WHERE name LIKE 'get%'", &n); err != nil || n != 0 {
		t.Fatalf("rows written by GET: %d (%v)", n, err)
	}
}
