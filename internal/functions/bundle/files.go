package bundle

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"path"
	"strings"
	"unicode/utf8"

	"github.com/evanw/esbuild/pkg/api"
)

// fileSet is the bundle's files by clean relative path. esbuild reads them
// only through the plugin below, never from the server's file system.
type fileSet map[string]string

const namespace = "db9-bundle"

// moduleExts are tried in order when a module is named without extension.
var moduleExts = []string{".js", ".ts", ".mjs", ".cjs", ".mts", ".cts", ".json"}

func clean(p string) string {
	c := path.Clean("/" + p)[1:]
	if c == "" || c == "." {
		return ""
	}
	return c
}

// readFiles reads a zip, or takes raw as the one source file of the
// entrypoint module (named .ts: the TypeScript loader also reads plain
// JavaScript, CommonJS included).
func readFiles(raw []byte, ep Entrypoint) (fileSet, error) {
	if !bytes.HasPrefix(raw, []byte("PK\x03\x04")) && !bytes.HasPrefix(raw, []byte("PK\x05\x06")) {
		if !utf8.Valid(raw) {
			return nil, errorf("a single-file bundle must be UTF-8 JavaScript or TypeScript text (or a zip)")
		}
		return fileSet{ep.Module + ".ts": string(raw)}, nil
	}
	zr, err := zip.NewReader(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		return nil, errorf("read zip: %v", err)
	}
	if len(zr.File) > MaxFiles {
		return nil, errorf("zip has %d entries, more than the %d allowed", len(zr.File), MaxFiles)
	}
	files := fileSet{}
	total := int64(0)
	for _, f := range zr.File {
		if f.FileInfo().IsDir() {
			continue
		}
		name := clean(f.Name)
		if name == "" || strings.HasPrefix(f.Name, "__MACOSX/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, errorf("read zip entry %s: %v", f.Name, err)
		}
		// The header's size may lie: count what is really inflated.
		b, err := io.ReadAll(io.LimitReader(rc, MaxUnzipped-total+1))
		rc.Close()
		if err != nil {
			return nil, errorf("read zip entry %s: %v", f.Name, err)
		}
		total += int64(len(b))
		if total > MaxUnzipped {
			return nil, errorf("zip inflates to more than %d bytes", MaxUnzipped)
		}
		files[name] = string(b)
	}
	return files, nil
}

// module finds the file of a module path given without extension (or with
// one), the way Node and esbuild do: exact, with an extension, index file.
func (fs fileSet) module(p string) (string, bool) {
	if _, ok := fs[p]; ok && p != "" {
		return p, true
	}
	for _, ext := range moduleExts {
		if _, ok := fs[p+ext]; ok {
			return p + ext, true
		}
	}
	for _, ext := range moduleExts {
		idx := path.Join(p, "index"+ext)
		if _, ok := fs[idx]; ok {
			return idx, true
		}
	}
	return "", false
}

// pkg resolves a bare import ("lodash", "@scope/x/y") to a file under
// node_modules/ inside the bundle.
func (fs fileSet) pkg(spec string) (string, bool) {
	dir := path.Join("node_modules", spec)
	if f, ok := fs.pkgMain(dir); ok {
		return f, true
	}
	return fs.module(dir)
}

func (fs fileSet) pkgMain(dir string) (string, bool) {
	pj, ok := fs[path.Join(dir, "package.json")]
	if !ok {
		return "", false
	}
	var meta struct {
		Main   string `json:"main"`
		Module string `json:"module"`
	}
	_ = json.Unmarshal([]byte(pj), &meta)
	for _, m := range []string{meta.Main, meta.Module, "index"} {
		if m == "" {
			continue
		}
		if f, ok := fs.module(clean(path.Join(dir, m))); ok {
			return f, true
		}
	}
	return "", false
}

func loaderFor(p string) api.Loader {
	switch path.Ext(p) {
	case ".ts", ".mts", ".cts":
		return api.LoaderTS
	case ".json":
		return api.LoaderJSON
	case ".js", ".mjs", ".cjs":
		return api.LoaderJS
	default:
		return api.LoaderText
	}
}

// plugin serves every path from the file set. A specifier the bundle does
// not hold stays external: a require() left for the runtime to answer.
func (fs fileSet) plugin() api.Plugin {
	return api.Plugin{
		Name: "db9-bundle",
		Setup: func(b api.PluginBuild) {
			b.OnResolve(api.OnResolveOptions{Filter: ".*"}, func(a api.OnResolveArgs) (api.OnResolveResult, error) {
				if a.Kind == api.ResolveEntryPoint {
					return api.OnResolveResult{Path: a.Path, Namespace: namespace}, nil
				}
				spec := a.Path
				if strings.HasPrefix(spec, "./") || strings.HasPrefix(spec, "../") || strings.HasPrefix(spec, "/") {
					base := path.Dir(a.Importer)
					if strings.HasPrefix(spec, "/") {
						base = ""
					}
					p := clean(path.Join(base, spec))
					if f, ok := fs.module(p); ok {
						return api.OnResolveResult{Path: f, Namespace: namespace}, nil
					}
					return api.OnResolveResult{}, errorf("%s: cannot find module %q in the bundle", a.Importer, spec)
				}
				if strings.HasPrefix(spec, "node:") {
					return api.OnResolveResult{Path: spec, External: true}, nil
				}
				if f, ok := fs.pkg(spec); ok {
					return api.OnResolveResult{Path: f, Namespace: namespace}, nil
				}
				return api.OnResolveResult{Path: spec, External: true}, nil
			})
			b.OnLoad(api.OnLoadOptions{Filter: ".*", Namespace: namespace}, func(a api.OnLoadArgs) (api.OnLoadResult, error) {
				src, ok := fs[a.Path]
				if !ok {
					return api.OnLoadResult{}, errorf("cannot find module %s in the bundle", a.Path)
				}
				return api.OnLoadResult{Contents: &src, Loader: loaderFor(a.Path), ResolveDir: "/"}, nil
			})
		},
	}
}
