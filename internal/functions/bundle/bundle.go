package bundle

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/dop251/goja"
	"github.com/evanw/esbuild/pkg/api"
)

// Limits of one bundle. MaxRaw is the upload limit of API.md; the others
// keep a zip bomb or a pathological bundle from costing the server more than
// a few times that.
const (
	MaxRaw      = 10 << 20 // bytes uploaded
	MaxUnzipped = 50 << 20 // bytes of all files of a zip, uncompressed
	MaxFiles    = 10_000   // files in a zip
	MaxScript   = 20 << 20 // bytes of the built script
)

// Error is a bundle the customer must fix: it does not parse, misses the
// entrypoint module, or breaks a limit. Message is safe to show.
type Error struct {
	Message string
}

func (e *Error) Error() string { return "invalid bundle: " + e.Message }

func errorf(format string, args ...any) error {
	return &Error{Message: fmt.Sprintf(format, args...)}
}

// IsError reports whether err is (or wraps) a bundle *Error.
func IsError(err error) bool {
	var e *Error
	return errors.As(err, &e)
}

// Entrypoint is a parsed "module.export" entrypoint.
type Entrypoint struct {
	Module string // path of the module without extension, e.g. "index" or "src/main"
	Export string // name of the exported handler, e.g. "handler"
}

// ParseEntrypoint splits "index.handler" at its last dot. The module path
// is relative to the bundle root and may not leave it.
func ParseEntrypoint(s string) (Entrypoint, error) {
	i := strings.LastIndexByte(s, '.')
	if i <= 0 || i == len(s)-1 {
		return Entrypoint{}, errorf("entrypoint %q must be <module>.<export>, e.g. index.handler", s)
	}
	ep := Entrypoint{Module: strings.TrimPrefix(s[:i], "./"), Export: s[i+1:]}
	if !isIdentifier(ep.Export) {
		return Entrypoint{}, errorf("entrypoint export %q is not a JavaScript identifier", ep.Export)
	}
	if clean(ep.Module) != ep.Module || ep.Module == "" {
		return Entrypoint{}, errorf("entrypoint module %q must be a relative path inside the bundle", ep.Module)
	}
	return ep, nil
}

func isIdentifier(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		letter := r == '_' || r == '$' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || r > 127
		if !letter && (i == 0 || r < '0' || r > '9') {
			return false
		}
	}
	return true
}

// Bundle is a built bundle, ready for the runtime.
type Bundle struct {
	// Script is one CommonJS script: it expects the free variables module,
	// exports and require, and sets module.exports.
	Script string
	// Export is the name of the handler export.
	Export string
	// Digest is "sha256:<hex>" of the raw uploaded bytes.
	Digest string
	// Size is the number of raw uploaded bytes.
	Size int
}

// Digest returns "sha256:<hex>" of raw, the bundle_digest of API.md.
func Digest(raw []byte) string {
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// Build bundles raw (one source file, or a zip) for entrypoint. Errors the
// customer must fix are *Error; anything else is the server's fault.
func Build(raw []byte, entrypoint string) (*Bundle, error) {
	ep, err := ParseEntrypoint(entrypoint)
	if err != nil {
		return nil, err
	}
	if len(raw) > MaxRaw {
		return nil, errorf("bundle is %d bytes, more than the %d allowed", len(raw), MaxRaw)
	}
	files, err := readFiles(raw, ep)
	if err != nil {
		return nil, err
	}
	entry, ok := files.module(ep.Module)
	if !ok {
		return nil, errorf("entrypoint module %s (.js, .ts, .mjs, .cjs, .mts or .cts) is not in the bundle", ep.Module)
	}
	script, err := build(files, entry)
	if err != nil {
		return nil, err
	}
	// esbuild accepts syntax goja may not; find out now rather than at the
	// first invocation. Compiling runs nothing.
	if _, err := goja.Compile(entry, Wrap(script), false); err != nil {
		return nil, errorf("the built script does not compile for the runtime: %v", err)
	}
	return &Bundle{Script: script, Export: ep.Export, Digest: Digest(raw), Size: len(raw)}, nil
}

// Wrap turns a built Script into a function expression taking module,
// exports and require, which the runtime calls once per VM.
func Wrap(script string) string {
	return "(function (module, exports, require) {\n" + script + "\n})"
}

func build(files fileSet, entry string) (string, error) {
	res := api.Build(api.BuildOptions{
		EntryPoints: []string{entry},
		Bundle:      true,
		Write:       false,
		Format:      api.FormatCommonJS,
		Platform:    api.PlatformNeutral,
		// goja implements ES2015+ with async/await and most of later
		// editions; lowering to ES2019 avoids what it lacks.
		Target: api.ES2019,
		// goja has no import(): esbuild turns it into a require.
		Supported: map[string]bool{"dynamic-import": false},
		Outfile:   "out.js",
		LogLevel:  api.LogLevelSilent,
		Charset:   api.CharsetUTF8,
		Plugins:   []api.Plugin{files.plugin()},
	})
	if len(res.Errors) > 0 {
		msgs := make([]string, 0, len(res.Errors))
		for i, m := range res.Errors {
			if i == 5 {
				msgs = append(msgs, fmt.Sprintf("and %d more", len(res.Errors)-i))
				break
			}
			msgs = append(msgs, formatMessage(m))
		}
		return "", errorf("%s", strings.Join(msgs, "; "))
	}
	if len(res.OutputFiles) != 1 {
		return "", fmt.Errorf("build bundle: esbuild wrote %d files, want 1", len(res.OutputFiles))
	}
	out := res.OutputFiles[0].Contents
	if len(out) > MaxScript {
		return "", errorf("the built script is %d bytes, more than the %d allowed", len(out), MaxScript)
	}
	return string(out), nil
}

func formatMessage(m api.Message) string {
	if m.Location == nil {
		return m.Text
	}
	return fmt.Sprintf("%s:%d:%d: %s", m.Location.File, m.Location.Line, m.Location.Column+1, m.Text)
}
