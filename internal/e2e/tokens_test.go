package e2e

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/pgtest"
)

// tokenCreated is the answer of POST /customer/tokens.
type tokenCreated struct {
	ID        string          `json:"id"`
	Name      string          `json:"name"`
	Token     string          `json:"token"`
	Scope     json.RawMessage `json:"scope"`
	CreatedAt time.Time       `json:"created_at"`
	ExpiresAt time.Time       `json:"expires_at"`
}

type tokenListed struct {
	ID         string          `json:"id"`
	Name       string          `json:"name"`
	Scope      json.RawMessage `json:"scope"`
	CreatedAt  time.Time       `json:"created_at"`
	ExpiresAt  time.Time       `json:"expires_at"`
	LastUsedAt *time.Time      `json:"last_used_at"`
	Token      *string         `json:"token"`
}

// as returns a client of the same server using another token.
func (c *Client) as(token string) *Client { return &Client{t: c.t, base: c.base, Token: token} }

// newToken creates an API token with the given scope (nil: full access).
func (c *Client) newToken(name string, scope any) tokenCreated {
	c.t.Helper()
	body := map[string]any{"name": name}
	if scope != nil {
		b, _ := json.Marshal(scope)
		body["scope_json"] = string(b)
	}
	var t tokenCreated
	c.MustDo("POST", "/customer/tokens", body, 201, &t)
	return t
}

func scopeOf(access string, ids ...string) map[string]any {
	var dbs []map[string]string
	for _, id := range ids {
		dbs = append(dbs, map[string]string{"id": id, "access": access})
	}
	return map[string]any{"databases": dbs}
}

// catalogExec runs SQL on the external catalog of a test server.
func catalogExec(t testing.TB, ext *pgtest.Cluster, sql string, args ...any) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, ext.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("catalog %q: %v", sql, err)
	}
}

func TestTokens_Lifecycle(t *testing.T) {
	t.Parallel()
	ext := pgtest.Start(t)
	s := StartServer(t, "--catalog-url", ext.ConnString(pgtest.Superuser))
	c := s.Anonymous()
	db := c.CreateDB("tok")

	// Create: token shown once, 128 hex, default life 365 days, scope "full".
	full := c.newToken("ci", nil)
	if len(full.Token) != 128 || strings.Trim(full.Token, "0123456789abcdef") != "" {
		t.Fatalf("token %q is not 128 hex characters", full.Token)
	}
	if string(full.Scope) != `"full"` || full.Name != "ci" || full.ID == "" {
		t.Fatalf("created token = %+v", full)
	}
	if d := time.Until(full.ExpiresAt); d < 364*24*time.Hour || d > 366*24*time.Hour {
		t.Errorf("default expiry in %s, want 365 days", d)
	}
	var short tokenCreated
	c.MustDo("POST", "/customer/tokens", map[string]any{"name": "short", "expires_in_days": 2}, 201, &short)
	if d := time.Until(short.ExpiresAt); d < 47*time.Hour || d > 49*time.Hour {
		t.Errorf("expires_in_days 2: expiry in %s", d)
	}
	ro := c.newToken("reader", scopeOf("ro", db.Name)) // names resolve to ids
	var sc struct {
		Databases []struct{ ID, Access string } `json:"databases"`
	}
	if err := json.Unmarshal(ro.Scope, &sc); err != nil || len(sc.Databases) != 1 || sc.Databases[0].ID != db.ID || sc.Databases[0].Access != "ro" {
		t.Fatalf("scoped token scope = %s", ro.Scope)
	}

	// Bad requests.
	bad := []any{
		map[string]any{"name": ""},
		map[string]any{"name": "x", "scope_json": map[string]any{"databases": []any{}}}, // an object, not a string
		map[string]any{"name": "x", "scope_json": `{"databases":[]}`},
		map[string]any{"name": "x", "scope_json": `{"databases":[{"id":"` + db.ID + `","access":"admin"}]}`},
		map[string]any{"name": "x", "scope_json": `{"databases":[{"id":"zzzzzzzzzzzz","access":"ro"}]}`},
		map[string]any{"name": "x", "scope_json": `{"database":[{"id":"` + db.ID + `","access":"ro"}]}`},
		map[string]any{"name": "x", "scope_json": `not json`},
		map[string]any{"name": "x", "expires_in_days": 0},
		map[string]any{"name": "x", "expires_in_days": 1.5},
		map[string]any{"name": "x", "expires_in_days": "7"},
	}
	for _, b := range bad {
		code, body := c.Do("POST", "/customer/tokens", b)
		if code != 400 {
			t.Errorf("POST /customer/tokens %v: %d %s, want 400", b, code, body)
		}
	}

	// The new tokens work; a use sets last_used_at (asynchronously).
	c.as(full.Token).MustDo("GET", "/customer/me", nil, 200, nil)
	waitFor(t, 10*time.Second, "last_used_at of the used token", func() bool {
		for _, tk := range listTokens(c) {
			if tk.ID == full.ID {
				return tk.LastUsedAt != nil
			}
		}
		return false
	})
	list := listTokens(c)
	if len(list) != 4 { // anonymous-register's, ci, short, reader
		t.Errorf("list has %d tokens, want 4: %+v", len(list), list)
	}
	for i, tk := range list {
		if tk.Token != nil {
			t.Errorf("list shows a token secret: %+v", tk)
		}
		if i > 0 && tk.CreatedAt.After(list[i-1].CreatedAt) {
			t.Errorf("list not newest first")
		}
		if tk.ID == short.ID && tk.LastUsedAt != nil {
			t.Errorf("unused token has last_used_at")
		}
	}

	// Revoke: stops working at once (it was just used, so it is cached).
	fc := c.as(full.Token)
	fc.MustDo("GET", "/customer/databases", nil, 200, nil)
	var msg map[string]string
	c.MustDo("DELETE", "/customer/tokens/"+full.ID, nil, 200, &msg)
	if msg["message"] == "" {
		t.Errorf("revoke answer %v has no message", msg)
	}
	if code, body := fc.Do("GET", "/customer/databases", nil); code != 401 {
		t.Errorf("revoked token: %d %s, want 401", code, body)
	}
	c.MustDo("DELETE", "/customer/tokens/"+full.ID, nil, 404, nil)
	for _, tk := range listTokens(c) {
		if tk.ID == full.ID {
			t.Errorf("revoked token still listed")
		}
	}

	// Expiry: a token whose time is up is refused.
	sc2 := c.as(short.Token)
	sc2.MustDo("GET", "/customer/me", nil, 200, nil)
	catalogExec(t, ext, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, short.ID)
	time.Sleep(5100 * time.Millisecond) // the lookup cache's bound (API-NOTES)
	if code, body := sc2.Do("GET", "/customer/me", nil); code != 401 {
		t.Errorf("expired token: %d %s, want 401", code, body)
	}

	// A customer cannot revoke another's token.
	other := s.Anonymous()
	other.MustDo("DELETE", "/customer/tokens/"+ro.ID, nil, 404, nil)
	c.as(ro.Token).MustDo("GET", "/customer/me", nil, 200, nil)
}

func listTokens(c *Client) []tokenListed {
	c.t.Helper()
	var l []tokenListed
	c.MustDo("GET", "/customer/tokens", nil, 200, &l)
	return l
}

func TestTokens_Scopes(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous()
	a := c.CreateDB("scope-a")
	b := c.CreateDB("scope-b")
	c.MustSQL(a.ID, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
	rw := c.as(c.newToken("rw-a", scopeOf("rw", a.ID)).Token)
	ro := c.as(c.newToken("ro-a", scopeOf("ro", a.ID)).Token)

	// Only its databases are visible.
	for _, sc := range []*Client{rw, ro} {
		dbs := sc.ListDBs(true)
		if len(dbs) != 1 || dbs[0].ID != a.ID {
			t.Errorf("scoped list = %+v, want only %s", dbs, a.ID)
		}
		sc.MustDo("GET", "/customer/databases/"+a.Name, nil, 200, nil)
		_, missing := sc.Do("GET", "/customer/databases/zzzzzzzzzzzz", nil)
		for _, ref := range []string{b.ID, b.Name} {
			code, body := sc.Do("GET", "/customer/databases/"+ref, nil)
			if code != 404 || string(body) != string(missing) {
				t.Errorf("scoped GET of an unscoped database: %d %s, want the 404 of a missing one", code, body)
			}
		}
		// Unscoped-only operations.
		for _, rq := range []struct{ m, p string }{{"POST", "/customer/databases"}, {"DELETE", "/customer/databases/" + a.ID},
			{"GET", "/customer/tokens"}, {"POST", "/customer/tokens"}} {
			code, body := sc.Do(rq.m, rq.p, map[string]any{"name": "x"})
			if code != 403 {
				t.Errorf("scoped %s %s: %d %s, want 403", rq.m, rq.p, code, body)
			}
		}
	}

	// rw writes as admin; ro reads as the read-only role and cannot write.
	rw.MustSQL(a.ID, "INSERT INTO t VALUES (2)")
	if u := sqlValue(t, ro, a.ID, "SELECT current_user"); u != "_db9_sys_readonly" {
		t.Errorf("ro SQL runs as %v", u)
	}
	if n := sqlValue(t, ro, a.ID, "SELECT count(*) FROM t"); n != float64(2) {
		t.Errorf("ro read count = %v", n)
	}
	for _, w := range []string{"INSERT INTO t VALUES (3)", "CREATE TABLE u (v int)", "SET default_transaction_read_only = off; INSERT INTO t VALUES (3)"} {
		r := ro.SQL(a.ID, w)
		if r.Error == nil || (r.Error.Code != "25006" && r.Error.Code != "42501") {
			t.Errorf("ro %q: %+v, want a read-only or permission error", w, r.Error)
		}
	}
	if n := sqlValue(t, c, a.ID, "SELECT count(*) FROM t"); n != float64(2) {
		t.Errorf("count after ro writes = %v, want 2", n)
	}
	ro.MustDo("GET", "/customer/databases/"+a.ID+"/credentials", nil, 403, nil)
	ro.MustDo("POST", "/customer/databases/"+a.ID+"/reset-password", nil, 403, nil)
	rw.MustDo("GET", "/customer/databases/"+a.ID+"/credentials", nil, 200, nil)
}
