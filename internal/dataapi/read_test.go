package dataapi

import (
	"encoding/json"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

type tcase struct {
	name    string
	p       *Principal
	method  string
	target  string
	hdr     map[string]string
	body    string
	status  int
	want    string            // JSON compared semantically; "" skips; raw text when wantRaw
	wantRaw bool              // compare the body byte for byte
	headers map[string]string // expected header values
}

func runCases(t *testing.T, e *env, cases []tcase) {
	t.Helper()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := anonP
			if c.p != nil {
				p = *c.p
			}
			m := c.method
			if m == "" {
				m = "GET"
			}
			r := e.do(t, p, m, c.target, c.hdr, c.body)
			if r.status != c.status {
				t.Fatalf("status %d, want %d; body %s", r.status, c.status, r.body)
			}
			for k, v := range c.headers {
				if got := r.header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if c.want == "" {
				return
			}
			if c.wantRaw {
				if r.body != c.want {
					t.Fatalf("body %q, want %q", r.body, c.want)
				}
				return
			}
			var got, want any
			if err := json.Unmarshal([]byte(r.body), &got); err != nil {
				t.Fatalf("body is not JSON: %v: %s", err, r.body)
			}
			if err := json.Unmarshal([]byte(c.want), &want); err != nil {
				t.Fatalf("bad want: %v", err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Fatalf("body mismatch (-want +got):\n%s\nbody: %s", d, r.body)
			}
		})
	}
}

const (
	ada = "00000000-0000-0000-0000-000000000001"
	bob = "00000000-0000-0000-0000-000000000002"
)

func TestHandler_Read(t *testing.T) {
	e := mustOpenEnv(t)
	svc := serviceP
	adaP := userP(ada)
	runCases(t, e, []tcase{
		{name: "columns and order", target: "/posts?select=id,title&order=id.desc", status: 200,
			want:    `[{"id":3,"title":"Bobs post"},{"id":2,"title":"Second"},{"id":1,"title":"Hello world"}]`,
			headers: map[string]string{"Content-Range": "0-2/*", "Content-Type": "application/json; charset=utf-8"}},
		{name: "alias cast json path", target: "/posts?select=t:title,idtext:id::text,views:meta->views,v:meta->>views&id=eq.1", status: 200,
			want: `[{"t":"Hello world","idtext":"1","views":10,"v":"10"}]`},
		{name: "json path default alias", target: "/users?select=profile->>city&order=name", status: 200,
			want: `[{"city":"London"},{"city":"Paris"}]`},
		{name: "json array index", target: "/users?select=name,first:profile->langs->0&id=eq." + ada, status: 200,
			want: `[{"name":"Ada","first":"en"}]`},
		{name: "many-to-one", target: "/posts?select=title,users(name)&id=eq.3", status: 200,
			want: `[{"title":"Bobs post","users":{"name":"Bob"}}]`},
		{name: "many-to-one by column", target: "/posts?select=title,author_id(name)&id=eq.3", status: 200,
			want: `[{"title":"Bobs post","author_id":{"name":"Bob"}}]`},
		{name: "one-to-many ordered limited", target: "/posts?select=id,comments(body)&comments.order=likes.desc&comments.limit=1&id=eq.1", status: 200,
			want: `[{"id":1,"comments":[{"body":"nice"}]}]`},
		{name: "many-to-many", target: "/posts?select=id,tags(name)&order=id&tags.order=name", status: 200,
			want: `[{"id":1,"tags":[{"name":"go"},{"name":"sql"}]},{"id":2,"tags":[]},{"id":3,"tags":[{"name":"news"}]}]`},
		{name: "nested embed", target: "/users?select=name,posts(title,comments(body,users(name)))&id=eq." + bob, status: 200,
			want: `[{"name":"Bob","posts":[{"title":"Bobs post","comments":[{"body":"hi bob","users":{"name":"Ada"}}]}]}]`},
		{name: "ambiguous embed", target: "/users?select=name,comments(body)", status: 200},
		{name: "hint", target: "/comments?select=body,writer:users!author_id(name)&id=eq.1", status: 200,
			want: `[{"body":"nice","writer":{"name":"Bob"}}]`},
		{name: "inner join filters parent", target: "/posts?select=id,comments!inner(body)&comments.body=eq.hi%20bob", status: 200,
			want: `[{"id":3,"comments":[{"body":"hi bob"}]}]`},
		{name: "embedded filter without inner", target: "/posts?select=id,comments(body)&comments.likes=gt.2&order=id", status: 200,
			want: `[{"id":1,"comments":[{"body":"nice"}]},{"id":2,"comments":[]},{"id":3,"comments":[{"body":"hi bob"}]}]`},
		{name: "spread", target: "/posts?select=title,...users(author:name)&id=eq.1", status: 200,
			want: `[{"title":"Hello world","author":"Ada"}]`},
		{name: "not null embed filter", target: "/posts?select=id,comments()&comments=not.is.null&order=id", status: 200,
			want: `[{"id":1},{"id":3}]`},
		{name: "order on to-one embed", target: "/comments?select=id,users(name)&order=users(name).desc,id", status: 200,
			want: `[{"id":1,"users":{"name":"Bob"}},{"id":2,"users":{"name":"Ada"}},{"id":3,"users":{"name":"Ada"}}]`},
		{name: "aggregates", target: "/comments?select=post_id,count(),likes.sum(),likes.max()&order=post_id", status: 200,
			want: `[{"post_id":1,"count":2,"sum":4,"max":3},{"post_id":3,"count":1,"sum":5,"max":5}]`},
		{name: "bare count in embed", target: "/posts?select=id,comments(count)&order=id", status: 200,
			want: `[{"id":1,"comments":[{"count":2}]},{"id":2,"comments":[{"count":0}]},{"id":3,"comments":[{"count":1}]}]`},
		{name: "bare count at the top is a column", target: "/posts?select=count", status: 400},
		{name: "aggregate count in embed", target: "/posts?select=id,comments(count())&order=id", status: 200,
			want: `[{"id":1,"comments":[{"count":2}]},{"id":2,"comments":[{"count":0}]},{"id":3,"comments":[{"count":1}]}]`},
		{name: "avg with cast", target: "/comments?select=likes.avg()::int", status: 200, want: `[{"avg":3}]`},
		{name: "eq neq gt", target: "/posts?select=id&id=gt.1&id=neq.3", status: 200, want: `[{"id":2}]`},
		{name: "like star", target: "/posts?select=id&title=like.*world", status: 200, want: `[{"id":1}]`},
		{name: "ilike any", target: "/posts?select=id&title=ilike(any).{hello*,bob*}&order=id", status: 200, want: `[{"id":1},{"id":3}]`},
		{name: "match imatch", target: "/posts?select=id&title=imatch.^sec", status: 200, want: `[{"id":2}]`},
		{name: "in", target: `/posts?select=id&title=in.("Hello world",Second)&order=id`, status: 200, want: `[{"id":1},{"id":2}]`},
		{name: "is null", target: "/posts?select=id&body=is.null", status: 200, want: `[{"id":3}]`},
		{name: "not is null", target: "/posts?select=id&body=not.is.null&order=id", status: 200, want: `[{"id":1},{"id":2}]`},
		{name: "isdistinct", target: "/posts?select=id&body=isdistinct.more%20on%20postgres&order=id", status: 200, want: `[{"id":1},{"id":3}]`},
		{name: "enum eq", target: "/posts?select=id&status=eq.draft", status: 200, want: `[{"id":2}]`},
		{name: "fts", target: "/posts?select=id&search=fts.databases", status: 200, want: `[{"id":1}]`},
		{name: "plfts lang", target: "/posts?select=id&search=plfts(english).more%20postgres", status: 200, want: `[{"id":2}]`},
		{name: "wfts text column", target: "/posts?select=id&title=wfts(english).bobs", status: 200, want: `[{"id":3}]`},
		{name: "phfts", target: "/posts?select=id&search=phfts.first%20post", status: 200, want: `[{"id":1}]`},
		{name: "cs array", target: "/posts?select=id&labels=cs.{b}&order=id", status: 200, want: `[{"id":1},{"id":2}]`},
		{name: "cd array", target: "/posts?select=id&labels=cd.{a,b}&order=id", status: 200, want: `[{"id":1},{"id":2},{"id":3}]`},
		{name: "cs jsonb", target: `/users?select=name&profile=cs.{"city":"Paris"}`, status: 200, want: `[{"name":"Bob"}]`},
		{name: "ov range", target: "/posts?select=id&during=ov.[8,12)&order=id", status: 200, want: `[{"id":1},{"id":2}]`},
		{name: "sl sr adj", target: "/posts?select=id&during=sl.[25,26)&order=id", status: 200, want: `[{"id":1},{"id":2}]`},
		{name: "sr", target: "/posts?select=id&during=sr.[20,25)", status: 200, want: `[{"id":3}]`},
		{name: "nxr", target: "/posts?select=id&during=nxr.[0,15)", status: 200, want: `[{"id":1}]`},
		{name: "nxl", target: "/posts?select=id&during=nxl.[6,7)&order=id", status: 200, want: `[{"id":3}]`},
		{name: "adj", target: "/posts?select=id&during=adj.[40,50)", status: 200, want: `[{"id":3}]`},
		{name: "or", target: "/posts?select=id&or=(id.eq.1,title.eq.Second)&order=id", status: 200, want: `[{"id":1},{"id":2}]`},
		{name: "nested and in or", target: "/posts?select=id&or=(id.eq.3,and(status.eq.draft,labels.cs.{b}))&order=id", status: 200, want: `[{"id":2},{"id":3}]`},
		{name: "not or", target: "/posts?select=id&not.or=(id.eq.1,id.eq.2)", status: 200, want: `[{"id":3}]`},
		{name: "or quoted comma", target: `/posts?select=id&or=(title.eq."Hello world",title.in.("a,b",Second))&order=id`, status: 200, want: `[{"id":1},{"id":2}]`},
		{name: "or on embedded", target: "/posts?select=id,comments(id)&comments.or=(likes.gt.4,likes.lt.2)&id=eq.1", status: 200, want: `[{"id":1,"comments":[{"id":2}]}]`},
		{name: "json path filter", target: "/users?select=name&profile->>city=eq.London", status: 200, want: `[{"name":"Ada"}]`},
		{name: "limit offset", target: "/posts?select=id&order=id&limit=1&offset=1", status: 200, want: `[{"id":2}]`,
			headers: map[string]string{"Content-Range": "1-1/*"}},
		{name: "range header count", target: "/posts?select=id&order=id", hdr: map[string]string{"Range": "0-1", "Prefer": "count=exact"}, status: 206,
			want: `[{"id":1},{"id":2}]`, headers: map[string]string{"Content-Range": "0-1/3"}},
		{name: "count exact full", target: "/posts?select=id", hdr: map[string]string{"Prefer": "count=exact"}, status: 200,
			headers: map[string]string{"Content-Range": "0-2/3"}},
		{name: "count empty", target: "/posts?select=id&id=eq.99", hdr: map[string]string{"Prefer": "count=exact"}, status: 200,
			want: `[]`, headers: map[string]string{"Content-Range": "*/0"}},
		{name: "range not satisfiable", target: "/posts?offset=10", hdr: map[string]string{"Prefer": "count=exact"}, status: 416},
		{name: "count planned", target: "/posts?select=id", hdr: map[string]string{"Prefer": "count=planned"}, status: 200},
		{name: "count estimated", target: "/posts?select=id", hdr: map[string]string{"Prefer": "count=estimated"}, status: 200,
			headers: map[string]string{"Content-Range": "0-2/3"}},
		{name: "singular", target: "/posts?select=id,title&id=eq.1", hdr: map[string]string{"Accept": "application/vnd.pgrst.object+json"}, status: 200,
			want: `{"id":1,"title":"Hello world"}`, headers: map[string]string{"Content-Type": "application/vnd.pgrst.object+json; charset=utf-8"}},
		{name: "singular many", target: "/posts", hdr: map[string]string{"Accept": "application/vnd.pgrst.object+json"}, status: 406,
			want: `{"code":"PGRST116","details":"The result contains 3 rows","hint":null,"message":"JSON object requested, multiple (or no) rows returned"}`},
		{name: "csv", target: "/tags?select=id,name&order=id", hdr: map[string]string{"Accept": "text/csv"}, status: 200,
			want: "id,name\n1,go\n2,sql\n3,news", wantRaw: true},
		{name: "plan", target: "/posts?id=eq.1", hdr: map[string]string{"Accept": "application/vnd.pgrst.plan+json"}, status: 200},
		{name: "head", method: "HEAD", target: "/posts", status: 200, want: "", headers: map[string]string{"Content-Range": "0-2/*"}},
		{name: "view", target: "/published_posts?select=title&order=id", status: 200, want: `[{"title":"Hello world"},{"title":"Bobs post"}]`},
		{name: "star with embed", target: "/tags?select=*,posts(id)&id=eq.3", status: 200, want: `[{"id":3,"name":"news","posts":[{"id":3}]}]`},
		{name: "profile", target: "/items", hdr: map[string]string{"Accept-Profile": "api"}, status: 200, want: `[{"id":1,"name":"from api"}]`},
		{name: "profile not exposed", target: "/items", hdr: map[string]string{"Accept-Profile": "auth"}, status: 406},
		{name: "unknown table", target: "/nope", status: 404},
		{name: "unknown column", target: "/posts?select=nope", status: 400,
			want: `{"code":"42703","details":null,"hint":null,"message":"column posts.nope does not exist"}`},
		{name: "unknown relationship", target: "/posts?select=*,secretz(*)", status: 400},
		{name: "parse error", target: "/posts?select=id,(", status: 400},
		{name: "bad operator", target: "/posts?id=foo.1", status: 400},
		{name: "bad value type", target: "/posts?id=eq.abc", status: 400},
		{name: "anon no grant", target: "/secrets", status: 401},
		{name: "authenticated no grant", p: &adaP, target: "/secrets", status: 200},
		{name: "rls own rows", p: &adaP, target: "/notes?select=body", status: 200, want: `[{"body":"ada note"}]`},
		{name: "rls anon", target: "/notes", status: 401},
		{name: "service bypasses rls", p: &svc, target: "/notes?select=body&order=id", status: 200, want: `[{"body":"ada note"},{"body":"bob note"}]`},
		{name: "claims reach sql", p: &adaP, target: "/rpc/whoami", status: 200, want: `"authenticated:` + ada + `"`},
		{name: "accept unsupported", target: "/posts", hdr: map[string]string{"Accept": "image/png"}, status: 406},
	})
}

func TestHandler_Read_VisibleOnly(t *testing.T) {
	e := mustOpenEnv(t)
	limited := Principal{Role: "anon", Schemas: []string{"public"}, Tables: []string{"posts", "users"}, Anonymous: true}
	runCases(t, e, []tcase{
		{name: "listed table", p: &limited, target: "/posts?select=id&id=eq.1", status: 200, want: `[{"id":1}]`},
		{name: "embed listed", p: &limited, target: "/posts?select=id,users(name)&id=eq.1", status: 200, want: `[{"id":1,"users":{"name":"Ada"}}]`},
		{name: "table not listed", p: &limited, target: "/comments", status: 404},
		{name: "embed not listed", p: &limited, target: "/posts?select=id,comments(body)", status: 400},
		{name: "m2m through unlisted junction", p: &limited, target: "/posts?select=id,tags(name)", status: 400},
		{name: "rpc not listed", p: &limited, target: "/rpc/add?a=1", status: 404},
		{name: "profile not exposed", p: &limited, target: "/items", hdr: map[string]string{"Accept-Profile": "api"}, status: 406},
		{name: "platform schema never", p: &Principal{Role: "anon", Schemas: []string{"auth", "public"}}, target: "/items",
			hdr: map[string]string{"Accept-Profile": "auth"}, status: 406},
	})
}

func TestHandler_DDLRefreshesCache(t *testing.T) {
	e := mustOpenEnv(t)
	if r := e.do(t, anonP, "GET", "/fresh", nil, ""); r.status != 404 {
		t.Fatalf("before: %d %s", r.status, r.body)
	}
	if _, err := e.su.Exec(t.Context(), `CREATE TABLE fresh (id int); INSERT INTO fresh VALUES (7); GRANT SELECT ON fresh TO anon`); err != nil {
		t.Fatal(err)
	}
	r := e.do(t, anonP, "GET", "/fresh", nil, "")
	if r.status != 200 || strings.TrimSpace(r.body) != `[{"id":7}]` {
		t.Fatalf("after: %d %s", r.status, r.body)
	}
}

func TestHandler_OpenAPI(t *testing.T) {
	e := mustOpenEnv(t)
	limited := Principal{Role: "anon", Schemas: []string{"public"}, Tables: []string{"posts", "add"}, Anonymous: true}
	r := e.do(t, limited, "GET", "/", nil, "")
	if r.status != 200 {
		t.Fatalf("status %d %s", r.status, r.body)
	}
	var doc struct {
		Swagger string                    `json:"swagger"`
		Paths   map[string]any            `json:"paths"`
		Defs    map[string]map[string]any `json:"definitions"`
	}
	if err := json.Unmarshal([]byte(r.body), &doc); err != nil {
		t.Fatal(err)
	}
	var paths []string
	for p := range doc.Paths {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	if d := cmp.Diff([]string{"/", "/posts", "/rpc/add"}, paths); d != "" || doc.Swagger != "2.0" {
		t.Fatalf("paths (-want +got): %s", d)
	}
	if _, ok := doc.Defs["posts"]["properties"].(map[string]any)["title"]; !ok {
		t.Fatalf("posts definition lacks title: %v", doc.Defs["posts"])
	}
}
