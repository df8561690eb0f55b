package e2e

import (
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFunctions_Containment through the real
// server: each case fails if its limit is removed — a timeout, a memory
// limit, the address guard of fetch, the missing Node APIs, fs9_scope,
// the database a run is bound to, the per-database share of workers.
func TestFunctions_Containment(t *testing.T) {
	// private is an HTTPS server on loopback that functions must never
	// reach; origin is the test's allowed origin (exempt from the address
	// guard by DB9_UNSAFE_FETCH_TRUST_*), which redirects to private.
	// httptest's servers share one certificate, so only the guard can
	// refuse private.
	private := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, "private data")
	}))
	defer private.Close()
	origin := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, private.URL+"/secret", http.StatusFound)
			return
		}
		fmt.Fprint(w, "public data")
	}))
	defer origin.Close()
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: origin.Certificate().Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("DB9_UNSAFE_FETCH_TRUST_ORIGIN", origin.URL)
	t.Setenv("DB9_UNSAFE_FETCH_TRUST_CA", ca)
	s := StartServer(t)
	a, b := s.Anonymous(), s.Anonymous() // two customers
	dbA, dbB := a.CreateDB("contain-a"), b.CreateDB("contain-b")
	fa, fb := fnDB{a, dbA.ID}, fnDB{b, dbB.ID}
	fb.deploy("fast", []byte(`module.exports.handler = () => "fast"`), nil)

	t.Run("an infinite loop ends timed_out within timeout_ms + 1 s", func(t *testing.T) {
		fa.deploy("loop", []byte(`module.exports.handler = () => { for (;;) {} }`), map[string]any{"limits": map[string]any{"timeout_ms": 1000}})
		r := fa.invoke("loop", nil, "")
		if r.Status != "timed_out" || r.DurationMS == nil || *r.DurationMS > 2000 {
			t.Fatalf("run %+v (duration %v ms); want timed_out within 2000 ms", r, deref64(r.DurationMS))
		}
		fb.succeeded("fast", nil, `"fast"`)
	})

	t.Run("unbounded allocation fails (memory) while the server and other functions serve", func(t *testing.T) {
		fa.deploy("hog", []byte(`module.exports.handler = () => { const keep = []; for (;;) keep.push(new Array(1 << 16).fill(keep.length)) }`),
			map[string]any{"limits": map[string]any{"memory_mb": 64, "timeout_ms": 60000}})
		done := make(chan fnRun, 1)
		go func() { done <- fa.invoke("hog", nil, "") }()
		// Other functions and the API answer while the hog grows and dies.
		for i := 0; i < 3; i++ {
			fb.succeeded("fast", nil, `"fast"`)
			a.MustSQL(dbA.ID, "select 1")
		}
		r := <-done
		if r.Status != "failed" || !strings.Contains(deref(r.Error), "memory") {
			t.Fatalf("hog run %+v (error %s); want failed with a memory error", r, deref(r.Error))
		}
		fb.succeeded("fast", nil, `"fast"`)
		fa.deploy("after-hog", []byte(`module.exports.handler = () => "alive"`), nil)
		fa.succeeded("after-hog", nil, `"alive"`)
	})

	t.Run("fetch never reaches a private address", func(t *testing.T) {
		pu, _ := url.Parse(private.URL)
		port := pu.Port()
		targets := []string{
			"https://127.0.0.1:" + port + "/secret",
			"https://10.0.0.1/",
			"https://169.254.169.254/latest/meta-data/",
			"https://[::1]:" + port + "/secret",
			"https://localhost:" + port + "/secret", // a name resolving to loopback
			origin.URL + "/redirect",                // allowed, then redirected to 127.0.0.1
		}
		// Every target's origin is allowed: only the address guard refuses.
		allow := []string{origin.URL, "https://127.0.0.1:" + port, "https://10.0.0.1", "https://169.254.169.254",
			"https://[::1]:" + port, "https://localhost:" + port}
		fa.deploy("fetcher", []byte(`module.exports.handler = async (input) => {
			const out = [(await (await fetch(input.ok)).text())];
			for (const u of input.targets) {
				try { const r = await fetch(u); out.push("reached: " + r.status + " " + (await r.text())); }
				catch (e) { out.push(e.code + " " + e.message); }
			}
			return out;
		};`), map[string]any{"network_allowlist": allow, "limits": map[string]any{"timeout_ms": 30000}})
		r := fa.invoke("fetcher", map[string]any{"ok": origin.URL + "/hello", "targets": targets}, "")
		var got []string
		if r.Status != "succeeded" || json.Unmarshal([]byte(deref(r.ResultJSON)), &got) != nil || len(got) != len(targets)+1 {
			t.Fatalf("run %+v (error %s, result %s)", r, deref(r.Error), deref(r.ResultJSON))
		}
		if got[0] != "public data" {
			t.Fatalf("the allowed origin answered %q", got[0])
		}
		for i, target := range targets {
			if !strings.HasPrefix(got[i+1], "EACCES ") || !strings.Contains(got[i+1], "public") {
				t.Errorf("fetch %s: %q; want EACCES from the address guard", target, got[i+1])
			}
		}
	})

	t.Run("no fs, child_process, process.env or server files", func(t *testing.T) {
		a.MustSQL(dbA.ID, "create table stolen (t text)")
		fa.deploy("escape", []byte(`module.exports.handler = async (input, ctx) => {
			const out = {};
			for (const m of ["fs", "node:fs", "child_process", "os", "net"]) {
				try { require(m); out[m] = "loaded"; } catch (e) { out[m] = e.code; }
			}
			try { out.env = Object.keys(process.env).length; } catch (e) { out.env = e.name; }
			try { await ctx.fs9.read("/etc/passwd"); out.passwd = "read"; } catch (e) { out.passwd = e.code; }
			for (const [k, q] of [["pg_read_file", "select pg_read_file('/etc/passwd')"], ["program", "copy (select 1) to program 'id'"],
				["server_file", "copy stolen from '/etc/passwd'"]]) {
				try { await ctx.db.query(q); out[k] = "done"; } catch (e) { out[k] = e.code; }
			}
			return out;
		};`), map[string]any{"run_as": "admin", "fs9_scope": map[string]any{"read": []string{"/"}}})
		fa.succeeded("escape", nil, `{"fs":"MODULE_NOT_FOUND","node:fs":"MODULE_NOT_FOUND","child_process":"MODULE_NOT_FOUND","os":"MODULE_NOT_FOUND",`+
			`"net":"MODULE_NOT_FOUND","env":"ReferenceError","passwd":"ENOENT","pg_read_file":"42501","program":"42501","server_file":"42501"}`)
	})

	t.Run("writes outside fs9_scope fail", func(t *testing.T) {
		fa.deploy("writer", []byte(`module.exports.handler = async (input, ctx) => {
			const out = [];
			for (const p of ["/out/ok.txt", "/outside.txt", "/out/../escaped.txt", "/output/x.txt"]) {
				try { await ctx.fs9.write(p, "x"); out.push("wrote " + p); } catch (e) { out.push(e.code); }
			}
			return out;
		};`), map[string]any{"fs9_scope": map[string]any{"read": []string{"/"}, "write": []string{"/out"}}})
		fa.succeeded("writer", nil, `["wrote /out/ok.txt","EACCES","EINVAL","EACCES"]`)
		r := a.MustSQL(dbA.ID, `select fs9_exists('/outside.txt') or fs9_exists('/escaped.txt') or fs9_exists('/output/x.txt')`)
		if r.Rows[0][0] != false {
			t.Fatal("a write outside fs9_scope left a file")
		}
	})

	t.Run("a function cannot reach another database", func(t *testing.T) {
		b.MustSQL(dbB.ID, `create table only_in_b (secret text); insert into only_in_b values ('b-secret'); select fs9_write('/shared/b.txt', 'b-file')`)
		api := "http://" + s.Addr
		fa.deploy("reach", []byte(`module.exports.handler = async (input, ctx) => {
			const out = {};
			try { await ctx.db.query("select secret from only_in_b"); out.table = "read"; } catch (e) { out.table = e.code; }
			try { await ctx.db.query("create extension dblink"); out.dblink = "created"; } catch (e) { out.dblink = e.code ? "refused" : "?"; }
			out.file = await ctx.fs9.exists("/shared/b.txt");
			try { const r = await fetch(input.api + "/customer/databases/" + input.other + "/sql", { method: "POST", body: "{\"query\":\"select 1\"}" });
				out.api = "reached " + r.status; } catch (e) { out.api = e.code; }
			return out;
		};`), map[string]any{"run_as": "admin", "fs9_scope": map[string]any{"read": []string{"/"}}, "network_allowlist": []string{api}})
		fa.succeeded("reach", map[string]any{"api": api, "other": dbB.ID}, `{"table":"42P01","dblink":"refused","file":false,"api":"EACCES"}`)
	})

	t.Run("50 slow invocations of one customer do not starve another's fast function", func(t *testing.T) {
		fa.deploy("slow", []byte(`module.exports.handler = () => new Promise(r => setTimeout(() => r("slow"), 600))`),
			map[string]any{"limits": map[string]any{"timeout_ms": 120000}})
		var base []time.Duration
		for i := 0; i < 5; i++ {
			start := time.Now()
			fb.succeeded("fast", nil, `"fast"`)
			base = append(base, time.Since(start))
		}
		var wg sync.WaitGroup
		var slowDone atomic.Int32
		for i := 0; i < 50; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if r := fa.invoke("slow", nil, ""); r.Status != "succeeded" {
					t.Errorf("slow run %+v: %s", r, deref(r.Error))
				}
				slowDone.Add(1)
			}()
		}
		// Once the first slow runs ended, the noisy customer has had every
		// chance to take all the workers it can.
		waitFor(t, 60*time.Second, "the first slow runs to end", func() bool { return slowDone.Load() >= 1 })
		var loaded []time.Duration
		for i := 0; i < 5; i++ {
			start := time.Now()
			fb.succeeded("fast", nil, `"fast"`)
			loaded = append(loaded, time.Since(start))
		}
		// With a share of workers per database the fast function answered
		// while most of the 50 still waited behind their own database's
		// runs; without it, it waits for a whole wave of them.
		if n := slowDone.Load(); n > 25 {
			t.Errorf("the fast function answered only after %d of the 50 slow runs ended", n)
		}
		t.Logf("fast invoke alone %v, under the slow load %v (%d slow runs ended by then)", base, loaded, slowDone.Load())
		wg.Wait()
	})
}

func deref64(p *int64) any {
	if p == nil {
		return nil
	}
	return *p
}
