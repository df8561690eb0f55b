package client

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
)

// TestServices_SendTheirRequests: every service is wired to its client and
// sends its calls to the API's method and path, with the client's token.
func TestServices_SendTheirRequests(t *testing.T) {
	var got, auth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, auth = r.Method+" "+r.URL.RequestURI(), r.Header.Get("Authorization")
		io.WriteString(w, "null")
	}))
	defer srv.Close()
	c, err := New(srv.URL, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Token = "tok"
	ctx := context.Background()
	for _, tt := range []struct {
		want string
		call func() error
	}{
		{"POST /customer/anonymous-register", func() error { _, err := c.Accounts.RegisterAnonymous(ctx); return err }},
		{"GET /customer/tokens", func() error { _, err := c.Tokens.List(ctx); return err }},
		{"DELETE /customer/tokens/t%201", func() error { _, err := c.Tokens.Revoke(ctx, "t 1"); return err }},
		{"GET /customer/databases?all=true", func() error { _, err := c.Databases.List(ctx, true); return err }},
		{"POST /customer/databases/app/sql", func() error { _, err := c.Databases.SQL(ctx, "app", SQLRequest{Query: "select 1"}); return err }},
		{"DELETE /customer/databases/app/users/bob", func() error { _, err := c.Users.Delete(ctx, "app", "bob"); return err }},
		{"GET /customer/databases/app/migrations", func() error { _, err := c.Migrations.List(ctx, "app"); return err }},
		{"GET /customer/databases/app/service-keys", func() error { _, err := c.DataPlane.ListKeys(ctx, "app", ServiceKeys); return err }},
		{"POST /customer/databases/app/fs-connect", func() error { _, err := c.FS9.Connect(ctx, "app", ""); return err }},
		{"GET /customer/databases/app/functions/f/runs?limit=5", func() error { _, err := c.Functions.ListRuns(ctx, "app", "f", 5, ""); return err }},
		{"PUT /customer/databases/app/secrets/KEY", func() error { _, err := c.Secrets.Put(ctx, "app", "KEY", "v"); return err }},
		{"GET /customer/databases/app/observability?window=60", func() error { _, err := c.Observability.Get(ctx, "app", 60); return err }},
	} {
		got, auth = "", ""
		if err := tt.call(); err != nil {
			t.Errorf("%s: %v", tt.want, err)
			continue
		}
		if got != tt.want {
			t.Errorf("sent %q, want %q", got, tt.want)
		}
		if wantAuth := "Bearer tok"; tt.want != "POST /customer/anonymous-register" && auth != wantAuth {
			t.Errorf("%s: Authorization %q, want %q", tt.want, auth, wantAuth)
		}
	}
}
