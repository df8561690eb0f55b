package hostcall_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/functions/bundle"
	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/memfs"
	"github.com/db9/db9/internal/functions/runtime"
)

func run(t *testing.T, src string, host runtime.Host) runtime.Outcome {
	t.Helper()
	b, err := bundle.Build([]byte(src), "index.handler")
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtime.Load(context.Background(), b.Script, b.Export)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	return m.Invoke(ctx, runtime.Call{Input: json.RawMessage(`null`), Host: host})
}

func TestDispatcher_FS9Scope(t *testing.T) {
	fs := &memfs.FS{}
	ctx := context.Background()
	fs.Write(ctx, "db1", "/private/key", []byte("k"))
	fs.Write(ctx, "db1", "/in/old.txt", []byte("old"))
	fs.Write(ctx, "db2", "/out/theirs", []byte("other tenant"))
	d := &hostcall.Dispatcher{FS: fs}
	g := &hostcall.Grant{DatabaseID: "db1", Scope: hostcall.Scope{Read: []string{"/in/"}, Write: []string{"/out"}}}
	out := run(t, `exports.handler = async (i, ctx) => {
		const errs = [];
		const tryit = async (f) => { try { await f(); errs.push("ok") } catch (e) { errs.push(e.code) } };
		await tryit(() => ctx.fs9.write("/in/x", "no"));          // read-only prefix
		await tryit(() => ctx.fs9.write("/outside", "no"));       // not /out
		await tryit(() => ctx.fs9.write("/output/x", "no"));      // prefix is a path, not a string
		await tryit(() => ctx.fs9.write("/out/../private/key", "no"));
		await tryit(() => ctx.fs9.read("/private/key"));
		await tryit(() => ctx.fs9.remove("/in/old.txt"));
		await tryit(() => ctx.fs9.write("relative", "no"));
		const w = await ctx.fs9.write("/out/a.bin", Buffer.from([0, 255, 1]));
		await ctx.fs9.write("/out/t.txt", "héllo");
		return { errs, w, old: await ctx.fs9.read("/in/old.txt"), b64: await ctx.fs9.readBase64("/out/a.bin"),
			txt: await ctx.fs9.read("/out/t.txt"), list: (await ctx.fs9.list("/out")).map(e => e.path),
			exists: [await ctx.fs9.exists("/out/t.txt"), await ctx.fs9.exists("/out/none")],
			removed: await ctx.fs9.remove("/out/t.txt"), theirs: await ctx.fs9.exists("/out/theirs") } }`, d.For(g))
	want := `{"errs":["EACCES","EACCES","EACCES","EINVAL","EACCES","EACCES","EINVAL"],"w":3,"old":"old","b64":"AP8B","txt":"héllo","list":["/out/a.bin","/out/t.txt"],"exists":[true,false],"removed":1,"theirs":false}`
	if out.Status != runtime.StatusSucceeded || out.ResultJSON != want {
		t.Fatalf("outcome %+v\nwant %s", out, want)
	}
	if b, _ := fs.Read(ctx, "db1", "/private/key"); string(b) != "k" {
		t.Fatal("a file outside the scope changed")
	}
	if _, err := fs.Read(ctx, "db1", "/outside"); err == nil {
		t.Fatal("a write outside the scope happened")
	}
}

type mapResolver map[string]string

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := m[host]; ok {
		return []netip.Addr{netip.MustParseAddr(ip)}, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

func TestDispatcher_Fetch(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/redirect" {
			http.Redirect(w, r, "https://internal.example.com/", http.StatusFound)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q,"auth":%q}`, r.Method, r.Header.Get("Authorization"))
	}))
	defer srv.Close()
	d := &hostcall.Dispatcher{Fetcher: &egress.Fetcher{
		Guard:     &egress.Guard{Resolver: mapResolver{"internal.example.com": "10.0.0.1"}, UnsafeAllowAddrPorts: []netip.AddrPort{netip.MustParseAddrPort(srv.Listener.Addr().String())}},
		TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig,
	}}
	al, _ := egress.ParseAllowlist([]string{srv.URL, "https://*.example.com", "http://127.0.0.1"})
	g := &hostcall.Grant{DatabaseID: "db1", Allowlist: al}
	out := run(t, `exports.handler = async () => {
		const r = await fetch("`+srv.URL+`/x", { method: "POST", headers: { Authorization: "Bearer t" }, body: "b" });
		const res = [r.status, r.ok, r.headers.get("content-type"), await r.json()];
		for (const u of ["http://127.0.0.1/", "https://internal.example.com/", "`+srv.URL+`/redirect", "https://example.net/"]) {
			try { await fetch(u); res.push("fetched " + u) } catch (e) { res.push(e.code) }
		}
		return res }`, d.For(g))
	want := `[200,true,"application/json",{"method":"POST","auth":"Bearer t"},"EACCES","EACCES","EACCES","EACCES"]`
	if out.Status != runtime.StatusSucceeded || out.ResultJSON != want {
		t.Fatalf("outcome %+v\nwant %s", out, want)
	}
}

func TestDispatcher_Unavailable(t *testing.T) {
	d := &hostcall.Dispatcher{}
	out := run(t, `exports.handler = async (i, ctx) => { try { await ctx.db.query("select 1") } catch (e) { return e.code } }`, d.For(&hostcall.Grant{}))
	if out.ResultJSON != `"ENOSYS"` {
		t.Fatalf("%+v", out)
	}
	if !strings.Contains(fmt.Sprint(hostcall.ValidateScope(hostcall.Scope{Write: []string{"/a/../b"}})), "..") {
		t.Fatal("scope with .. accepted")
	}
}
