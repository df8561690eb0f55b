package e2e

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/db9/db9/internal/client"
)

// TestCLI_Functions drives `db9 functions` and `db9 functions secrets`
// against a real server: a TypeScript directory deployed as a zip, invoke
// (table, JSON, idempotent, failing), history, logs, update, delete, and a
// secret whose value no command ever prints.
func TestCLI_Functions(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	u := newCLIUser(t, s)
	u.ok("create", "--name", "fnapp")
	const secret = "s3cr3t-Value-9f2c"
	var outputs []string
	keep := func(out string) string { outputs = append(outputs, out); return out }

	// The value comes on stdin, with the newline echo would add.
	out, errOut, code := u.run(secret+"\n", "functions", "secrets", "set", "GREETING", "-d", "fnapp")
	if code != 0 {
		t.Fatalf("secrets set: exit %d\n%s%s", code, out, errOut)
	}
	keep(out + errOut)

	dir := filepath.Join(t.TempDir(), "hello")
	os.MkdirAll(filepath.Join(dir, "lib"), 0o755)
	os.MkdirAll(filepath.Join(dir, "node_modules", "junk"), 0o755)
	os.WriteFile(filepath.Join(dir, "node_modules", "junk", "index.js"), []byte("this is not javascript ("), 0o644)
	os.WriteFile(filepath.Join(dir, "lib", "greet.ts"), []byte(`export function greet(name: string): string { return "hello " + name; }`), 0o644)
	os.WriteFile(filepath.Join(dir, "index.ts"), []byte(`import { greet } from "./lib/greet";
interface Input { name: string }
export async function handler(input: Input, ctx: any) {
	console.log("start", input.name);
	const s: string = ctx.secrets.get("GREETING");
	console.log("secret is", s);
	return { message: greet(input.name), secretLength: s.length, v: 1 };
}
`), 0o644)

	var fn client.Function
	u.okJSON(&fn, "functions", "create", "hello", "--file", dir, "--secret", "GREETING", "--timeout-ms", "5000", "-d", "fnapp")
	if fn.Name != "hello" || fn.Version != 1 || fn.Entrypoint != "index.handler" || fn.Limits.TimeoutMS != 5000 ||
		len(fn.SecretBindings) != 1 || !strings.HasPrefix(fn.BundleDigest, "sha256:") {
		t.Fatalf("create --json: %+v", fn)
	}

	out = keep(u.ok("functions", "invoke", "hello", "--input", `{"name":"ada"}`, "-d", "fnapp"))
	for _, want := range []string{"succeeded", `"message": "hello ada"`, `"secretLength": 17`, " ms"} {
		if !strings.Contains(out, want) {
			t.Errorf("invoke output lacks %q:\n%s", want, out)
		}
	}
	runID := regexp.MustCompile(`(?m)^Run:\s+(\S+)`).FindStringSubmatch(out)
	if runID == nil {
		t.Fatalf("no run id in invoke output:\n%s", out)
	}

	// --input - reads stdin; the same idempotency key returns the same run.
	var r1, r2 client.Run
	for _, r := range []*client.Run{&r1, &r2} {
		o, e, c := u.run(`{"name":"bob"}`, "functions", "invoke", "hello", "--input", "-", "--idempotency-key", "k1", "-d", "fnapp", "--json")
		if c != 0 {
			t.Fatalf("invoke --input -: exit %d\n%s%s", c, o, e)
		}
		keep(o)
		if err := json.Unmarshal([]byte(o), r); err != nil {
			t.Fatalf("invoke --json: %v\n%s", err, o)
		}
	}
	if r1.ID == "" || r1.ID != r2.ID || r1.Status != client.RunSucceeded || r1.ResultJSON == nil || !strings.Contains(*r1.ResultJSON, "hello bob") {
		t.Fatalf("idempotent invokes: %+v / %+v", r1, r2)
	}

	var runs []client.Run
	u.okJSON(&runs, "functions", "history", "hello", "-d", "fnapp")
	if len(runs) != 2 || runs[0].ID != r1.ID || runs[1].ID != runID[1] {
		t.Fatalf("history: %+v (want %s then %s)", runs, r1.ID, runID[1])
	}
	if out := u.ok("functions", "history", "hello", "--limit", "1", "-d", "fnapp"); !strings.Contains(out, r1.ID) || strings.Contains(out, runID[1]) {
		t.Errorf("history --limit 1:\n%s", out)
	}

	out = keep(u.ok("functions", "logs", "hello", runID[1], "-d", "fnapp"))
	if i, j := strings.Index(out, "start ada"), strings.Index(out, "secret is"); i < 0 || j < i {
		t.Errorf("logs out of order or missing:\n%s", out)
	}

	// A failing run prints and exits 1; --status filters the history.
	_, errOut, code = u.run(`module.exports = { handler: async () => { throw new Error("kaboom") } };`,
		"functions", "create", "boom", "--file", "-", "-d", "fnapp")
	if code != 0 {
		t.Fatalf("create from stdin: exit %d: %s", code, errOut)
	}
	if line := u.fails("", "functions", "invoke", "boom", "-d", "fnapp"); !strings.Contains(line, "failed") || !strings.Contains(line, "kaboom") {
		t.Errorf("failing invoke: %s", line)
	}
	u.okJSON(&runs, "functions", "history", "boom", "--status", "failed", "-d", "fnapp")
	if len(runs) != 1 || runs[0].Status != client.RunFailed {
		t.Errorf("history --status failed: %+v", runs)
	}

	// update keeps flags not given (the secret binding, the timeout).
	os.WriteFile(filepath.Join(dir, "index.ts"), []byte(`export const handler = async (input: any, ctx: any) => ({ v: 2, bound: ctx.secrets.get("GREETING") !== undefined });`), 0o644)
	u.okJSON(&fn, "functions", "update", "hello", "--file", dir, "--memory-mb", "64", "-d", "fnapp")
	if fn.Version != 2 || fn.Limits.TimeoutMS != 5000 || fn.Limits.MemoryMB != 64 || len(fn.SecretBindings) != 1 {
		t.Fatalf("update --json: %+v", fn)
	}
	if out := u.ok("functions", "invoke", "hello", "-d", "fnapp"); !strings.Contains(out, `"v": 2`) || !strings.Contains(out, `"bound": true`) {
		t.Errorf("invoke after update:\n%s", out)
	}

	var secrets []client.Secret
	u.okJSON(&secrets, "functions", "secrets", "list", "fnapp")
	if len(secrets) != 1 || secrets[0].Name != "GREETING" {
		t.Errorf("secrets list: %+v", secrets)
	}
	keep(u.ok("functions", "secrets", "list", "fnapp"))

	// The CLI bundles what the source imports, npm packages included,
	// and says how big the upload is.
	pkgDir := filepath.Join(t.TempDir(), "padded")
	os.MkdirAll(filepath.Join(pkgDir, "node_modules", "pad-it", "lib"), 0o755)
	os.WriteFile(filepath.Join(pkgDir, "node_modules", "pad-it", "package.json"), []byte(`{"name":"pad-it","main":"lib/pad.js"}`), 0o644)
	os.WriteFile(filepath.Join(pkgDir, "node_modules", "pad-it", "lib", "pad.js"), []byte(`module.exports = (s) => "[" + s + "]";`), 0o644)
	os.WriteFile(filepath.Join(pkgDir, "index.ts"), []byte(`import pad from "pad-it"; export const handler = (i: { s: string }) => pad(i.s);`), 0o644)
	out, errOut, code = u.run("", "functions", "create", "padded", "--file", pkgDir, "-d", "fnapp")
	if code != 0 || !strings.Contains(errOut, "Bundled "+filepath.Join(pkgDir, "index.ts")+" (2 files)") || !strings.Contains(errOut, "to upload") {
		t.Fatalf("create with an npm package: exit %d\n%s%s", code, out, errOut)
	}
	if out := u.ok("functions", "invoke", "padded", "--input", `{"s":"x"}`, "-d", "fnapp"); !strings.Contains(out, `"[x]"`) {
		t.Errorf("invoke of the bundled package:\n%s", out)
	}
	u.ok("functions", "delete", "padded", "-d", "fnapp")

	var fns []client.Function
	u.okJSON(&fns, "functions", "list", "fnapp")
	if len(fns) != 2 {
		t.Fatalf("functions list: %+v", fns)
	}
	if out := u.ok("functions", "list", "fnapp"); !strings.Contains(out, "hello") || !strings.Contains(out, "boom") {
		t.Errorf("functions list:\n%s", out)
	}

	// Bad input: one line with a hint.
	empty := t.TempDir()
	if line := u.fails("", "functions", "create", "x", "--file", empty, "-d", "fnapp"); !strings.Contains(line, "no index.js or index.ts") {
		t.Errorf("directory without index: %s", line)
	}
	if line := u.fails("", "functions", "invoke", "nosuch", "-d", "fnapp"); !strings.Contains(line, `function "nosuch" not found`) {
		t.Errorf("unknown function: %s", line)
	}
	if line := u.fails("", "functions", "invoke", "hello", "--input", "{nope", "-d", "fnapp"); !strings.Contains(line, "not valid JSON") {
		t.Errorf("bad input JSON: %s", line)
	}
	if line := u.fails("", "functions", "logs", "hello", "00000000-0000-0000-0000-000000000000", "-d", "fnapp"); !strings.Contains(line, "not found") {
		t.Errorf("unknown run: %s", line)
	}
	if line := u.fails("", "functions", "list", "nosuchdb"); !strings.Contains(line, `database "nosuchdb" not found`) {
		t.Errorf("unknown database: %s", line)
	}

	u.ok("functions", "delete", "hello", "-d", "fnapp")
	u.okJSON(&fns, "functions", "list", "fnapp")
	if len(fns) != 1 || fns[0].Name != "boom" {
		t.Errorf("list after delete: %+v", fns)
	}
	u.ok("functions", "secrets", "delete", "GREETING", "-d", "fnapp")
	u.okJSON(&secrets, "functions", "secrets", "list", "fnapp")
	if len(secrets) != 0 {
		t.Errorf("secrets after delete: %+v", secrets)
	}
	if line := u.fails("", "functions", "secrets", "delete", "GREETING", "-d", "fnapp"); !strings.Contains(line, "not found") {
		t.Errorf("deleting a deleted secret: %s", line)
	}

	for _, o := range outputs {
		if strings.Contains(o, secret) {
			t.Errorf("the secret's value was printed:\n%s", o)
		}
	}
}
