package e2e

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/pgtest"
)

// dataAPISchema is the application of TestDataAPI_EndToEnd: items that
// anon may read when public and change only as public, a table without
// any grant, and notes that each end user sees only their own of.
const dataAPISchema = `
create table items (id serial primary key, name text not null, owner text, qty int not null default 0);
alter table items enable row level security;
create policy anon_read on items for select to anon using (owner = 'public');
create policy anon_add on items for insert to anon with check (owner = 'public');
create policy anon_change on items for update to anon using (owner = 'public') with check (owner = 'public');
create policy anon_remove on items for delete to anon using (owner = 'public');
grant select, insert, update, delete on items to anon;
grant usage on sequence items_id_seq to anon;
insert into items (name, owner) values ('apple', 'public'), ('secret', 'alice');
create table hidden (id int primary key, v text);
insert into hidden values (1, 'nobody sees this');
create table notes (id serial primary key, owner uuid not null default auth.uid(), body text not null);
alter table notes enable row level security;
create policy own on notes using (owner = auth.uid()) with check (owner = auth.uid());
grant select, insert on notes to authenticated;
grant usage on sequence notes_id_seq to authenticated;
insert into notes (owner, body) values ('00000000-0000-0000-0000-00000000000a', 'a1'), ('00000000-0000-0000-0000-00000000000a', 'a2'),
  ('00000000-0000-0000-0000-00000000000b', 'b1');
`

// TestDataAPI_EndToEnd drives /data/<db>/rest/v1 of a real server: reads
// and writes under RLS with a publishable key, every refused key, service
// keys, CORS, the rate limit, end-user JWTs (incl. a role made through
// the users endpoint), DDL seen at once, and a stopped database waking.
func TestDataAPI_EndToEnd(t *testing.T) {
	t.Parallel()
	ext := pgtest.Start(t)
	s := StartServer(t, "--catalog-url", ext.ConnString(pgtest.Superuser), "--idle-timeout", "2s")
	c := s.Anonymous()
	db := c.CreateDB("shop")
	other := c.CreateDB("other")
	c.MustSQL(db.ID, dataAPISchema)
	pk := c.createKey(db.Name, "publishable-keys", nil)
	anon := map[string]string{"apikey": pk.Key}
	withKey := func(h map[string]string) map[string]string {
		out := map[string]string{"apikey": pk.Key}
		for k, v := range h {
			out[k] = v
		}
		return out
	}
	expect := func(what string, r dataResp, status int, body string) {
		t.Helper()
		if r.Status != status || (body != "" && !sameJSON(r.Body, body)) {
			t.Fatalf("%s: %d %s, want %d %s", what, r.Status, r.Body, status, body)
		}
	}

	t.Run("crud under RLS", func(t *testing.T) {
		expect("GET by name", s.dataDo(t, "GET", db.Name, "/items?select=id,name&order=id", anon, ""), 200, `[{"id":1,"name":"apple"}]`)
		expect("GET by id, Bearer key", s.dataDo(t, "GET", db.ID, "/items?select=name", map[string]string{"Authorization": "Bearer " + pk.Key}, ""), 200, `[{"name":"apple"}]`)
		r := s.dataDo(t, "POST", db.Name, "/items?select=name,qty", withKey(map[string]string{"Prefer": "return=representation"}), `{"name":"pear","owner":"public"}`)
		expect("POST", r, 201, `[{"name":"pear","qty":0}]`)
		r = s.dataDo(t, "POST", db.Name, "/items", anon, `{"name":"stolen","owner":"alice"}`)
		if r.Status != 401 || !strings.Contains(string(r.Body), `"code":"42501"`) {
			t.Fatalf("POST against the policy: %s, want 401 42501", r)
		}
		expect("PATCH", s.dataDo(t, "PATCH", db.Name, "/items?name=eq.pear&select=name,qty", withKey(map[string]string{"Prefer": "return=representation"}), `{"qty":5}`), 200, `[{"name":"pear","qty":5}]`)
		expect("PATCH of a row RLS hides", s.dataDo(t, "PATCH", db.Name, "/items?name=eq.secret", withKey(map[string]string{"Prefer": "return=representation"}), `{"qty":9}`), 200, `[]`)
		expect("DELETE", s.dataDo(t, "DELETE", db.Name, "/items?name=eq.pear", anon, ""), 204, "")
		got := c.MustSQL(db.ID, "select string_agg(name || ':' || qty, ',' order by id) from items")
		if got.Rows[0][0] != "apple:0,secret:0" {
			t.Fatalf("table after the writes: %v", got.Rows)
		}
		r = s.dataDo(t, "GET", db.Name, "/hidden", anon, "")
		if r.Status != 401 || !strings.Contains(string(r.Body), `"code":"42501"`) {
			t.Fatalf("anon on a table without grant: %s, want 401 42501", r)
		}
	})

	t.Run("refused keys", func(t *testing.T) {
		expired := c.createKey(db.Name, "publishable-keys", map[string]any{"name": "expired"})
		conn, err := pgx.Connect(context.Background(), ext.ConnString(pgtest.Superuser))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		// Expired before its first use, so no process has it cached.
		if _, err := conn.Exec(context.Background(), `UPDATE data_keys SET expires_at = now() - interval '1 second' WHERE id = $1`, expired.ID); err != nil {
			t.Fatal(err)
		}
		revoked := c.createKey(db.Name, "publishable-keys", map[string]any{"name": "revoked"})
		expect("key before revocation", s.dataDo(t, "GET", db.Name, "/items?select=id", map[string]string{"apikey": revoked.Key}, ""), 200, "")
		c.MustDo("DELETE", "/customer/databases/"+db.Name+"/publishable-keys/"+revoked.ID, nil, 200, nil)
		otherKey := c.createKey(other.Name, "publishable-keys", nil)
		expect("other key on its own database", s.dataDo(t, "GET", other.Name, "/", map[string]string{"apikey": otherKey.Key}, ""), 200, "")
		for name, h := range map[string]map[string]string{
			"expired":             {"apikey": expired.Key},
			"revoked":             {"apikey": revoked.Key},
			"other database's":    {"apikey": otherKey.Key},
			"malformed":           {"apikey": "db9pk_nope"},
			"unknown":             {"apikey": "db9pk_" + strings.Repeat("A", 43)},
			"none":                {},
			"two different keys":  {"apikey": pk.Key, "Authorization": "Bearer " + otherKey.Key},
			"basic authorization": {"Authorization": "Basic " + pk.Key},
		} {
			r := s.dataDo(t, "GET", db.Name, "/items", h, "")
			var e struct{ Code, Message string }
			if r.Status != 401 || json.Unmarshal(r.Body, &e) != nil || e.Code == "" || e.Message == "" || r.Header.Get("WWW-Authenticate") == "" {
				t.Errorf("%s key: %s, want 401 with a PostgREST error body", name, r)
			}
		}
		// The same answer whether the database in the path exists or not.
		a := s.dataDo(t, "GET", other.ID, "/items", anon, "")
		b := s.dataDo(t, "GET", "nosuchdb", "/items", anon, "")
		if a.Status != 401 || b.Status != 401 || string(a.Body) != string(b.Body) {
			t.Errorf("key of another database: %s; unknown database: %s; want the same 401", a, b)
		}
	})

	t.Run("service key", func(t *testing.T) {
		sk := c.createKey(db.Name, "service-keys", nil)
		expect("service key bypasses RLS", s.dataDo(t, "GET", db.Name, "/items?select=name&order=id", map[string]string{"apikey": sk.Key}, ""), 200, `[{"name":"apple"},{"name":"secret"}]`)
		expect("service key, bearer only", s.dataDo(t, "GET", db.Name, "/hidden?select=v", map[string]string{"Authorization": "Bearer " + sk.Key}, ""), 200, `[{"v":"nobody sees this"}]`)
		r := s.dataDo(t, "GET", db.Name, "/items", map[string]string{"apikey": sk.Key, "Origin": "https://app.example"}, "")
		expect("service key from a browser", r, 403, `{"message":"service keys are for server-side use"}`)
		if r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Error("service key refusal carries Access-Control-Allow-Origin")
		}
		r = s.dataDo(t, "GET", db.Name, "/x", map[string]string{"apikey": sk.Key, "Accept-Profile": "_db9"}, "")
		if r.Status != 406 {
			t.Errorf("service key on the platform schema: %s, want 406", r)
		}
	})

	t.Run("cors", func(t *testing.T) {
		ck := c.createKey(db.Name, "publishable-keys", map[string]any{"allowed_origins": []string{"https://app.example"}})
		r := s.dataDo(t, "OPTIONS", db.Name, "/items", map[string]string{"Origin": "https://app.example",
			"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "apikey, content-type, prefer"}, "")
		if r.Status != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(r.Header.Get("Access-Control-Allow-Headers"), "apikey") {
			t.Errorf("preflight: %s %v", r, r.Header)
		}
		r = s.dataDo(t, "GET", db.Name, "/items?select=name", map[string]string{"apikey": ck.Key, "Origin": "https://app.example"}, "")
		if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
			!strings.Contains(r.Header.Get("Access-Control-Expose-Headers"), "Content-Range") {
			t.Errorf("allowed origin: %s %v", r, r.Header)
		}
		r = s.dataDo(t, "GET", db.Name, "/items", map[string]string{"apikey": ck.Key, "Origin": "https://evil.example"}, "")
		if r.Status != 403 || r.Header.Get("Access-Control-Allow-Origin") != "" {
			t.Errorf("refused origin: %s, ACAO %q; want 403 without ACAO", r, r.Header.Get("Access-Control-Allow-Origin"))
		}
		r = s.dataDo(t, "GET", db.Name, "/items", map[string]string{"apikey": pk.Key, "Origin": "https://anywhere.example"}, "")
		if r.Status != 200 || r.Header.Get("Access-Control-Allow-Origin") != "*" {
			t.Errorf("key allowing every origin: %s, ACAO %q", r, r.Header.Get("Access-Control-Allow-Origin"))
		}
	})

	t.Run("rate limit", func(t *testing.T) {
		rk := c.createKey(db.Name, "publishable-keys", map[string]any{"rate_limit": map[string]any{"rps": 1, "burst": 2}})
		h := map[string]string{"apikey": rk.Key}
		var r dataResp
		for i := 0; i < 3; i++ {
			r = s.dataDo(t, "GET", db.Name, "/items?select=id", h, "")
			if i < 2 && r.Status != 200 {
				t.Fatalf("request %d within the burst: %s", i+1, r)
			}
			if i < 2 && r.Header.Get("RateLimit-Limit") != "2" {
				t.Errorf("RateLimit-Limit %q, want 2", r.Header.Get("RateLimit-Limit"))
			}
		}
		if r.Status != 429 || r.Header.Get("Retry-After") == "" || r.Header.Get("RateLimit-Remaining") != "0" {
			t.Fatalf("request past the burst: %s %v, want 429 with Retry-After", r, r.Header)
		}
		wait, err := strconv.Atoi(r.Header.Get("Retry-After"))
		if err != nil || wait < 1 || wait > 2 {
			t.Fatalf("Retry-After %q", r.Header.Get("Retry-After"))
		}
		time.Sleep(time.Duration(wait) * time.Second)
		expect("after Retry-After", s.dataDo(t, "GET", db.Name, "/items?select=id", h, ""), 200, "")
		expect("another key is not limited", s.dataDo(t, "GET", db.Name, "/items?select=id", anon, ""), 200, "")
	})

	t.Run("ddl seen at once", func(t *testing.T) {
		expect("before", s.dataDo(t, "GET", db.Name, "/fresh", anon, ""), 404, "")
		c.MustSQL(db.ID, "create table fresh (id int primary key, v text); insert into fresh values (1, 'new'); grant select on fresh to anon")
		expect("table made through /sql", s.dataDo(t, "GET", db.Name, "/fresh?select=v", anon, ""), 200, `[{"v":"new"}]`)
		c.MustSQL(db.ID, "alter table fresh add column w int default 7")
		expect("column added through /sql", s.dataDo(t, "GET", db.Name, "/fresh?select=v,w", anon, ""), 200, `[{"v":"new","w":7}]`)
	})

	t.Run("embedded read is one statement", func(t *testing.T) {
		// A post with its author and ten comments is one
		// statement in PostgreSQL (pg_stat_statements of the instance).
		c.MustSQL(db.ID, `create table authors (id int primary key, name text);
			create table posts (id int primary key, author_id int references authors, title text);
			create table comments (id int primary key, post_id int references posts, body text);
			insert into authors values (1, 'ada');
			insert into posts values (1, 1, 'hello');
			insert into comments select g, 1, 'comment ' || g from generate_series(1, 10) g;
			grant select on authors, posts, comments to anon`)
		const target = "/posts?select=title,authors(name),comments(body)&id=eq.1"
		read := func() {
			t.Helper()
			r := s.dataDo(t, "GET", db.Name, target, anon, "")
			var got []struct {
				Title    string
				Authors  struct{ Name string }
				Comments []struct{ Body string }
			}
			if r.Status != 200 || json.Unmarshal(r.Body, &got) != nil || len(got) != 1 || got[0].Authors.Name != "ada" || len(got[0].Comments) != 10 {
				t.Fatalf("embedded read: %s", r)
			}
		}
		read() // loads the schema cache after the DDL
		sc := s.superConn(t, db.ID)
		ctx := context.Background()
		if _, err := sc.Exec(ctx, "select extensions.pg_stat_statements_reset()"); err != nil {
			t.Fatal(err)
		}
		read()
		rows, err := sc.Query(ctx, `select query, calls from extensions.pg_stat_statements
			where query not like '%pg_stat_statements%' order by query`)
		if err != nil {
			t.Fatal(err)
		}
		stmts, err := pgx.CollectRows(rows, pgx.RowToStructByPos[struct {
			Query string
			Calls int64
		}])
		if err != nil {
			t.Fatal(err)
		}
		var reads []string
		for _, st := range stmts {
			if strings.Contains(st.Query, "set_config") {
				continue // the transaction's role and claims, not a read
			}
			for _, rel := range []string{`"posts"`, `"authors"`, `"comments"`} {
				if strings.Contains(st.Query, rel) {
					reads = append(reads, st.Query)
					if st.Calls != 1 {
						t.Errorf("statement ran %d times for one request: %s", st.Calls, st.Query)
					}
					break
				}
			}
		}
		if len(reads) != 1 || !strings.Contains(reads[0], `"authors"`) || !strings.Contains(reads[0], `"comments"`) {
			t.Fatalf("the embedded read ran %d statements besides the setup, want one reading posts, authors and comments: %q", len(reads), reads)
		}
	})

	t.Run("end-user JWT", func(t *testing.T) {
		idp := newTestIdP(t)
		const alice, bob = "00000000-0000-0000-0000-00000000000a", "00000000-0000-0000-0000-00000000000b"
		jwtReq := func(tok string) map[string]string {
			return withKey(map[string]string{"Authorization": "Bearer " + tok})
		}
		tokA := idp.token(t, map[string]any{"sub": alice})
		r := s.dataDo(t, "GET", db.Name, "/notes?select=body", jwtReq(tokA), "")
		if r.Status != 401 {
			t.Fatalf("JWT before any auth-config: %s, want 401", r)
		}
		c.MustDo("PUT", "/customer/databases/"+db.Name+"/auth-config", idp.authConfig(), 200, nil)
		expect("alice", s.dataDo(t, "GET", db.Name, "/notes?select=body&order=id", jwtReq(tokA), ""), 200, `[{"body":"a1"},{"body":"a2"}]`)
		tokB := idp.token(t, map[string]any{"sub": bob})
		expect("bob", s.dataDo(t, "GET", db.Name, "/notes?select=body&order=id", jwtReq(tokB), ""), 200, `[{"body":"b1"}]`)
		expect("bob writes his own", s.dataDo(t, "POST", db.Name, "/notes?select=owner,body", withKey(map[string]string{"Authorization": "Bearer " + tokB, "Prefer": "return=representation"}), `{"body":"b2"}`), 201, `[{"owner":"`+bob+`","body":"b2"}]`)
		r = s.dataDo(t, "POST", db.Name, "/notes", jwtReq(tokB), `{"body":"forged","owner":"`+alice+`"}`)
		if r.Status != 403 || !strings.Contains(string(r.Body), "42501") {
			t.Errorf("bob writing alice's row: %s, want 403 42501", r)
		}
		expect("anon sees no notes", s.dataDo(t, "GET", db.Name, "/notes", anon, ""), 401, "")

		// A role made through the users endpoint may be claimed.
		c.MustDo("POST", "/customer/databases/"+db.Name+"/users", map[string]any{"username": "editor"}, 201, nil)
		c.MustSQL(db.ID, "grant select on items to editor; create policy editor_read on items for select to editor using (true)")
		tokE := idp.token(t, map[string]any{"sub": alice, "role": "editor"})
		expect("tenant role from role_claim", s.dataDo(t, "GET", db.Name, "/items?select=name&order=id", jwtReq(tokE), ""), 200, `[{"name":"apple"},{"name":"secret"}]`)

		for name, tok := range map[string]string{
			"role admin":         idp.token(t, map[string]any{"sub": alice, "role": "admin"}),
			"role service_role":  idp.token(t, map[string]any{"sub": alice, "role": "service_role"}),
			"role authenticator": idp.token(t, map[string]any{"sub": alice, "role": "_db9_authenticator"}),
			"role missing":       idp.token(t, map[string]any{"sub": alice, "role": "ghost"}),
			"expired":            idp.token(t, map[string]any{"sub": alice, "exp": time.Now().Add(-time.Hour).Unix()}),
			"wrong audience":     idp.token(t, map[string]any{"sub": alice, "aud": "someone-else"}),
			"other provider":     newTestIdP(t).token(t, map[string]any{"sub": alice}),
			"garbage":            "not.a.jwt",
		} {
			if r := s.dataDo(t, "GET", db.Name, "/notes", jwtReq(tok), ""); r.Status != 401 {
				t.Errorf("JWT %s: %s, want 401", name, r)
			}
		}
	})

	t.Run("stopped database wakes", func(t *testing.T) {
		waitFor(t, 30*time.Second, "the idle database to stop", func() bool { return s.postmasterOf(db.ID) == 0 })
		expect("request to a stopped database", s.dataDo(t, "GET", db.Name, "/items?select=name", anon, ""), 200, `[{"name":"apple"}]`)
		if s.postmasterOf(db.ID) == 0 {
			t.Fatal("no postmaster after the waking request")
		}
	})

	t.Run("deleted database", func(t *testing.T) {
		ok := c.createKey(other.Name, "publishable-keys", nil)
		expect("before delete", s.dataDo(t, "GET", other.ID, "/", map[string]string{"apikey": ok.Key}, ""), 200, "")
		c.MustDo("DELETE", "/customer/databases/"+other.ID, nil, 200, nil)
		if r := s.dataDo(t, "GET", other.ID, "/", map[string]string{"apikey": ok.Key}, ""); r.Status != 401 {
			t.Fatalf("key of a deleted database: %s, want 401", r)
		}
	})
}
