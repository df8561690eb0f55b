package dataapi

import (
	"context"
	"encoding/json"
	"fmt"
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
			"method": "GET", "path": "/rpc/req_settings", "probe": "p-GET", "search_path": `"public"`, "read_only": "on"}},
		{"POST", "req_settings", userP(sub), map[string]string{"role": "authenticated", "claims": `{"sub":"` + sub + `","role":"authenticated"}`, "sub": sub,
			"method": "POST", "path": "/rpc/req_settings", "probe": "p-POST", "search_path": `"public"`, "read_only": "on"}},
		{"POST", "req_settings_rw", userP(sub), map[string]string{"role": "authenticated", "claims": `{"sub":"` + sub + `","role":"authenticated"}`, "sub": sub,
			"method": "POST", "path": "/rpc/req_settings_rw", "probe": "p-POST", "search_path": `"public"`, "read_only": "off"}},
		{"GET", "req_settings", anonP, map[string]string{"role": "anon", "claims": `{}`, "sub": "",
			"method": "GET", "path": "/rpc/req_settings", "probe": "p-GET", "search_path": `"public"`, "read_only": "on"}},
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
	// The settings were the transaction's: a connection of the pool is
	// back to the authenticator with none of them.
	c, err := e.h.backend.Acquire(ctx, "db1")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Release()
	rows, err := c.PgConn().Exec(ctx, `SELECT current_user, coalesce(current_setting('request.method', true), ''),
	  coalesce(current_setting('request.jwt.claims', true), ''), current_setting('transaction_read_only')`).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range rows[0].Rows[0] {
		got = append(got, string(v))
	}
	if d := cmp.Diff([]string{AuthenticatorRole, "", "", "off"}, got); d != "" {
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
// planted nor the time zone it chose, and the connection is back to the
// authenticator's own settings.
func TestHandler_SessionSettingsDoNotLeak(t *testing.T) {
	e := mustOpenEnv(t)
	ctx := context.Background()
	if _, err := e.su.Exec(ctx, `CREATE FUNCTION plant() RETURNS text LANGUAGE sql VOLATILE AS $$
	    SELECT pg_catalog.set_config('request.jwt.claim.sub', '00000000-0000-0000-0000-0000000000ff', false)
	      || pg_catalog.set_config('request.jwt.claim.planted', 'yes', false)
	      || pg_catalog.set_config('timezone', 'Pacific/Chatham', false) $$;
	  CREATE FUNCTION seen() RETURNS json LANGUAGE sql STABLE AS $$
	    SELECT json_build_object('sub', coalesce(current_setting('request.jwt.claim.sub', true), ''),
	      'planted', coalesce(current_setting('request.jwt.claim.planted', true), ''),
	      'tz', current_setting('timezone')) $$`); err != nil {
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
		for _, p := range []Principal{anonP, userP(sub)} {
			r := e.do(t, p, "GET", "/rpc/seen", nil, "")
			if r.status != 200 {
				t.Fatalf("seen: %d %s", r.status, r.body)
			}
			var got map[string]string
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"sub": "", "planted": "", "tz": tz}
			if p.Role != "anon" {
				want["sub"] = sub
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
