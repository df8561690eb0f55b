package dataplane

import (
	"net/http/httptest"
	"strings"
	"testing"
)

func TestSplitPath(t *testing.T) {
	for _, tc := range []struct {
		in, db, rest string
		ok           bool
	}{
		{"/data/shop/rest/v1", "shop", "/", true},
		{"/data/shop/rest/v1/", "shop", "/", true},
		{"/data/abc123/rest/v1/posts", "abc123", "/posts", true},
		{"/data/shop/rest/v1/rpc/fn", "shop", "/rpc/fn", true},
		{"/data/shop/rest/v10/posts", "", "", false},
		{"/data/shop/rest", "", "", false},
		{"/data//rest/v1/", "", "", false},
		{"/data/", "", "", false},
		{"/customer/x", "", "", false},
	} {
		db, rest, ok := splitPath(tc.in)
		if db != tc.db || rest != tc.rest || ok != tc.ok {
			t.Errorf("splitPath(%q) = %q, %q, %v; want %q, %q, %v", tc.in, db, rest, ok, tc.db, tc.rest, tc.ok)
		}
	}
}

func TestCredentials(t *testing.T) {
	pk := "db9pk_" + strings.Repeat("A", 43)
	sk := "db9sk_" + strings.Repeat("B", 43)
	for _, tc := range []struct {
		name, apikey, auth, key, jwt, errCode string
	}{
		{name: "apikey", apikey: pk, key: pk},
		{name: "bearer key", auth: "Bearer " + pk, key: pk},
		{name: "both the same (supabase-js, no user)", apikey: pk, auth: "Bearer " + pk, key: pk},
		{name: "key and JWT", apikey: pk, auth: "Bearer a.b.c", key: pk, jwt: "a.b.c"},
		{name: "lowercase scheme", apikey: pk, auth: "bearer a.b.c", key: pk, jwt: "a.b.c"},
		{name: "two different keys", apikey: pk, auth: "Bearer " + sk, errCode: "PGRST301"},
		{name: "basic", auth: "Basic xyz", errCode: "PGRST301"},
		{name: "empty bearer", apikey: pk, auth: "Bearer ", errCode: "PGRST301"},
		{name: "nothing", errCode: "PGRST302"},
	} {
		r := httptest.NewRequest("GET", "/data/x/rest/v1/t", nil)
		if tc.apikey != "" {
			r.Header.Set("apikey", tc.apikey)
		}
		if tc.auth != "" {
			r.Header.Set("Authorization", tc.auth)
		}
		key, jwt, err := credentials(r)
		code := ""
		if err != nil {
			code = err.Code
			if err.Status != 401 {
				t.Errorf("%s: status %d, want 401", tc.name, err.Status)
			}
		}
		if key != tc.key || jwt != tc.jwt || code != tc.errCode {
			t.Errorf("%s: key %q jwt %q err %q; want %q %q %q", tc.name, key, jwt, code, tc.key, tc.jwt, tc.errCode)
		}
	}
}
