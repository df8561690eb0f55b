package dataapi

import "testing"

func TestHandler_Write(t *testing.T) {
	e := mustOpenEnv(t)
	adaP, bobP := userP(ada), userP(bob)
	svc := serviceP
	rep := map[string]string{"Prefer": "return=representation"}
	runCases(t, e, []tcase{
		{name: "insert minimal", p: &adaP, method: "POST", target: "/tags", body: `{"name":"a1"}`, status: 201, want: "", wantRaw: true,
			headers: map[string]string{"Content-Range": "*/*"}},
		{name: "insert representation", p: &adaP, method: "POST", target: "/tags?select=name", hdr: rep, body: `{"name":"a2"}`, status: 201,
			want: `[{"name":"a2"}]`, headers: map[string]string{"Preference-Applied": "return=representation"}},
		{name: "insert headers-only location", p: &adaP, method: "POST", target: "/tags", hdr: map[string]string{"Prefer": "return=headers-only"},
			body: `{"id":100,"name":"a3"}`, status: 201, headers: map[string]string{"Location": "/tags?id=eq.100"}},
		{name: "bulk insert", p: &adaP, method: "POST", target: "/tags?select=name&order=name", hdr: rep, body: `[{"name":"b1"},{"name":"b2"}]`, status: 201,
			want: `[{"name":"b1"},{"name":"b2"}]`},
		{name: "bulk keys must match", p: &adaP, method: "POST", target: "/tags", body: `[{"name":"c1"},{"id":5}]`, status: 400},
		{name: "columns param", p: &adaP, method: "POST", target: "/tags?columns=name&select=name", hdr: rep, body: `[{"name":"c2","junk":1},{"name":"c3"}]`, status: 201,
			want: `[{"name":"c2"},{"name":"c3"}]`},
		{name: "missing default", p: &adaP, method: "POST", target: "/comments?select=body,likes&order=body", hdr: map[string]string{"Prefer": "return=representation, missing=default"},
			body: `[{"post_id":1,"author_id":"` + ada + `","body":"d1"},{"post_id":1,"author_id":"` + ada + `","body":"d2","likes":9}]`, status: 201,
			want: `[{"body":"d1","likes":0},{"body":"d2","likes":9}]`, headers: map[string]string{"Preference-Applied": "missing=default, return=representation"}},
		{name: "unknown column", p: &adaP, method: "POST", target: "/tags", body: `{"nope":1}`, status: 400,
			want: `{"code":"PGRST204","details":null,"hint":null,"message":"Could not find the 'nope' column of 'tags' in the schema cache"}`},
		{name: "invalid json", p: &adaP, method: "POST", target: "/tags", body: `{"name":`, status: 400},
		{name: "unique violation", p: &adaP, method: "POST", target: "/tags", body: `{"name":"go"}`, status: 409},
		{name: "fk violation", p: &adaP, method: "POST", target: "/post_tags", body: `{"post_id":999,"tag_id":1}`, status: 409},
		{name: "not null violation", p: &adaP, method: "POST", target: "/tags", body: `{"id":200}`, status: 400},
		{name: "upsert merge", p: &adaP, method: "POST", target: "/tags?on_conflict=name&select=id,name", hdr: map[string]string{"Prefer": "return=representation,resolution=merge-duplicates"},
			body: `{"id":1,"name":"go"}`, status: 201, want: `[{"id":1,"name":"go"}]`},
		{name: "upsert ignore", p: &adaP, method: "POST", target: "/tags?on_conflict=name&select=name", hdr: map[string]string{"Prefer": "return=representation,resolution=ignore-duplicates"},
			body: `[{"name":"go"},{"name":"new1"}]`, status: 201, want: `[{"name":"new1"}]`},
		{name: "patch", p: &adaP, method: "PATCH", target: "/posts?id=eq.2&select=id,title", hdr: rep, body: `{"title":"Second!"}`, status: 200,
			want: `[{"id":2,"title":"Second!"}]`, headers: map[string]string{"Content-Range": "0-0/*"}},
		{name: "patch minimal", p: &adaP, method: "PATCH", target: "/posts?id=eq.2", body: `{"body":"x"}`, status: 204},
		{name: "patch count exact", p: &adaP, method: "PATCH", target: "/posts?id=eq.2", hdr: map[string]string{"Prefer": "count=exact"}, body: `{"body":"x"}`, status: 204,
			headers: map[string]string{"Content-Range": "0-0/1"}},
		{name: "insert count exact", p: &adaP, method: "POST", target: "/tags", hdr: map[string]string{"Prefer": "count=exact"}, body: `[{"name":"cnt1"},{"name":"cnt2"}]`, status: 201,
			headers: map[string]string{"Content-Range": "*/2"}},
		{name: "patch with embed", p: &adaP, method: "PATCH", target: "/posts?id=eq.2&select=title,users(name)", hdr: rep, body: `{"title":"S"}`, status: 200,
			want: `[{"title":"S","users":{"name":"Ada"}}]`},
		{name: "put upsert", p: &adaP, method: "PUT", target: "/tags?id=eq.50&select=id,name", hdr: rep, body: `{"id":50,"name":"put"}`, status: 200,
			want: `[{"id":50,"name":"put"}]`},
		{name: "put mismatch", p: &adaP, method: "PUT", target: "/tags?id=eq.51", body: `{"id":52,"name":"x"}`, status: 400},
		{name: "put without pk filter", p: &adaP, method: "PUT", target: "/tags?name=eq.x", body: `{"id":52,"name":"x"}`, status: 405},
		{name: "delete", p: &adaP, method: "DELETE", target: "/tags?name=like.b*&select=name&order=name", hdr: rep, status: 200,
			want: `[{"name":"b1"},{"name":"b2"}]`},
		{name: "tx rollback", p: &adaP, method: "POST", target: "/tags?select=name", hdr: map[string]string{"Prefer": "return=representation, tx=rollback"},
			body: `{"name":"rolled"}`, status: 201, want: `[{"name":"rolled"}]`},
		{name: "rolled back not there", p: &adaP, target: "/tags?name=eq.rolled", status: 200, want: `[]`},
		{name: "max affected", p: &adaP, method: "DELETE", target: "/comments", hdr: map[string]string{"Prefer": "handling=strict, max-affected=1"}, status: 400},
		{name: "max affected kept rows", p: &adaP, target: "/comments?select=count()", status: 200, want: `[{"count":5}]`},
		{name: "strict invalid preference", p: &adaP, method: "POST", target: "/tags", hdr: map[string]string{"Prefer": "handling=strict, bogus=1"}, body: `{"name":"z"}`, status: 400},
		{name: "singular mutation rolls back", p: &adaP, method: "DELETE", target: "/comments?body=like.d*", hdr: map[string]string{"Accept": "application/vnd.pgrst.object+json", "Prefer": "return=representation"}, status: 406},
		{name: "singular kept rows", p: &adaP, target: "/comments?body=like.d*&select=body&order=body", status: 200, want: `[{"body":"d1"},{"body":"d2"}]`},
		{name: "anon cannot write", method: "POST", target: "/tags", body: `{"name":"anon"}`, status: 401},
		{name: "rls insert own", p: &bobP, method: "POST", target: "/notes?select=body", hdr: rep, body: `{"body":"bob 2"}`, status: 201, want: `[{"body":"bob 2"}]`},
		{name: "rls insert for other", p: &bobP, method: "POST", target: "/notes", body: `{"body":"x","owner":"` + ada + `"}`, status: 403},
		{name: "rls update other invisible", p: &bobP, method: "PATCH", target: "/notes?body=eq.ada%20note", hdr: rep, body: `{"body":"hacked"}`, status: 200, want: `[]`},
		{name: "rls service sees all", p: &svc, target: "/notes?select=body&order=id", status: 200, want: `[{"body":"ada note"},{"body":"bob note"},{"body":"bob 2"}]`},
		{name: "get cannot write via rpc", p: &adaP, target: "/rpc/new_tag?name=viaget", status: 405},
	})
}

func TestHandler_RPC(t *testing.T) {
	e := mustOpenEnv(t)
	adaP := userP(ada)
	runCases(t, e, []tcase{
		{name: "scalar get", target: "/rpc/add?a=1&b=2", status: 200, want: `3`},
		{name: "default arg", target: "/rpc/add?a=41", status: 200, want: `42`},
		{name: "scalar post", method: "POST", target: "/rpc/add", body: `{"a":2,"b":5}`, status: 200, want: `7`},
		{name: "setof scalar", target: "/rpc/numbers?n=3", status: 200, want: `[1,2,3]`},
		{name: "setof table with filter and select", target: "/rpc/posts_by?uid=" + ada + "&select=id,title&status=eq.draft", status: 200,
			want: `[{"id":2,"title":"Second"}]`},
		{name: "setof table embedding", target: "/rpc/posts_by?uid=" + bob + "&select=title,users(name)", status: 200,
			want: `[{"title":"Bobs post","users":{"name":"Bob"}}]`},
		{name: "returns table", target: "/rpc/stats", status: 200, want: `[{"total":3,"drafts":1}]`},
		{name: "void", method: "POST", target: "/rpc/nothing", status: 204},
		{name: "volatile via post", p: &adaP, method: "POST", target: "/rpc/new_tag", body: `{"name":"rpc1"}`, status: 200},
		{name: "volatile via get is read only", p: &adaP, target: "/rpc/new_tag?name=rpc2", status: 405},
		{name: "unknown function", target: "/rpc/nope", status: 404},
		{name: "wrong args", target: "/rpc/add?x=1", status: 404},
		{name: "bad arg value", target: "/rpc/add?a=x", status: 400},
		{name: "singular rpc", target: "/rpc/numbers?n=1", hdr: map[string]string{"Accept": "application/vnd.pgrst.object+json"}, status: 200, want: `1`},
	})
}
