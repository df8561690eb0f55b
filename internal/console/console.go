package console

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"sort"
	"strconv"
	"strings"
)

// static holds the app. It is a package variable because embed can only
// fill those; it is read once, by New.
//
//go:embed static
var static embed.FS

// CSP is the Content-Security-Policy of every console response: scripts,
// styles and connections only from the server's own origin, no framing.
const CSP = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"

// Prefix is where the console is mounted.
const Prefix = "/console"

// assetsPlaceholder is replaced in index.html by the versioned assets path.
const assetsPlaceholder = "{{ASSETS}}"

// contentTypes are set explicitly rather than from the host's mime tables,
// which differ between machines (a .js served as text/plain breaks modules
// under nosniff).
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".svg":  "image/svg+xml",
}

type asset struct {
	body  []byte
	ctype string
}

// Console serves the embedded web console.
type Console struct {
	version string // hash of every asset: part of their URLs
	index   []byte
	assets  map[string]asset // by path below static/assets
}

// New reads the embedded files. The assets are served under
// /console/a/<version>/ where version hashes all of them, so they can be
// cached for good; relative imports between ES modules keep working
// because every asset shares the one versioned directory.
func New() (*Console, error) {
	sub, err := fs.Sub(static, "static/assets")
	if err != nil {
		return nil, fmt.Errorf("open embedded assets: %w", err)
	}
	c := &Console{assets: map[string]asset{}}
	var names []string
	err = fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		ct, ok := contentTypes[path.Ext(p)]
		if !ok {
			return fmt.Errorf("asset %s: no content type for its extension", p)
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		c.assets[p] = asset{body: b, ctype: ct}
		names = append(names, p)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read embedded assets: %w", err)
	}
	sort.Strings(names)
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s\x00%d\x00", n, len(c.assets[n].body))
		h.Write(c.assets[n].body)
	}
	c.version = hex.EncodeToString(h.Sum(nil))[:16]
	index, err := fs.ReadFile(static, "static/index.html")
	if err != nil {
		return nil, fmt.Errorf("read embedded index.html: %w", err)
	}
	c.index = bytes.ReplaceAll(index, []byte(assetsPlaceholder), []byte(c.AssetsPath()))
	return c, nil
}

// Handler returns the console's handler, for the patterns "GET /console"
// and "GET /console/". The embedded files are fixed at build time and
// covered by tests, so a failure here is a broken build: the handler then
// answers 500 rather than taking the server down.
func Handler() http.Handler {
	c, err := New()
	if err != nil {
		msg := "console unavailable: " + err.Error()
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, msg, http.StatusInternalServerError)
		})
	}
	return c
}

// AssetsPath is the URL path the current assets are served under.
func (c *Console) AssetsPath() string { return Prefix + "/a/" + c.version }

// ServeHTTP serves index.html at /console and /console/, the versioned
// assets, and 404 for everything else under /console.
func (c *Console) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Content-Security-Policy", CSP)
	h.Set("X-Frame-Options", "DENY")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		h.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	if p == Prefix || p == Prefix+"/" || p == Prefix+"/index.html" {
		// The HTML names the assets' version: it must be revalidated on
		// every load so a new binary's assets are picked up at once.
		h.Set("Cache-Control", "no-cache")
		c.write(w, r, asset{body: c.index, ctype: contentTypes[".html"]}, `"`+c.version+`"`)
		return
	}
	if rest, ok := strings.CutPrefix(p, c.AssetsPath()+"/"); ok {
		if a, ok := c.assets[rest]; ok {
			h.Set("Cache-Control", "public, max-age=31536000, immutable")
			c.write(w, r, a, "")
			return
		}
	}
	// An old version's asset is a 404 too: serving today's file under
	// yesterday's URL would mix two versions of the app in one page.
	h.Set("Cache-Control", "no-cache")
	http.Error(w, "404 page not found", http.StatusNotFound)
}

func (c *Console) write(w http.ResponseWriter, r *http.Request, a asset, etag string) {
	h := w.Header()
	if etag != "" {
		h.Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	h.Set("Content-Type", a.ctype)
	h.Set("Content-Length", strconv.Itoa(len(a.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method != http.MethodHead {
		_, _ = w.Write(a.body)
	}
}
