package e2e

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/platform"
)

// Functions end to end through a real server (also ro tokens, bad
// bundles, runs across a restart and a crash).

type fnRun struct {
	ID          string  `json:"id"`
	FunctionID  string  `json:"function_id"`
	VersionID   string  `json:"version_id"`
	Status      string  `json:"status"`
	TriggerType string  `json:"trigger_type"`
	InputJSON   *string `json:"input_json"`
	ResultJSON  *string `json:"result_json"`
	Error       *string `json:"error"`
	DurationMS  *int64  `json:"duration_ms"`
}

type fnLog struct {
	Level   string `json:"level"`
	Message string `json:"message"`
}

type fnObject struct {
	ID           string  `json:"id"`
	Name         string  `json:"name"`
	Version      int     `json:"version"`
	VersionID    string  `json:"version_id"`
	BundleRef    string  `json:"bundle_ref"`
	BundleDigest string  `json:"bundle_digest"`
	RunAs        string  `json:"run_as"`
	CronSchedule *string `json:"cron_schedule"`
	NextRunAt    *string `json:"next_run_at"`
}

// fnDB is a client bound to one database's functions.
type fnDB struct {
	c  *Client
	db string
}

func (f fnDB) path(p string) string { return "/customer/databases/" + f.db + p }

// upload posts raw bundle bytes and returns the bundle_ref.
func (f fnDB) upload(raw []byte) string {
	f.c.t.Helper()
	var b struct {
		BundleRef    string `json:"bundle_ref"`
		BundleDigest string `json:"bundle_digest"`
		Size         int    `json:"size"`
	}
	f.c.MustDo("POST", f.path("/functions/bundles"), raw, 201, &b)
	if b.Size != len(raw) || !strings.HasPrefix(b.BundleRef, "db9://bundles/sha256:") || b.BundleDigest != strings.TrimPrefix(b.BundleRef, "db9://bundles/") {
		f.c.t.Fatalf("upload answer %+v", b)
	}
	return b.BundleRef
}

// deploy uploads src and creates function name with the extra fields.
func (f fnDB) deploy(name string, src []byte, extra map[string]any) fnObject {
	f.c.t.Helper()
	body := map[string]any{"name": name, "entrypoint": "index.handler", "bundle_ref": f.upload(src)}
	for k, v := range extra {
		body[k] = v
	}
	var fn fnObject
	f.c.MustDo("POST", f.path("/functions"), body, 201, &fn)
	return fn
}

func (f fnDB) invoke(fn string, input any, key string) fnRun {
	f.c.t.Helper()
	body := map[string]any{"input": input}
	if key != "" {
		body["idempotency_key"] = key
	}
	var r fnRun
	f.c.MustDo("POST", f.path("/functions/"+fn+"/invoke"), body, 200, &r)
	return r
}

// succeeded invokes fn and checks it succeeded with result_json want.
func (f fnDB) succeeded(fn string, input any, want string) fnRun {
	f.c.t.Helper()
	r := f.invoke(fn, input, "")
	if r.Status != "succeeded" || r.ResultJSON == nil || *r.ResultJSON != want {
		f.c.t.Fatalf("invoke %s: %+v (error %v, result %v); want succeeded with %s", fn, r, deref(r.Error), deref(r.ResultJSON), want)
	}
	return r
}

func zipOf(t *testing.T, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for name, body := range files {
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(body))
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestFunctions_EndToEnd(t *testing.T) {
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"hello":"from the test origin","path":%q}`, r.URL.Path)
	}))
	defer origin.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: origin.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DB9_UNSAFE_FETCH_TRUST_ORIGIN", origin.URL)
	t.Setenv("DB9_UNSAFE_FETCH_TRUST_CA", ca)
	s := StartServer(t)
	c := s.Anonymous()
	d := c.CreateDB("fns")
	f := fnDB{c, d.ID}

	var cjsRun fnRun
	t.Run("CommonJS with console.log in order", func(t *testing.T) {
		f.deploy("cjs", []byte(`module.exports = { handler: async (input, ctx) => {
			console.log("one");
			console.warn("two", input.n);
			console.error({three: 3});
			return { sum: input.n + 1, trigger: ctx.self.triggerType, fn: ctx.self.functionId.length > 0 };
		} };`), nil)
		cjsRun = f.succeeded("cjs", map[string]any{"n": 41}, `{"sum":42,"trigger":"invoke","fn":true}`)
		if cjsRun.InputJSON == nil || *cjsRun.InputJSON != `{"n":41}` || cjsRun.TriggerType != "invoke" || cjsRun.DurationMS == nil {
			t.Fatalf("run object %+v", cjsRun)
		}
		var logs []fnLog
		c.MustDo("GET", f.path("/functions/cjs/runs/"+cjsRun.ID+"/logs"), nil, 200, &logs)
		want := []fnLog{{"info", "one"}, {"warn", "two 41"}, {"error", `{"three":3}`}}
		if fmt.Sprint(logs) != fmt.Sprint(want) {
			t.Fatalf("logs %+v, want %+v", logs, want)
		}
	})

	t.Run("ESM zip with its own module", func(t *testing.T) {
		f.deploy("esm", zipOf(t, map[string]string{
			"index.mjs":    `import { double } from "./lib/math.mjs"; export async function handler(input) { return { esm: double(input) }; }`,
			"lib/math.mjs": `export const double = (x) => x * 2;`,
		}), nil)
		f.succeeded("esm", 21, `{"esm":42}`)
	})

	t.Run("TypeScript", func(t *testing.T) {
		f.deploy("ts", []byte(`interface In { name: string }
			export const handler = async (input: In): Promise<{ greeting: string }> => ({ greeting: "hi " + input.name });`), nil)
		f.succeeded("ts", map[string]any{"name": "ts"}, `{"greeting":"hi ts"}`)
	})

	t.Run("ctx.db.query under RLS as run_as", func(t *testing.T) {
		c.MustSQL(d.ID, `create table notes (id int primary key, owner text, body text);
			alter table notes enable row level security;
			create policy public_notes on notes for select to authenticated using (owner = 'public');
			grant select on notes to authenticated;
			insert into notes values (1, 'public', 'visible'), (2, 'secret', 'hidden')`)
		src := []byte(`module.exports.handler = async (input, ctx) => {
			const who = await ctx.db.query("select current_user as u, session_user as s");
			const r = await ctx.db.query("select body from notes where id > $1 order by id", [0]);
			let escaped = "no error";
			try { await ctx.db.query("set role none; select count(*) from notes"); } catch (e) { escaped = e.code; }
			return { user: who.rows[0][0], session: who.rows[0][1], bodies: r.rows.map(x => x[0]), count: r.row_count, after_reset: escaped };
		};`)
		f.deploy("rls", src, nil) // run_as defaults to authenticated
		f.succeeded("rls", nil, `{"user":"authenticated","session":"_db9_fn_authenticated","bodies":["visible"],"count":1,"after_reset":"42501"}`)
		// the same again on the warm worker and pooled session
		f.succeeded("rls", nil, `{"user":"authenticated","session":"_db9_fn_authenticated","bodies":["visible"],"count":1,"after_reset":"42501"}`)
		f.deploy("rls-bypass", src, map[string]any{"bypass_rls": true})
		f.succeeded("rls-bypass", nil, `{"user":"_db9_fnb_authenticated","session":"_db9_fnb_authenticated","bodies":["visible","hidden"],"count":2,"after_reset":"no error"}`)
	})

	t.Run("ctx.fs9 within fs9_scope", func(t *testing.T) {
		c.MustSQL(d.ID, `select fs9_write('/data/in.txt', 'hello fs9')`)
		f.deploy("files", []byte(`module.exports.handler = async (input, ctx) => {
			const text = await ctx.fs9.read("/data/in.txt");
			await ctx.fs9.write("/data/out/copy.txt", text.toUpperCase());
			let outside = "allowed";
			try { await ctx.fs9.write("/data/in.txt", "x"); } catch (e) { outside = e.code; }
			const names = (await ctx.fs9.list("/data/out")).map(e => e.path);
			return { text, copy: await ctx.fs9.read("/data/out/copy.txt"), names, outside, exists: await ctx.fs9.exists("/nope") };
		};`), map[string]any{"fs9_scope": map[string]any{"read": []string{"/data", "/nope"}, "write": []string{"/data/out"}}})
		f.succeeded("files", nil, `{"text":"hello fs9","copy":"HELLO FS9","names":["/data/out/copy.txt"],"outside":"EACCES","exists":false}`)
	})

	t.Run("fetch to an allowed HTTPS origin", func(t *testing.T) {
		f.deploy("fetch", []byte(`module.exports.handler = async (input) => {
			const r = await fetch(input.url + "/hello");
			let refused = "allowed";
			try { await fetch("https://127.0.0.1:1/"); } catch (e) { refused = "refused"; }
			return { status: r.status, body: await r.json(), refused };
		};`), map[string]any{"network_allowlist": []string{origin.URL}})
		f.succeeded("fetch", map[string]any{"url": origin.URL}, `{"status":200,"body":{"hello":"from the test origin","path":"/hello"},"refused":"refused"}`)
	})

	secret := "s3cr3t-" + platform.NewID(20)
	t.Run("secret read, never shown", func(t *testing.T) {
		var si map[string]any
		c.MustDo("PUT", f.path("/secrets/API_KEY"), map[string]any{"value": secret}, 200, &si)
		if si["name"] != "API_KEY" || si["value"] != nil {
			t.Fatalf("put secret answer %v", si)
		}
		fn := f.deploy("secret", []byte(`module.exports.handler = async (input, ctx) => {
			const v = ctx.secrets.get("API_KEY");
			console.log("the key is " + v);
			return { length: v.length, prefix: v.slice(0, 7), unbound: ctx.secrets.get("OTHER") === undefined };
		};`), map[string]any{"secret_bindings": []string{"API_KEY"}})
		r := f.succeeded("secret", nil, fmt.Sprintf(`{"length":%d,"prefix":"s3cr3t-","unbound":true}`, len(secret)))
		var logs []fnLog
		c.MustDo("GET", f.path("/functions/secret/runs/"+r.ID+"/logs"), nil, 200, &logs)
		if len(logs) != 1 || !strings.Contains(logs[0].Message, "[secret API_KEY]") {
			t.Fatalf("logs %+v; want the value redacted", logs)
		}
		for _, p := range []string{"/secrets", "/functions", "/functions/" + fn.ID, "/functions/secret/runs", "/functions/secret/runs/" + r.ID,
			"/functions/secret/runs/" + r.ID + "/logs"} {
			if code, body := c.Do("GET", f.path(p), nil); code != 200 || strings.Contains(string(body), secret) {
				t.Fatalf("GET %s: %d, shows the secret: %v", p, code, strings.Contains(string(body), secret))
			}
		}
		if strings.Contains(s.Log(), secret) {
			t.Fatal("the server log shows the secret value")
		}
	})

	t.Run("20 concurrent invokes with one idempotency key run once", func(t *testing.T) {
		c.MustSQL(d.ID, `create table hits (n serial primary key, at timestamptz default now())`)
		f.deploy("once", []byte(`module.exports.handler = async (input, ctx) => {
			await new Promise(r => setTimeout(r, 300));
			await ctx.db.query("insert into hits default values");
			return (await ctx.db.query("select count(*)::int from hits")).rows[0][0];
		};`), map[string]any{"run_as": "admin"})
		var wg sync.WaitGroup
		runs := make([]fnRun, 20)
		for i := range runs {
			wg.Add(1)
			go func() { defer wg.Done(); runs[i] = f.invoke("once", i, "key-1") }()
		}
		wg.Wait()
		for _, r := range runs {
			if r.ID != runs[0].ID || r.Status != "succeeded" || deref(r.ResultJSON) != "1" {
				t.Fatalf("runs differ or failed: %+v vs %+v", r, runs[0])
			}
		}
		if n := c.MustSQL(d.ID, `select count(*) from hits`).Rows[0][0]; n != float64(1) {
			t.Fatalf("the handler ran %v times", n)
		}
		var list []fnRun
		c.MustDo("GET", f.path("/functions/once/runs"), nil, 200, &list)
		if len(list) != 1 {
			t.Fatalf("%d runs recorded, want 1", len(list))
		}
		// another key runs again
		if r := f.invoke("once", 0, "key-2"); r.ID == runs[0].ID || deref(r.ResultJSON) != "2" {
			t.Fatalf("a new key: %+v", r)
		}
	})

	t.Run("bad deploys are 422", func(t *testing.T) {
		good := f.upload([]byte(`module.exports.handler = () => 1`))
		cases := []struct {
			name, says string
			body       map[string]any
		}{
			{"syntax error", "invalid bundle", map[string]any{"bundle_ref": f.upload([]byte(`module.exports.handler = (=> 1`))}},
			{"no handler export", "handler", map[string]any{"bundle_ref": f.upload([]byte(`module.exports.other = () => 1`))}},
			{"top level throws", "boom at load", map[string]any{"bundle_ref": f.upload([]byte(`throw new Error("boom at load")`))}},
			{"digest mismatch", "bundle_digest", map[string]any{"bundle_ref": good, "bundle_digest": "sha256:" + strings.Repeat("0", 64)}},
			{"unknown bundle", "uploaded", map[string]any{"bundle_ref": "db9://bundles/sha256:" + strings.Repeat("1", 64)}},
			{"missing fs9 file", "/no/such.js", map[string]any{"bundle_ref": "fs9:///no/such.js"}},
			{"no S3 storage configured", "--s3-endpoint", map[string]any{"bundle_ref": "s3://bundles/index.js"}},
			{"bad cron", "cron_schedule", map[string]any{"bundle_ref": good, "cron_schedule": "every minute"}},
			{"superuser run_as", "run_as", map[string]any{"bundle_ref": good, "run_as": "postgres"}},
			{"platform run_as", "reserved", map[string]any{"bundle_ref": good, "run_as": "_db9_fn_authenticated"}},
			{"missing run_as", "does not exist", map[string]any{"bundle_ref": good, "run_as": "nobody_here"}},
			{"bad allowlist", "network_allowlist", map[string]any{"bundle_ref": good, "network_allowlist": []string{"ftp://x"}}},
			{"bad scope", "fs9_scope", map[string]any{"bundle_ref": good, "fs9_scope": map[string]any{"read": []string{"relative"}}}},
			{"limits too big", "timeout_ms", map[string]any{"bundle_ref": good, "limits": map[string]any{"timeout_ms": 10_000_000}}},
		}
		for _, tc := range cases {
			tc.body["name"] = "bad"
			code, b := c.Do("POST", f.path("/functions"), tc.body)
			if code != 422 || !strings.Contains(string(b), tc.says) {
				t.Errorf("%s: %d %s; want 422 saying %q", tc.name, code, b, tc.says)
			}
		}
		if code, _ := c.Do("GET", f.path("/functions/bad"), nil); code != 404 {
			t.Fatalf("a refused deploy left a function: %d", code)
		}
		// a schedule is stored with its next tick; fs9:/// bundles deploy
		c.MustSQL(d.ID, `select fs9_write('/bundles/tick.js', 'module.exports.handler = () => "tick"')`)
		var fn fnObject
		c.MustDo("POST", f.path("/functions"), map[string]any{"name": "tick", "entrypoint": "index.handler",
			"bundle_ref": "fs9:///bundles/tick.js", "cron_schedule": "*/5 * * * *"}, 201, &fn)
		if deref(fn.CronSchedule) != "*/5 * * * *" || fn.NextRunAt == nil {
			t.Fatalf("scheduled function %+v", fn)
		}
		if code, _ := c.Do("POST", f.path("/functions"), map[string]any{"name": "tick", "bundle_ref": good}); code != 409 {
			t.Fatalf("name taken: %d, want 409", code)
		}
		var up fnObject
		c.MustDo("PUT", f.path("/functions/tick"), map[string]any{"bundle_ref": good, "cron_schedule": ""}, 200, &up)
		if up.Version != 2 || up.VersionID == fn.VersionID || up.CronSchedule != nil || up.NextRunAt != nil {
			t.Fatalf("update %+v", up)
		}
		f.succeeded("tick", nil, "1")
	})

	t.Run("ro token reads but cannot deploy, invoke or manage secrets", func(t *testing.T) {
		ro := &Client{t: t, base: c.base, Token: c.newToken("ro-fn", scopeOf("ro", d.ID)).Token}
		for _, p := range []string{"/functions", "/functions/cjs", "/functions/cjs/runs", "/functions/cjs/runs/" + cjsRun.ID,
			"/functions/cjs/runs/" + cjsRun.ID + "/logs"} {
			ro.MustDo("GET", f.path(p), nil, 200, nil)
		}
		for _, r := range []struct{ method, path string }{{"POST", "/functions/bundles"}, {"POST", "/functions"}, {"PUT", "/functions/cjs"},
			{"DELETE", "/functions/cjs"}, {"POST", "/functions/cjs/invoke"}, {"GET", "/secrets"}, {"PUT", "/secrets/X"}, {"DELETE", "/secrets/API_KEY"}} {
			if code, b := ro.Do(r.method, f.path(r.path), map[string]any{"name": "x", "bundle_ref": "db9://x", "value": "v"}); code != 403 {
				t.Errorf("ro %s %s: %d %s; want 403", r.method, r.path, code, b)
			}
		}
	})

	t.Run("the front door refuses the platform's function roles", func(t *testing.T) {
		admin := fmt.Sprintf("postgres://%s.admin:%s@%s/postgres?sslmode=disable", d.ID, d.AdminPassword, s.PGAddr)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Fatalf("admin login (the path the refusals below take): %v", err)
		}
		conn.Close(ctx)
		for _, role := range []string{"_db9_fn_authenticated", "_db9_fnb_authenticated"} {
			url := fmt.Sprintf("postgres://%s.%s:%s@%s/postgres?sslmode=disable", d.ID, role, d.AdminPassword, s.PGAddr)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			conn, err := pgx.Connect(ctx, url)
			cancel()
			if err == nil {
				conn.Close(context.Background())
				t.Fatalf("logged in as %s", role)
			}
			if !strings.Contains(err.Error(), "28") {
				t.Fatalf("login as %s: %v; want an authentication error", role, err)
			}
		}
	})

	t.Run("a branch has the functions and secrets", func(t *testing.T) {
		b := c.BranchActive(d.ID, "fns-branch", nil)
		fb := fnDB{c, b.ID}
		fb.succeeded("cjs", map[string]any{"n": 1}, `{"sum":2,"trigger":"invoke","fn":true}`)
		fb.succeeded("secret", nil, fmt.Sprintf(`{"length":%d,"prefix":"s3cr3t-","unbound":true}`, len(secret)))
		var list []fnRun
		c.MustDo("GET", fb.path("/functions/cjs/runs"), nil, 200, &list)
		if len(list) != 1 {
			t.Fatalf("branch runs: %d, want its own 1", len(list))
		}
	})

	t.Run("runs survive a restart; a run cut by a crash is failed", func(t *testing.T) {
		f.deploy("slow", []byte(`module.exports.handler = () => new Promise(r => setTimeout(() => r("late"), 60000));`),
			map[string]any{"limits": map[string]any{"timeout_ms": 120000}})
		go func() { _, _, _ = c.TryDo("POST", f.path("/functions/slow/invoke"), map[string]any{}) }()
		var running []fnRun
		waitFor(t, 30*time.Second, "the slow run to be running", func() bool {
			_, b := c.Do("GET", f.path("/functions/slow/runs?status=running"), nil)
			return json.Unmarshal(b, &running) == nil && len(running) == 1
		})
		s.Kill9()
		s.Start()
		var got fnRun
		c.MustDo("GET", f.path("/functions/slow/runs/"+running[0].ID), nil, 200, &got)
		if got.Status != "failed" || !strings.Contains(deref(got.Error), "server stopped") {
			t.Fatalf("run cut by the crash: %+v %s", got, deref(got.Error))
		}
		c.MustDo("GET", f.path("/functions/cjs/runs/"+cjsRun.ID), nil, 200, &got)
		if got.Status != "succeeded" || deref(got.ResultJSON) != `{"sum":42,"trigger":"invoke","fn":true}` {
			t.Fatalf("run after restart: %+v", got)
		}
		f.succeeded("cjs", map[string]any{"n": 1}, `{"sum":2,"trigger":"invoke","fn":true}`)
		c.MustDo("DELETE", f.path("/functions/slow"), nil, 200, nil)
		if code, _ := c.Do("GET", f.path("/functions/slow/runs/"+running[0].ID), nil); code != 404 {
			t.Fatalf("runs of a deleted function: %d", code)
		}
		// Invokes resolve functions through the server's cache: a delete
		// and a new function of the same name apply to the next invoke.
		f.deploy("slow", []byte(`module.exports.handler = () => "fast now";`), nil)
		f.succeeded("slow", nil, `"fast now"`)
		c.MustDo("DELETE", f.path("/functions/slow"), nil, 200, nil)
		if code, b := c.Do("POST", f.path("/functions/slow/invoke"), map[string]any{}); code != 404 {
			t.Fatalf("invoke of a deleted function: %d %s", code, b)
		}
		f.deploy("slow", []byte(`module.exports.handler = () => "again";`), nil)
		f.succeeded("slow", nil, `"again"`)
	})
}
