package dataapi

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"
)

// TestHandler_LargePipeline: a bulk insert whose body is larger than
// what pgpipe writes before reading (64 KB) goes through, with its
// rows returned, on a connection that stays usable.
func TestHandler_LargePipeline(t *testing.T) {
	e := mustOpenEnv(t)
	const n = 3000
	rows := make([]map[string]string, n)
	for i := range rows {
		rows[i] = map[string]string{"name": fmt.Sprintf("big-%04d-%s", i, strings.Repeat("x", 40))}
	}
	body, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	if len(body) < 128<<10 {
		t.Fatalf("body of %d bytes does not exercise the large pipeline", len(body))
	}
	r := e.do(t, serviceP, "POST", "/tags?select=name", map[string]string{"Prefer": "return=representation"}, string(body))
	if r.status != 201 {
		t.Fatalf("bulk insert: %d %.300s", r.status, r.body)
	}
	var got []map[string]string
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || len(got) != n || got[n-1]["name"] != rows[n-1]["name"] {
		t.Fatalf("bulk insert returned %d rows (%v), want %d", len(got), err, n)
	}
	if r := e.do(t, serviceP, "GET", "/tags?select=name&name=like.big-*&limit=1&order=name.desc", nil, ""); r.status != 200 ||
		!strings.Contains(r.body, fmt.Sprintf("big-%04d", n-1)) {
		t.Fatalf("after the bulk insert: %d %s", r.status, r.body)
	}
}

// TestHandler_CancelledRequest: a request whose context ends while its
// statement runs returns, its connection is not lent again (the pool has
// one), and the next request answers.
func TestHandler_CancelledRequest(t *testing.T) {
	base := mustOpenEnv(t)
	ctx := context.Background()
	if _, err := base.su.Exec(ctx, `CREATE FUNCTION slow() RETURNS int LANGUAGE sql VOLATILE AS $$ SELECT 1 FROM pg_sleep(0.5) $$`); err != nil {
		t.Fatal(err)
	}
	pool, err := pgxpool.New(ctx, base.cluster.ConnString(AuthenticatorRole)+" pool_max_conns=1")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	e := &env{h: NewHandler(&poolBackend{pools: map[string]*pgxpool.Pool{"db1": pool}}, nil), cluster: base.cluster, su: base.su}
	pid := func() string {
		t.Helper()
		r := e.do(t, anonP, "GET", "/rpc/backend_pid", nil, "")
		if r.status != 200 {
			t.Fatalf("backend_pid: %d %s", r.status, r.body)
		}
		return r.body
	}
	if _, err := base.su.Exec(ctx, `CREATE FUNCTION backend_pid() RETURNS int LANGUAGE sql STABLE AS $$ SELECT pg_backend_pid() $$`); err != nil {
		t.Fatal(err)
	}
	before := pid()
	rctx, cancel := context.WithCancel(ctx)
	req := httptest.NewRequest("POST", "http://x/data/db1/rest/v1/rpc/slow", strings.NewReader("{}")).WithContext(rctx)
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p := anonP
		e.h.Serve(w, req, "db1", "/rpc/slow", &p)
	}()
	// Cancel while the statement runs (the backend sleeps in it).
	for sleeping := 0; sleeping == 0; {
		if err := base.su.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'`).Scan(&sleeping); err != nil {
			t.Fatal(err)
		}
		select {
		case <-done:
			t.Fatalf("the request ended before it was cancelled: %d %s", w.Code, w.Body)
		default:
		}
	}
	cancel()
	<-done
	if w.Code == 200 {
		t.Fatalf("a cancelled request answered 200 %s", w.Body)
	}
	if after := pid(); after == before {
		t.Fatalf("the cancelled request's connection (backend %s) was lent again", before)
	}
	if r := e.do(t, anonP, "POST", "/rpc/slow", nil, "{}"); r.status != 200 || r.body != "1" {
		t.Fatalf("after a cancelled request: %d %s", r.status, r.body)
	}
}
