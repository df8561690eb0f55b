package dataapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/dataapi/pgrst"
)

// TestHandler_PreparedStatements runs requests on a one-connection pool
// and looks at what the session has prepared: one statement per shape,
// reused for other values, replaced after DDL (a parameter type inferred
// from the old column type is not reused), prepared again when the session
// lost them, and bypassed when only the request's profile resolves a name.
func TestHandler_PreparedStatements(t *testing.T) {
	base := mustOpenEnv(t)
	ctx := t.Context()
	pool, err := pgxpool.New(ctx, base.cluster.ConnString(AuthenticatorRole)+" pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := &env{h: NewHandler(&poolBackend{pools: map[string]*pgxpool.Pool{"db1": pool}}, nil), cluster: base.cluster, su: base.su}
	onConn := func(sql string) []string {
		t.Helper()
		c, err := pool.Acquire(ctx)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Release()
		res, err := c.Conn().PgConn().Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		var out []string
		for _, r := range res {
			for _, row := range r.Rows {
				out = append(out, string(row[0]))
			}
		}
		return out
	}
	prepared := func() []string {
		return onConn("SELECT name || ': ' || statement FROM pg_prepared_statements ORDER BY name")
	}
	get := func(target, want string, hdr map[string]string) {
		t.Helper()
		r := e.do(t, anonP, "GET", target, hdr, "")
		if r.status != 200 || r.body != want {
			t.Fatalf("GET %s: %d %s, want 200 %s", target, r.status, r.body, want)
		}
	}

	get("/comments?select=id&likes=eq.3", `[{"id":1}]`, nil)
	first := prepared()
	if len(first) != 3 || !strings.Contains(first[0], "set_config") || !strings.Contains(first[1], `"comments"`) ||
		!strings.HasSuffix(first[2], "RESET ALL") {
		t.Fatalf("after one request the session has prepared %q; want the setup, the main statement and RESET ALL", first)
	}
	get("/comments?select=id&likes=eq.5", `[{"id":3}]`, nil)
	if again := prepared(); strings.Join(again, "\n") != strings.Join(first, "\n") {
		t.Fatalf("a second request of the same shape prepared again: %q, before %q", again, first)
	}

	// $1 was inferred as integer; after the column became text the old
	// statement would fail with "operator does not exist: text = integer".
	if _, err := e.su.Exec(ctx, `ALTER TABLE comments ALTER COLUMN likes TYPE text`); err != nil {
		t.Fatal(err)
	}
	get("/comments?select=id&likes=eq.3", `[{"id":1}]`, nil)
	after := prepared()
	if len(after) != 3 || after[0] == first[0] || after[1] == first[1] || after[2] == first[2] {
		t.Fatalf("after DDL the session has %q; want three statements other than %q", after, first)
	}

	// A session that lost its statements (DEALLOCATE ALL) prepares again
	// (RESET ALL on the next request: the retry sends it unprepared).
	onConn("DEALLOCATE ALL")
	get("/comments?select=id&likes=eq.5", `[{"id":3}]`, nil)
	if n := len(prepared()); n != 2 {
		t.Fatalf("after DEALLOCATE ALL and a request the session has %d statements, want 2", n)
	}
	get("/comments?select=id&likes=eq.5", `[{"id":3}]`, nil)
	if n := len(prepared()); n != 3 {
		t.Fatalf("after DEALLOCATE ALL and two requests the session has %d statements, want 3", n)
	}

	// A function that deallocates them while its own request runs takes
	// the RESET ALL bound after it: the request runs again with RESET ALL
	// unprepared, and answers.
	if _, err := e.su.Exec(ctx, `CREATE FUNCTION dealloc_all() RETURNS int LANGUAGE plpgsql VOLATILE AS
	  $$ BEGIN EXECUTE 'DEALLOCATE ALL'; RETURN 7; END $$`); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if r := e.do(t, anonP, "POST", "/rpc/dealloc_all", nil, "{}"); r.status != 200 || r.body != "7" {
			t.Fatalf("POST /rpc/dealloc_all: %d %s, want 200 7", r.status, r.body)
		}
		get("/comments?select=id&likes=eq.5", `[{"id":3}]`, nil)
	}

	// A name only the request's profile resolves: preparing it under the
	// session's search_path fails, so it is sent unprepared (twice: the
	// failure is remembered, not retried).
	if _, err := e.su.Exec(ctx, `CREATE DOMAIN api.label AS text; GRANT USAGE ON TYPE api.label TO anon`); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		get("/items?select=id,name::label", `[{"id":1,"name":"from api"}]`, map[string]string{"Accept-Profile": "api"})
	}
	for i := range 20 {
		get(fmt.Sprintf("/comments?select=id&likes=eq.%d&id=gt.%d", 1, i%2), `[{"id":2}]`, nil)
	}
}

// TestHeadersJSON checks request.headers against encoding/json's reading
// of it: quotes, backslashes, control characters, invalid UTF-8 and
// repeated headers.
func TestHeadersJSON(t *testing.T) {
	h := http.Header{}
	h.Set("X-Quote", `a"b\c`)
	h.Set("X-Ctl", "tab\there\x01")
	h.Set("X-Bad", "ok\xffok")
	h.Add("Accept", "a/b")
	h.Add("Accept", "c/d")
	h.Set("X-Empty", "")
	h["X-\"Odd"] = []string{"v"} // not a token: lowered the long way
	var got map[string]string
	if err := json.Unmarshal(pgrst.AppendHeadersJSON(nil, h), &got); err != nil {
		t.Fatalf("not JSON: %v: %s", err, pgrst.AppendHeadersJSON(nil, h))
	}
	want := map[string]string{"x-quote": `a"b\c`, "x-ctl": "tab\there\x01", "x-bad": "ok\ufffdok", "accept": "a/b,c/d", "x-empty": "", `x-"odd`: "v"}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatalf("headers (-want +got):\n%s", d)
	}
	if s := string(pgrst.AppendHeadersJSON(nil, http.Header{})); s != "{}" {
		t.Fatalf("no headers: %s", s)
	}
}
