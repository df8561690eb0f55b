package cli

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/functions/bundle"
	"github.com/db9/db9/internal/functions/runtime"
)

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// runBundle builds an upload the way the server does and runs its handler
// in the functions runtime, returning result_json (or the error).
func runBundle(t *testing.T, raw []byte, entrypoint, input string) string {
	t.Helper()
	b, err := bundle.Build(raw, entrypoint)
	if err != nil {
		t.Fatalf("the server's build refuses the upload: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := runtime.Load(ctx, b.Script, b.Export)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	out := m.Invoke(ctx, runtime.Call{Input: []byte(input)})
	if out.Status != runtime.StatusSucceeded {
		return "error: " + out.Error
	}
	return out.ResultJSON
}

func zipNames(t *testing.T, raw []byte) []string {
	t.Helper()
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatalf("the upload is not a zip: %v", err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	return names
}

func TestBundleSource_DirectoryWithPackages(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"index.ts": `import { greet } from "./lib/greet";
import pad from "leftpad-lite";
interface In { name: string; fs?: boolean }
export async function handler(input: In) {
	if (input.fs) { return require("fs").readFileSync("/etc/passwd", "utf8"); }
	return { message: pad(greet(input.name)) };
}`,
		"lib/greet.ts":                           `export const greet = (n: string): string => "hello " + n;`,
		"node_modules/leftpad-lite/package.json": `{"name": "leftpad-lite", "main": "lib/main.js"}`,
		"node_modules/leftpad-lite/lib/main.js":  `module.exports = function pad(s) { return "[" + s + "]"; };`,
		"node_modules/unused/index.js":           `this is not javascript (`,
		".hidden/junk.ts":                        `neither is this (`,
	})
	b, err := bundleSource(dir, "index.handler", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := zipNames(t, b.raw); len(got) != 1 || got[0] != "index.js" {
		t.Fatalf("zip holds %v, want [index.js]", got)
	}
	if b.inputs != 3 || b.script == 0 {
		t.Fatalf("inputs %d, script %d bytes; want the 3 files imported", b.inputs, b.script)
	}
	if got := runBundle(t, b.raw, "index.handler", `{"name":"ada"}`); got != `{"message":"[hello ada]"}` {
		t.Fatalf("result %s", got)
	}
	// Node's built-ins stay requires, which the runtime refuses.
	if got := runBundle(t, b.raw, "index.handler", `{"name":"x","fs":true}`); !strings.Contains(got, "error") || !strings.Contains(got, "fs") {
		t.Fatalf("require(\"fs\") at run time: %s", got)
	}
	// The same source is the same upload, so the same bundle_digest.
	again, err := bundleSource(dir, "index.handler", nil)
	if err != nil || !bytes.Equal(again.raw, b.raw) {
		t.Fatalf("a second bundle differs (%v)", err)
	}
}

func TestBundleSource_FileAndStdin(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"main.mjs": `import { twice } from "./math.mjs"; export const run = (n) => twice(n);`,
		"math.mjs": `export const twice = (n) => n * 2;`,
	})
	b, err := bundleSource(filepath.Join(dir, "main.mjs"), "src/main.run", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := zipNames(t, b.raw); len(got) != 1 || got[0] != "src/main.js" {
		t.Fatalf("zip holds %v, want the module of the entrypoint, src/main.js", got)
	}
	if got := runBundle(t, b.raw, "src/main.run", `21`); got != `42` {
		t.Fatalf("result %s", got)
	}
	b, err = bundleSource("-", "index.handler", strings.NewReader(`const x: number = 1; module.exports = { handler: () => x + 1 };`))
	if err != nil {
		t.Fatal(err)
	}
	if got := runBundle(t, b.raw, "index.handler", ``); got != `2` {
		t.Fatalf("stdin result %s", got)
	}
}

func TestBundleSource_Errors(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"bad/index.ts":     "export const handler = () => {\n  return (1 +;\n}",
		"missing/index.js": `const x = require("./nope"); exports.handler = () => x`,
		"nopkg/index.js":   `const p = require("not-installed"); exports.handler = () => p`,
		"empty/README.md":  `no code here`,
	})
	cases := []struct {
		path, ep, says string
		stdin          io.Reader
	}{
		{filepath.Join(dir, "bad"), "index.handler", "index.ts:2:", nil},
		{filepath.Join(dir, "missing"), "index.handler", `"./nope"`, nil},
		{filepath.Join(dir, "nopkg"), "index.handler", `"not-installed"`, nil},
		{filepath.Join(dir, "empty"), "index.handler", "has no index.js or index.ts", nil},
		{filepath.Join(dir, "nothing-here"), "index.handler", "cannot read the source", nil},
		{filepath.Join(dir, "bad"), "handler", "<module>.<export>", nil},
		{"-", "index.handler", "empty", strings.NewReader("")},
	}
	for _, c := range cases {
		_, err := bundleSource(c.path, c.ep, c.stdin)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("bundleSource(%s, %s) = %v; want an error saying %q", c.path, c.ep, err, c.says)
		}
	}
}
