package dataapi

import (
	"testing"
)

// TestHandler_PostgRESTCompat covers PostgREST 12 behaviours beyond the
// basic dialect: embedding through views, limited PATCH/DELETE, CSV
// request bodies and the details of an ambiguous embedding (PGRST201).
func TestHandler_PostgRESTCompat(t *testing.T) {
	e := mustOpenEnv(t)
	if _, err := e.su.Exec(t.Context(), `
		CREATE TABLE messages (id int PRIMARY KEY, sender uuid REFERENCES users(id), recipient uuid REFERENCES users(id), body text);
		INSERT INTO messages VALUES (1, '`+ada+`', '`+bob+`', 'hi bob');
		GRANT SELECT ON messages TO anon;
		CREATE TABLE queue (id int PRIMARY KEY, v text);
		INSERT INTO queue SELECT g, 'job ' || g FROM generate_series(1, 6) g;
		GRANT ALL ON queue TO authenticated;
		CREATE VIEW renamed_posts AS SELECT p.id AS post_no, p.author_id AS writer, upper(p.title) AS loud FROM posts p;
		GRANT SELECT ON renamed_posts TO anon;
		CREATE VIEW post_stats AS SELECT p.id, (SELECT count(*) FROM comments c WHERE c.post_id = p.id) AS n, p.author_id
		  FROM posts p WHERE p.id IN (SELECT post_id FROM comments);
		GRANT SELECT ON post_stats TO anon`); err != nil {
		t.Fatal(err)
	}
	adaP := userP(ada)
	rep := map[string]string{"Prefer": "return=representation"}
	csvRep := map[string]string{"Prefer": "return=representation", "Content-Type": "text/csv"}
	const uc, ud = "00000000-0000-0000-0000-00000000000c", "00000000-0000-0000-0000-00000000000d"
	runCases(t, e, []tcase{
		// Embedding through views: the view's columns that are a base
		// table's columns unchanged carry that table's foreign keys.
		{name: "view many-to-one", target: "/published_posts?select=title,users(name)&order=id", status: 200,
			want: `[{"title":"Hello world","users":{"name":"Ada"}},{"title":"Bobs post","users":{"name":"Bob"}}]`},
		{name: "view one-to-many", target: "/users?select=name,published_posts(title)&order=name", status: 200,
			want: `[{"name":"Ada","published_posts":[{"title":"Hello world"}]},{"name":"Bob","published_posts":[{"title":"Bobs post"}]}]`},
		{name: "table to view many-to-one", target: "/comments?select=id,published_posts(title)&order=id", status: 200,
			want: `[{"id":1,"published_posts":{"title":"Hello world"}},{"id":2,"published_posts":{"title":"Hello world"}},{"id":3,"published_posts":{"title":"Bobs post"}}]`},
		{name: "view one-to-many to table", target: "/published_posts?select=id,comments(body)&comments.order=id&order=id", status: 200,
			want: `[{"id":1,"comments":[{"body":"nice"},{"body":"thanks"}]},{"id":3,"comments":[{"body":"hi bob"}]}]`},
		{name: "view with renamed columns", target: "/renamed_posts?select=post_no,users(name)&order=post_no&limit=1", status: 200,
			want: `[{"post_no":1,"users":{"name":"Ada"}}]`},
		{name: "renamed view column one-to-many", target: "/renamed_posts?select=post_no,comments(id)&post_no=eq.3", status: 200,
			want: `[{"post_no":3,"comments":[{"id":3}]}]`},

		{name: "view with subqueries", target: "/post_stats?select=id,n,users(name)&order=id", status: 200,
			want: `[{"id":1,"n":2,"users":{"name":"Ada"}},{"id":3,"n":1,"users":{"name":"Bob"}}]`},

		// PGRST201 with PostgREST 12's details array and hint.
		{name: "ambiguous embedding", target: "/messages?select=id,users(name)", status: 300,
			want: `{"code":"PGRST201","details":[` +
				`{"cardinality":"many-to-one","embedding":"messages with users","relationship":"messages_recipient_fkey using messages(recipient) and users(id)"},` +
				`{"cardinality":"many-to-one","embedding":"messages with users","relationship":"messages_sender_fkey using messages(sender) and users(id)"}],` +
				`"hint":"Try changing 'users' to one of the following: 'users!messages_recipient_fkey', 'users!messages_sender_fkey'. Find the desired relationship in the 'details' key.",` +
				`"message":"Could not embed because more than one relationship was found for 'messages' and 'users'"}`},
		{name: "ambiguous one-to-many", target: "/users?select=name,messages(id)", status: 300},
		{name: "hint resolves it", target: "/messages?select=id,from:users!messages_sender_fkey(name),to:users!messages_recipient_fkey(name)", status: 200,
			want: `[{"id":1,"from":{"name":"Ada"},"to":{"name":"Bob"}}]`},

		// Limited update and delete.
		{name: "patch limit", p: &adaP, method: "PATCH", target: "/queue?order=id.desc&limit=2", body: `{"v":"taken"}`, status: 204,
			headers: map[string]string{"Content-Range": "0-1/*"}},
		{name: "patch limit offset filtered", p: &adaP, method: "PATCH", target: "/queue?v=like.job*&order=id&limit=1&offset=1&select=id", hdr: rep, body: `{"v":"second"}`, status: 200,
			want: `[{"id":2}]`},
		{name: "delete limit", p: &adaP, method: "DELETE", target: "/queue?order=id&limit=2", status: 204},
		{name: "what is left", p: &adaP, target: "/queue?select=id,v&order=id", status: 200,
			want: `[{"id":3,"v":"job 3"},{"id":4,"v":"job 4"},{"id":5,"v":"taken"},{"id":6,"v":"taken"}]`},
		{name: "limit without order", p: &adaP, method: "DELETE", target: "/queue?limit=1", status: 400,
			want: `{"code":"PGRST109","details":null,"hint":"Apply an 'order' using unique column(s)","message":"A 'limit' was applied without an explicit 'order'"}`},
		{name: "nothing deleted by the refusal", p: &adaP, target: "/queue?select=count()", status: 200, want: `[{"count":4}]`},
		{name: "limit on a view", p: &adaP, method: "DELETE", target: "/published_posts?order=id&limit=1", status: 400},

		// CSV request bodies.
		{name: "csv insert", p: &adaP, method: "POST", target: "/users?select=name,email,profile&order=name", hdr: csvRep,
			body: "id,name,email\n" + uc + ",Cy,NULL\n" + ud + ",\"Di, the second\",\n", status: 201,
			want: `[{"name":"Cy","email":null,"profile":{}},{"name":"Di, the second","email":"","profile":{}}]`},
		{name: "csv typed columns", p: &adaP, method: "POST", target: "/queue?select=id,v", hdr: csvRep,
			body: "id,v\n10,ten\n11,NULL", status: 201, want: `[{"id":10,"v":"ten"},{"id":11,"v":null}]`},
		{name: "csv patch", p: &adaP, method: "PATCH", target: "/queue?id=eq.10&select=v", hdr: csvRep,
			body: "v\nTEN\n", status: 200, want: `[{"v":"TEN"}]`},
		{name: "csv ragged", p: &adaP, method: "POST", target: "/queue", hdr: csvRep, body: "id,v\n12\n", status: 400},
		{name: "csv unknown column", p: &adaP, method: "POST", target: "/queue", hdr: csvRep, body: "id,nope\n12,x\n", status: 400},
		{name: "csv bad value", p: &adaP, method: "POST", target: "/queue", hdr: csvRep, body: "id,v\ntwelve,x\n", status: 400},
	})
}
