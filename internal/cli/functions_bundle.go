package cli

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/evanw/esbuild/pkg/api"
)

// Local bundling for `db9 functions create|update`, the way `supabase
// functions deploy` bundles before it uploads: the entry module and
// everything it imports — its own modules and npm packages installed next
// to it (node_modules) — become one CommonJS script built by esbuild's Go
// API, uploaded as a zip holding <module>.js. What is uploaded is what
// runs; the server still bundles and transpiles what it receives (it
// accepts unbundled sources too: --no-bundle sends the source as it is).
// Node's built-in modules (fs, child_process, ...) stay require() calls,
// which the runtime refuses when they run.

// maxSource bounds what the CLI reads from stdin before bundling: the
// bundle itself must fit maxBundle, but a source with comments and types
// may be larger.
const maxSource = 5 * maxBundle

// sourceExts are tried in order for the entry module of a directory.
var sourceExts = []string{".ts", ".js", ".mts", ".mjs", ".cts", ".cjs"}

// builtBundle is a locally bundled source, ready for the upload.
type builtBundle struct {
	raw    []byte // the upload: a zip of one file, <module>.js
	script int    // bytes of the bundled script
	inputs int    // source files that went into it
	entry  string // the entry file as the user named it
}

// sourceToUpload returns the bytes `functions create|update` upload for
// the deploy flags: bundled locally, or with --no-bundle as readSource
// reads them. note reports the bundle's size.
func sourceToUpload(d *deployFlags, stdin io.Reader, note func(string, ...any)) ([]byte, error) {
	if d.noBundle {
		return readSource(d.file, stdin)
	}
	b, err := bundleSource(d.file, d.entrypoint, stdin)
	if err != nil {
		return nil, err
	}
	note("Bundled %s (%d %s) into %s, %s to upload", b.entry, b.inputs, plural(b.inputs, "file", "files"),
		humanBytes(int64(b.script)), humanBytes(int64(len(b.raw))))
	return b.raw, nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// bundleSource bundles path (a file, a directory holding the entrypoint's
// module, or - for stdin) for entrypoint "<module>.<export>".
func bundleSource(path, entrypoint string, stdin io.Reader) (builtBundle, error) {
	const fileHint = "--file takes index.js, index.ts, a directory holding one, or -"
	i := strings.LastIndexByte(entrypoint, '.')
	if i <= 0 || i == len(entrypoint)-1 {
		return builtBundle{}, usage(fmt.Errorf("--entrypoint %q must be <module>.<export>, e.g. index.handler", entrypoint), "db9 functions create --help")
	}
	module := strings.TrimPrefix(entrypoint[:i], "./")
	opts := api.BuildOptions{
		Bundle: true,
		Write:  false,
		Format: api.FormatCommonJS,
		// Node resolution (node_modules, package.json main) with Node's
		// built-in modules left external, as the runtime's require sees them.
		Platform: api.PlatformNode,
		// What the server's build targets: what goja runs.
		Target:    api.ES2019,
		Supported: map[string]bool{"dynamic-import": false},
		Outfile:   "out.js",
		LogLevel:  api.LogLevelSilent,
		Charset:   api.CharsetUTF8,
		Metafile:  true,
	}
	b := builtBundle{entry: path}
	switch st, err := os.Stat(path); {
	case path == "-":
		src, err := io.ReadAll(io.LimitReader(stdin, maxSource+1))
		if err != nil {
			return b, fmt.Errorf("read the source from stdin: %w", err)
		}
		if len(src) == 0 || len(src) > maxSource {
			return b, hint(fmt.Errorf("the source on stdin is empty or over %d bytes", maxSource), fileHint)
		}
		wd, err := os.Getwd()
		if err != nil {
			return b, fmt.Errorf("bundle stdin: %w", err)
		}
		// TypeScript's loader reads JavaScript too; imports resolve from
		// the current directory.
		opts.Stdin = &api.StdinOptions{Contents: string(src), ResolveDir: wd, Sourcefile: "stdin.ts", Loader: api.LoaderTS}
		opts.AbsWorkingDir, b.entry = wd, "stdin"
	case err != nil:
		return b, hint(fmt.Errorf("cannot read the source: %w", err), fileHint)
	case st.IsDir():
		entry, ok := entryFile(path, module)
		if !ok {
			return b, hint(fmt.Errorf("directory %s has no %s.js or %s.ts (the module of --entrypoint %s)", path, module, module, entrypoint),
				"put the handler in index.js or index.ts, or pass the file itself")
		}
		abs, err := filepath.Abs(path)
		if err != nil {
			return b, fmt.Errorf("bundle %s: %w", path, err)
		}
		opts.AbsWorkingDir, opts.EntryPoints = abs, []string{filepath.Join(abs, entry)}
		b.entry = filepath.Join(path, entry)
	default:
		abs, err := filepath.Abs(path)
		if err != nil {
			return b, fmt.Errorf("bundle %s: %w", path, err)
		}
		opts.AbsWorkingDir, opts.EntryPoints = filepath.Dir(abs), []string{abs}
	}
	res := api.Build(opts)
	if len(res.Errors) > 0 {
		return b, hint(fmt.Errorf("bundle %s: %s", b.entry, buildMessages(res.Errors)),
			"fix the source; packages it imports must be installed next to it (npm install)")
	}
	if len(res.OutputFiles) != 1 {
		return b, fmt.Errorf("bundle %s: esbuild wrote %d files, want 1", b.entry, len(res.OutputFiles))
	}
	script := res.OutputFiles[0].Contents
	var meta struct {
		Inputs map[string]json.RawMessage `json:"inputs"`
	}
	_ = json.Unmarshal([]byte(res.Metafile), &meta)
	b.script, b.inputs = len(script), len(meta.Inputs)
	raw, err := zipOne(module+".js", script)
	if err != nil {
		return b, fmt.Errorf("bundle %s: %w", b.entry, err)
	}
	if len(raw) > maxBundle {
		return b, hint(fmt.Errorf("the bundle of %s is %d bytes zipped, over the %d allowed", b.entry, len(raw), maxBundle),
			"import less: every package the function imports is in its bundle")
	}
	b.raw = raw
	return b, nil
}

// entryFile finds the file of module in dir, relative to dir.
func entryFile(dir, module string) (string, bool) {
	for _, base := range []string{module, filepath.Join(module, "index")} {
		for _, ext := range sourceExts {
			p := filepath.FromSlash(base + ext)
			if st, err := os.Stat(filepath.Join(dir, p)); err == nil && st.Mode().IsRegular() {
				return p, true
			}
		}
	}
	return "", false
}

// buildMessages formats esbuild's errors as file:line:col: text, the first
// five of them.
func buildMessages(msgs []api.Message) string {
	out := make([]string, 0, len(msgs))
	for i, m := range msgs {
		if i == 5 {
			out = append(out, fmt.Sprintf("and %d more", len(msgs)-i))
			break
		}
		if m.Location == nil {
			out = append(out, m.Text)
			continue
		}
		out = append(out, fmt.Sprintf("%s:%d:%d: %s", m.Location.File, m.Location.Line, m.Location.Column+1, m.Text))
	}
	return strings.Join(out, "; ")
}

// zipOne zips one file. The entry carries no time, so the same script is
// the same bytes, and so the same bundle_digest.
func zipOne(name string, body []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: filepath.ToSlash(name), Method: zip.Deflate})
	if err != nil {
		return nil, err
	}
	if _, err := w.Write(body); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
