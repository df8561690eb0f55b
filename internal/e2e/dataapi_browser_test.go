package e2e

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// rlsPage is the web application of TestDataAPI_BrowserRLS: supabase-js
// (its UMD bundle from npm) with the publishable key and the end user's
// JWT, listing the user's todos, adding one, and trying to add one in
// another user's name. What happened is shown on the page and in #result.
const rlsPage = `<!doctype html>
<html><head><meta charset="utf-8"><title>todos</title>
<script src="/supabase.js"></script>
<style>body{font:16px sans-serif;margin:2em} li{margin:.2em 0} .err{color:#b00} pre{white-space:pre-wrap}</style></head>
<body><h1>Todos of <span id="who"></span></h1><ul id="rows"></ul><p id="status"></p><pre id="result"></pre>
<script>
(async () => {
  const q = new URLSearchParams(location.search);
  document.getElementById('who').textContent = q.get('user');
  const out = {};
  try {
    const sb = supabase.createClient(q.get('api'), q.get('key'), {
      auth: { persistSession: false, autoRefreshToken: false },
      global: { headers: { Authorization: 'Bearer ' + q.get('token') } },
    });
    const ins = await sb.from('todos').insert({ title: 'added by ' + q.get('user') + ' in the browser' }).select('title');
    out.insert = ins.error ? { error: ins.error.message } : ins.data;
    const forged = await sb.from('todos').insert({ title: 'forged', owner: q.get('other') });
    out.forged = forged.error ? { code: forged.error.code } : 'accepted';
    const list = await sb.from('todos').select('title, owner').order('id');
    if (list.error) throw new Error(list.error.message || JSON.stringify(list.error));
    out.rows = list.data;
    for (const r of list.data) {
      const li = document.createElement('li');
      li.textContent = r.title;
      document.getElementById('rows').appendChild(li);
    }
    document.getElementById('status').textContent = 'forged insert: ' + JSON.stringify(out.forged);
  } catch (e) {
    out.error = String(e && e.message || e);
    document.getElementById('status').className = 'err';
    document.getElementById('status').textContent = 'refused: ' + out.error;
  }
  document.getElementById('result').textContent = JSON.stringify(out);
  document.body.dataset.done = '1';
})();
</script></body></html>`

// TestDataAPI_BrowserRLS: headless Chromium
// opens a page served from another origin than the API, signs two end
// users in with JWTs of the test's identity provider, and RLS policies on
// auth.uid() let each see and add only their own rows; the same page from
// an origin outside the key's allowed_origins is refused by CORS.
// Screenshots are written to the artifacts directory.
func TestDataAPI_BrowserRLS(t *testing.T) {
	needChromium(t)
	dir := supabaseDir(t)
	bundle, err := os.ReadFile(filepath.Join(dir, "node_modules", "@supabase", "supabase-js", "dist", "umd", "supabase.js"))
	if err != nil {
		t.Fatal(err)
	}
	app := http.NewServeMux()
	app.HandleFunc("GET /supabase.js", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/javascript")
		_, _ = w.Write(bundle)
	})
	app.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(rlsPage))
	})
	allowed, refused := httptest.NewServer(app), httptest.NewServer(app)
	defer allowed.Close()
	defer refused.Close()

	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("todos")
	const alice, bob = "00000000-0000-0000-0000-0000000000a1", "00000000-0000-0000-0000-0000000000b2"
	c.MustSQL(db.ID, `create table todos (id serial primary key, owner uuid not null default auth.uid(), title text not null);
		alter table todos enable row level security;
		create policy own on todos using (owner = auth.uid()) with check (owner = auth.uid());
		grant select, insert on todos to authenticated;
		grant usage on sequence todos_id_seq to authenticated;
		insert into todos (owner, title) values ('`+alice+`', 'alice: buy milk'), ('`+bob+`', 'bob: fix bike'), ('`+alice+`', 'alice: call mum')`)
	idp := newTestIdP(t)
	c.MustDo("PUT", "/customer/databases/"+db.Name+"/auth-config", idp.authConfig(), 200, nil)
	pk := c.createKey(db.Name, "publishable-keys", map[string]any{"allowed_origins": []string{allowed.URL}})

	artifacts := artifactsDir(t)
	t.Logf("screenshots in %s", artifacts)
	ctx := startBrowser(t, &browserLog{origin: allowed.URL}, 900, 600)
	open := func(page, user, sub, other string) map[string]any {
		t.Helper()
		q := url.Values{"api": {"http://" + s.Addr + "/data/" + db.ID}, "key": {pk.Key}, "user": {user},
			"token": {idp.token(t, map[string]any{"sub": sub})}, "other": {other}}
		if err := chromedp.Do(ctx,
			chromedp.Navigate(page+"/?"+q.Encode()),
			chromedp.WaitVisible(chromedp.CSS(`body[data-done="1"] #result`)),
		); err != nil {
			t.Fatalf("%s on %s: %v", user, page, err)
		}
		result, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#result")))
		if err != nil {
			t.Fatal(err)
		}
		shot, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		name := fmt.Sprintf("rls-%s-%s.png", user, strings.TrimPrefix(strings.ReplaceAll(page, ":", "_"), "http_//"))
		if err := os.WriteFile(filepath.Join(artifacts, name), shot, 0o644); err != nil {
			t.Fatal(err)
		}
		var out map[string]any
		if err := json.Unmarshal([]byte(result), &out); err != nil {
			t.Fatalf("%s: page result %q: %v", user, result, err)
		}
		return out
	}
	titles := func(out map[string]any) []string {
		rows, _ := out["rows"].([]any)
		var ts []string
		for _, r := range rows {
			ts = append(ts, r.(map[string]any)["title"].(string))
		}
		sort.Strings(ts)
		return ts
	}

	a := open(allowed.URL, "alice", alice, bob)
	if got := strings.Join(titles(a), "|"); got != "added by alice in the browser|alice: buy milk|alice: call mum" {
		t.Errorf("alice's page shows %q (%v)", got, a)
	}
	if f, _ := a["forged"].(map[string]any); f == nil || f["code"] != "42501" {
		t.Errorf("alice adding a row as bob: %v, want refused with 42501", a["forged"])
	}
	b := open(allowed.URL, "bob", bob, alice)
	if got := strings.Join(titles(b), "|"); got != "added by bob in the browser|bob: fix bike" {
		t.Errorf("bob's page shows %q (%v)", got, b)
	}
	r := c.MustSQL(db.ID, "select owner::text, title from todos where title like 'added by%' or title = 'forged' order by id")
	if fmt.Sprint(r.Rows) != fmt.Sprintf("[[%s added by alice in the browser] [%s added by bob in the browser]]", alice, bob) {
		t.Errorf("rows written from the browser: %v", r.Rows)
	}

	start := time.Now()
	x := open(refused.URL, "mallory", alice, bob)
	if x["error"] == nil || x["rows"] != nil {
		t.Errorf("page from an origin the key does not allow: %v, want a refused fetch", x)
	}
	if n := c.MustSQL(db.ID, "select count(*) from todos").Rows[0][0]; n != float64(5) {
		t.Errorf("%v rows after the refused page (in %s), want 5: it wrote through CORS", n, time.Since(start))
	}
}
