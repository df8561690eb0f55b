package bundle_test

import (
	"archive/zip"
	"bytes"
	"strings"
	"testing"

	"github.com/db9/db9/internal/functions/bundle"
)

func zipOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
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

func TestBuild_Variants(t *testing.T) {
	cases := []struct {
		name string
		raw  []byte
		ep   string
		want []string // substrings of the script
	}{
		{"cjs file", []byte(`module.exports = { handler: async (input, ctx) => ({ ok: input }) }`), "index.handler", []string{"module.exports"}},
		{"esm file", []byte(`export async function handler(input) { return 1 }`), "index.handler", []string{"handler"}},
		{"ts file", []byte(`export const handler = async (input: {n: number}): Promise<number> => input.n * 2`), "index.handler", []string{"input.n * 2"}},
		{"zip ts with require of own module", zipOf(t, map[string]string{
			"index.ts":    `import { twice } from "./lib/math"; const h = require("./lib/h.js"); export const handler = (i: number) => twice(i) + h.one`,
			"lib/math.ts": `export const twice = (n: number) => n * 2`,
			"lib/h.js":    `module.exports = { one: 1 }`,
		}), "index.handler", []string{"n * 2", "one: 1"}},
		{"zip node_modules package", zipOf(t, map[string]string{
			"src/main.js":                   `const p = require("pad"); exports.run = () => p("x")`,
			"node_modules/pad/package.json": `{"main": "lib/pad.js"}`,
			"node_modules/pad/lib/pad.js":   `module.exports = (s) => "[" + s + "]"`,
		}), "src/main.run", []string{`"[" + s + "]"`}},
		{"unknown module stays a runtime require", []byte(`const fs = require("fs"); import("node:child_process"); exports.handler = () => 1`), "index.handler", []string{`require("fs")`}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := bundle.Build(c.raw, c.ep)
			if err != nil {
				t.Fatalf("Build: %v", err)
			}
			for _, w := range c.want {
				if !strings.Contains(b.Script, w) {
					t.Errorf("script lacks %q:\n%s", w, b.Script)
				}
			}
			if b.Digest != bundle.Digest(c.raw) || !strings.HasPrefix(b.Digest, "sha256:") || len(b.Digest) != 7+64 {
				t.Errorf("digest %q", b.Digest)
			}
		})
	}
}

func TestBuild_CustomerErrors(t *testing.T) {
	cases := []struct {
		name, ep, want string
		raw            []byte
	}{
		{"syntax error", "index.handler", "index.ts:1:", []byte(`module.exports = { handler: (x => }`)},
		{"bad entrypoint", "index", "must be <module>.<export>", []byte(`x`)},
		{"entry escapes", "../x.handler", "relative path", []byte(`x`)},
		{"missing entry module", "main.handler", "main", zipOf(t, map[string]string{"index.js": "exports.handler=1"})},
		{"missing relative import", "index.handler", `"./nope"`, zipOf(t, map[string]string{"index.js": `require("./nope")`})},
		{"binary", "index.handler", "UTF-8", []byte{0xff, 0xfe, 0}},
		{"broken zip", "index.handler", "zip", append([]byte("PK\x03\x04"), 1, 2, 3)},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := bundle.Build(c.raw, c.ep)
			if !bundle.IsError(err) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("err = %v, want a bundle error containing %q", err, c.want)
			}
		})
	}
}

func TestBuild_ZipBomb(t *testing.T) {
	big := strings.Repeat("a", bundle.MaxUnzipped+1)
	raw := zipOf(t, map[string]string{"index.js": "exports.handler=()=>1", "big.txt": big})
	if len(raw) > bundle.MaxRaw {
		t.Fatalf("test zip is %d bytes", len(raw))
	}
	if _, err := bundle.Build(raw, "index.handler"); !bundle.IsError(err) || !strings.Contains(err.Error(), "inflates") {
		t.Fatalf("err = %v", err)
	}
}

func FuzzBuild(f *testing.F) {
	f.Add([]byte(`module.exports = { handler: async () => 1 }`))
	f.Add([]byte(`export const handler = (x: number) => x`))
	f.Add([]byte("PK\x03\x04garbage"))
	f.Fuzz(func(t *testing.T, raw []byte) {
		b, err := bundle.Build(raw, "index.handler")
		if err != nil && !bundle.IsError(err) {
			t.Fatalf("non-customer error: %v", err)
		}
		if err == nil && b.Digest != bundle.Digest(raw) {
			t.Fatalf("digest %s", b.Digest)
		}
	})
}
