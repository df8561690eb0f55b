package runtime_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/functions/bundle"
	"github.com/db9/db9/internal/functions/runtime"
)

func load(t *testing.T, src string) *runtime.Module {
	t.Helper()
	b, err := bundle.Build([]byte(src), "index.handler")
	if err != nil {
		t.Fatalf("Build: %v", err)
	}
	m, err := runtime.Load(context.Background(), b.Script, b.Export)
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	return m
}

func invoke(t *testing.T, m *runtime.Module, input string, host runtime.Host) runtime.Outcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return m.Invoke(ctx, runtime.Call{Input: json.RawMessage(input), Host: host,
		Secrets: map[string]string{"API_KEY": "s3cr3t"},
		Self:    runtime.Self{FunctionID: "fn1", VersionID: "v1", RunID: "r1", TriggerType: "invoke"}})
}

func TestModule_Invoke_Results(t *testing.T) {
	cases := []struct{ name, src, input, want string }{
		{"cjs async", `module.exports = { handler: async (input, ctx) => ({ got: input, fn: ctx.self.functionId }) }`, `{"a":1}`, `{"got":{"a":1},"fn":"fn1"}`},
		{"esm", `export async function handler(input) { return input.n + 1 }`, `{"n":41}`, `42`},
		{"ts", `interface In { xs: number[] }; export const handler = async (i: In): Promise<number> => i.xs.reduce((a, b) => a + b, 0)`, `{"xs":[1,2,3]}`, `6`},
		{"sync", `exports.handler = () => "plain"`, ``, `"plain"`},
		{"undefined is null", `exports.handler = () => {}`, `null`, `null`},
		{"esm default", `export default { handler: () => [1] }`, `null`, `[1]`},
		{"timers", `exports.handler = () => new Promise(r => { let n = 0; const i = setInterval(() => { if (++n === 3) { clearInterval(i); setTimeout(() => r(n), 5) } }, 1) })`, ``, `3`},
		{"secrets", `exports.handler = (i, ctx) => [ctx.secrets.get("API_KEY"), ctx.secrets.get("OTHER") === undefined]`, ``, `["s3cr3t",true]`},
		{"web apis", `exports.handler = () => {
			const bytes = new TextEncoder().encode("héllo");
			const u = new URL("https://a.example.com/p?q=1");
			return [bytes.length, new TextDecoder().decode(bytes), btoa("hi"), atob("aGk="),
				/^[0-9a-f-]{36}$/.test(crypto.randomUUID()), Buffer.from("hi").toString("hex"), u.host, u.searchParams.get("q"),
				typeof require("buffer").Buffer, new Headers({"X-A": "1"}).get("x-a")]
		}`, ``, `[6,"héllo","aGk=","hi",true,"6869","a.example.com","1","function","1"]`},
		{"bundle modules", "", ``, `"[x]"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			src := c.src
			if src == "" {
				src = `const pad = require("./pad"); exports.handler = () => pad("x")`
				m := loadZip(t, map[string]string{"index.js": src, "pad.js": `module.exports = s => "[" + s + "]"`})
				if out := invoke(t, m, c.input, nil); out.Status != runtime.StatusSucceeded || out.ResultJSON != c.want {
					t.Fatalf("outcome %+v, want %s", out, c.want)
				}
				return
			}
			m := load(t, src)
			out := invoke(t, m, c.input, nil)
			if out.Status != runtime.StatusSucceeded || out.ResultJSON != c.want {
				t.Fatalf("outcome %+v, want %s", out, c.want)
			}
		})
	}
}

func TestModule_Invoke_Failures(t *testing.T) {
	cases := []struct{ name, src, want string }{
		{"throws", `exports.handler = () => { throw new Error("boom") }`, "Error: boom"},
		{"rejects", `exports.handler = async () => { await null; throw new TypeError("bad") }`, "TypeError: bad"},
		{"timer throws", `exports.handler = () => new Promise(() => setTimeout(() => { throw new Error("late") }, 1))`, "Error: late"},
		{"never settles", `exports.handler = () => new Promise(() => {})`, "never settles"},
		{"not json", `exports.handler = () => 10n ** 2n`, "not JSON"},
		{"require fs", `exports.handler = () => require("fs").readFileSync("/etc/passwd", "utf8")`, "Cannot find module 'fs'"},
		{"require child_process", `exports.handler = () => require("child_process")`, "Cannot find module 'child_process'"},
		{"require node:fs", `exports.handler = () => { const n = "node:" + "fs"; return require(n) }`, "Cannot find module 'node:fs'"},
		{"require process", `exports.handler = () => require("process").env`, "Cannot find module 'process'"},
		{"process.env", `exports.handler = () => process.env.HOME`, "ReferenceError: process is not defined"},
		{"require a file path", `exports.handler = () => { const p = "/etc/" + "passwd"; return require(p) }`, "Cannot find module '/etc/passwd'"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			m := load(t, c.src)
			out := invoke(t, m, "", nil)
			if out.Status != runtime.StatusFailed || !strings.Contains(out.Error, c.want) {
				t.Fatalf("outcome %+v, want failed with %q", out, c.want)
			}
		})
	}
}

func TestLoad_NoHandler(t *testing.T) {
	b, err := bundle.Build([]byte(`exports.other = () => 1`), "index.handler")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := runtime.Load(context.Background(), b.Script, b.Export); err == nil || !strings.Contains(err.Error(), `does not export a function "handler"`) {
		t.Fatalf("err = %v", err)
	}
	b, _ = bundle.Build([]byte(`throw new Error("top")`), "index.handler")
	if _, err := runtime.Load(context.Background(), b.Script, b.Export); err == nil || !strings.Contains(err.Error(), "Error: top") {
		t.Fatalf("err = %v", err)
	}
}

func TestModule_Invoke_ConsoleOrderAndLevels(t *testing.T) {
	m := load(t, `exports.handler = async () => {
		console.log("one", 1, {a: [1]});
		await new Promise(r => setTimeout(r, 1));
		console.warn("two %s=%d", "x", 5);
		console.error(new Error("three"));
		console.info("four"); console.debug("five");
		return null }`)
	out := invoke(t, m, "", nil)
	if out.Status != runtime.StatusSucceeded {
		t.Fatal(out)
	}
	var got []string
	for _, e := range out.Logs {
		got = append(got, e.Level+":"+strings.SplitN(e.Message, "\n", 2)[0])
	}
	want := `info:one 1 {"a":[1]}|warn:two x=5|error:Error: three|info:four|debug:five`
	if strings.Join(got, "|") != want {
		t.Fatalf("logs %q\nwant %q", strings.Join(got, "|"), want)
	}
	for i := 1; i < len(out.Logs); i++ {
		if out.Logs[i].TS.Before(out.Logs[i-1].TS) {
			t.Fatal("timestamps go back")
		}
	}
}

func TestModule_Invoke_LogLimit(t *testing.T) {
	m := load(t, `exports.handler = () => { for (let i = 0; i < 100000; i++) console.log("x".repeat(100)); return 1 }`)
	out := invoke(t, m, "", nil)
	size := 0
	for _, e := range out.Logs {
		size += len(e.Message)
	}
	last := out.Logs[len(out.Logs)-1]
	if out.Status != runtime.StatusSucceeded || last.Message != runtime.TruncationMarker || size > runtime.DefaultLogLimit+len(runtime.TruncationMarker) {
		t.Fatalf("status %s, %d entries, %d bytes, last %q", out.Status, len(out.Logs), size, last.Message)
	}
}

func TestModule_Invoke_WarmStateAndStaleTimers(t *testing.T) {
	m := load(t, `let n = 0; exports.handler = () => { n++; setTimeout(() => console.log("stale", n), 30); return n }`)
	for i := 1; i <= 3; i++ {
		out := invoke(t, m, "", nil)
		if out.ResultJSON != string(rune('0'+i)) || len(out.Logs) != 0 {
			t.Fatalf("run %d: %+v", i, out)
		}
	}
	time.Sleep(50 * time.Millisecond)
	if out := invoke(t, m, "", nil); len(out.Logs) != 0 {
		t.Fatalf("a timer of an earlier run logged into this one: %+v", out.Logs)
	}
}

func TestModule_Invoke_Timeout(t *testing.T) {
	m := load(t, `exports.handler = () => { for (;;) {} }`)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	out := m.Invoke(ctx, runtime.Call{})
	if out.Status != runtime.StatusTimedOut || !m.Broken() {
		t.Fatalf("outcome %+v broken %v", out, m.Broken())
	}
}

// Call.Timeout ends a run as a context deadline does, by the Module's own
// timer, which a run that ends in time leaves disarmed for the next.
func TestModule_Invoke_CallTimeout(t *testing.T) {
	m := load(t, `exports.handler = async (i) => { if (i && i.hold) await new Promise(r => setTimeout(r, i.hold)); return "done" }`)
	for i := 0; i < 3; i++ {
		out := m.Invoke(context.Background(), runtime.Call{Input: json.RawMessage(`{"hold":10}`), Timeout: 100 * time.Millisecond})
		if out.ResultJSON != `"done"` {
			t.Fatalf("run %d: %+v", i, out)
		}
	}
	time.Sleep(150 * time.Millisecond) // past every earlier run's timeout
	if m.Broken() {
		t.Fatal("a finished run's timeout interrupted the Module")
	}
	out := m.Invoke(context.Background(), runtime.Call{Input: json.RawMessage(`{"hold":10000}`), Timeout: 100 * time.Millisecond})
	if out.Status != runtime.StatusTimedOut || !m.Broken() {
		t.Fatalf("outcome %+v broken %v", out, m.Broken())
	}
}

func TestModule_Interrupt_Memory(t *testing.T) {
	m := load(t, `exports.handler = async () => { await new Promise(r => setTimeout(r, 10000)) }`)
	go func() { time.Sleep(20 * time.Millisecond); m.Interrupt(runtime.ErrMemory) }()
	out := invoke(t, m, "", nil)
	if out.Status != runtime.StatusFailed || !strings.Contains(out.Error, "memory") {
		t.Fatalf("outcome %+v", out)
	}
}

// echoHost answers every call with its op and arguments, or an error.
type echoHost struct{}

func (echoHost) Call(ctx context.Context, op string, args json.RawMessage) (json.RawMessage, error) {
	if op == "fs9.read" {
		return nil, &runtime.CallError{Code: "ENOENT", Message: "ENOENT: /nope"}
	}
	if op == "db.query" {
		return json.RawMessage(`{"columns":[{"name":"x","type":"int4"}],"rows":[[1]],"row_count":1,"command":"SELECT","args":` + string(args) + `}`), nil
	}
	return nil, errors.New("unexpected op " + op)
}

func TestModule_Invoke_HostCalls(t *testing.T) {
	m := load(t, `exports.handler = async (i, ctx) => {
		const r = await ctx.db.query("select $1::int as x", [1]);
		let code; try { await ctx.fs9.read("/nope") } catch (e) { code = e.code + "|" + e.message }
		return [r.rows, r.args.sql, r.args.params, code] }`)
	out := invoke(t, m, "", echoHost{})
	if want := `[[[1]],"select $1::int as x",[1],"ENOENT|ENOENT: /nope"]`; out.ResultJSON != want {
		t.Fatalf("outcome %+v want %s", out, want)
	}
}

func loadZip(t *testing.T, files map[string]string) *runtime.Module {
	t.Helper()
	raw := zipOf(t, files)
	b, err := bundle.Build(raw, "index.handler")
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtime.Load(context.Background(), b.Script, b.Export)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
