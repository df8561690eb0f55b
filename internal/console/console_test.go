package console

import (
	"encoding/xml"
	"errors"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"path"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func mustNew(t *testing.T) *Console {
	t.Helper()
	c, err := New()
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// serve sends a request through a mux mounted as server.go mounts it.
func serve(t *testing.T, method, target string, hdr map[string]string) *http.Response {
	t.Helper()
	mux := http.NewServeMux()
	h := Handler()
	mux.Handle("GET /console", h)
	mux.Handle("GET /console/", h)
	req := httptest.NewRequest(method, target, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	mux.ServeHTTP(rec, req)
	return rec.Result()
}

func TestConsole_ServeHTTP_Headers(t *testing.T) {
	c := mustNew(t)
	a := c.AssetsPath()
	tests := []struct {
		path, ctype, cache string
		status             int
	}{
		{"/console", "text/html; charset=utf-8", "no-cache", 200},
		{"/console/", "text/html; charset=utf-8", "no-cache", 200},
		{"/console/index.html", "text/html; charset=utf-8", "no-cache", 200},
		{a + "/app.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{a + "/sql.js", "text/javascript; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{a + "/style.css", "text/css; charset=utf-8", "public, max-age=31536000, immutable", 200},
		{a + "/icon.svg", "image/svg+xml", "public, max-age=31536000, immutable", 200},
		{a + "/nope.js", "", "no-cache", 404},
		{"/console/a/0000000000000000/app.js", "", "no-cache", 404}, // another version's asset
		{"/console/app.js", "", "no-cache", 404},
		{"/console/static/index.html", "", "no-cache", 404},
		{"/console/a/" + c.version, "", "no-cache", 404},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			resp := serve(t, "GET", tt.path, nil)
			defer resp.Body.Close()
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d", resp.StatusCode, tt.status)
			}
			want := map[string]string{
				"Content-Security-Policy": CSP,
				"X-Frame-Options":         "DENY",
				"X-Content-Type-Options":  "nosniff",
				"Referrer-Policy":         "no-referrer",
				"Cache-Control":           tt.cache,
			}
			if tt.ctype != "" {
				want["Content-Type"] = tt.ctype
			}
			for k, v := range want {
				if got := resp.Header.Get(k); got != v {
					t.Errorf("%s = %q, want %q", k, got, v)
				}
			}
			body, _ := io.ReadAll(resp.Body)
			if tt.status == 200 && len(body) == 0 {
				t.Error("empty body")
			}
		})
	}
}

func TestConsole_CSP_IsStrict(t *testing.T) {
	for _, want := range []string{"default-src 'self'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:",
		"connect-src 'self'", "frame-ancestors 'none'", "base-uri 'none'", "form-action 'self'"} {
		if !strings.Contains(CSP, want+";") && !strings.HasSuffix(CSP, want) {
			t.Errorf("CSP lacks %q", want)
		}
	}
	for _, bad := range []string{"unsafe-inline", "unsafe-eval", "http:", "https:", "*"} {
		if strings.Contains(CSP, bad) {
			t.Errorf("CSP allows %q", bad)
		}
	}
}

func TestConsole_ServeHTTP_Methods(t *testing.T) {
	c := mustNew(t)
	rec := httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("HEAD", "/console/", nil))
	if rec.Code != 200 || rec.Body.Len() != 0 || rec.Header().Get("Content-Length") != strconv.Itoa(len(c.index)) {
		t.Errorf("HEAD: status %d, body %d bytes, length %q", rec.Code, rec.Body.Len(), rec.Header().Get("Content-Length"))
	}
	rec = httptest.NewRecorder()
	c.ServeHTTP(rec, httptest.NewRequest("POST", "/console/", nil))
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", rec.Code, rec.Header().Get("Allow"))
	}
	// Through the mux, methods other than GET/HEAD do not reach it at all.
	if resp := serve(t, "DELETE", "/console/", nil); resp.StatusCode != 405 {
		t.Errorf("DELETE via mux: %d", resp.StatusCode)
	}
}

func TestConsole_ServeHTTP_NotModified(t *testing.T) {
	resp := serve(t, "GET", "/console/", nil)
	etag := resp.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag on the HTML")
	}
	resp = serve(t, "GET", "/console/", map[string]string{"If-None-Match": etag})
	if resp.StatusCode != 304 {
		t.Fatalf("status %d, want 304", resp.StatusCode)
	}
	if resp.Header.Get("Content-Security-Policy") != CSP {
		t.Error("304 without CSP")
	}
}

// element is a parsed HTML start tag.
type element struct {
	name  string
	attrs map[string]string
	text  string // character data directly inside (scripts and styles)
}

// parseHTML reads the served HTML with encoding/xml in its lenient HTML
// mode; the console's HTML is written to parse this way.
func parseHTML(t *testing.T, src string) []element {
	t.Helper()
	d := xml.NewDecoder(strings.NewReader(src))
	d.Strict = false
	d.AutoClose = xml.HTMLAutoClose
	d.Entity = xml.HTMLEntity
	var out []element
	var stack []int
	for {
		tok, err := d.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("parse HTML: %v", err)
		}
		switch x := tok.(type) {
		case xml.StartElement:
			e := element{name: strings.ToLower(x.Name.Local), attrs: map[string]string{}}
			for _, a := range x.Attr {
				e.attrs[strings.ToLower(a.Name.Local)] = a.Value
			}
			out = append(out, e)
			stack = append(stack, len(out)-1)
		case xml.EndElement:
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
		case xml.CharData:
			if len(stack) > 0 {
				out[stack[len(stack)-1]].text += string(x)
			}
		}
	}
	return out
}

func TestConsole_Index_NoInlineScriptOrStyle(t *testing.T) {
	c := mustNew(t)
	els := parseHTML(t, string(c.index))
	var scripts, styles int
	for _, e := range els {
		for k, v := range e.attrs {
			if strings.HasPrefix(k, "on") {
				t.Errorf("<%s> has inline handler %s=%q", e.name, k, v)
			}
			if k == "style" {
				t.Errorf("<%s> has inline style %q", e.name, v)
			}
			if (k == "href" || k == "src" || k == "action") && strings.HasPrefix(strings.ToLower(strings.TrimSpace(v)), "javascript:") {
				t.Errorf("<%s %s=%q>: javascript: URL", e.name, k, v)
			}
			if (k == "href" || k == "src") && (strings.Contains(v, "//") || strings.HasPrefix(v, "http")) {
				t.Errorf("<%s %s=%q>: not on this origin", e.name, k, v)
			}
		}
		switch e.name {
		case "script":
			scripts++
			if e.attrs["src"] == "" || strings.TrimSpace(e.text) != "" {
				t.Errorf("inline script: %+v", e)
			}
			if e.attrs["type"] != "module" {
				t.Errorf("script %s is not a module", e.attrs["src"])
			}
			checkServed(t, e.attrs["src"], "text/javascript; charset=utf-8")
		case "style":
			styles++
			t.Errorf("inline <style> element")
		case "link":
			if e.attrs["rel"] == "stylesheet" {
				checkServed(t, e.attrs["href"], "text/css; charset=utf-8")
			}
		case "base", "iframe", "object", "embed":
			t.Errorf("<%s> element in the console", e.name)
		}
	}
	if scripts != 1 {
		t.Errorf("%d script elements, want the one module entry point", scripts)
	}
	if strings.Contains(string(c.index), assetsPlaceholder) {
		t.Error("placeholder left in the HTML")
	}
}

// checkServed asserts that a URL of the HTML is served with a content type.
func checkServed(t *testing.T, url, ctype string) {
	t.Helper()
	resp := serve(t, "GET", url, nil)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != ctype {
		t.Errorf("%s: status %d, type %q", url, resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

var importRE = regexp.MustCompile(`(?m)^\s*import\s[^'"]*['"]([^'"]+)['"]`)

// TestConsole_Assets_ImportsResolve: with no bundler, a typo in an import
// path would only show in a browser; every relative import must name an
// embedded asset, and nothing may be imported from elsewhere.
func TestConsole_Assets_ImportsResolve(t *testing.T) {
	c := mustNew(t)
	n := 0
	for name, a := range c.assets {
		if path.Ext(name) != ".js" {
			continue
		}
		for _, m := range importRE.FindAllStringSubmatch(string(a.body), -1) {
			n++
			spec := m[1]
			if !strings.HasPrefix(spec, "./") {
				t.Errorf("%s imports %q: only relative imports of embedded modules", name, spec)
				continue
			}
			if _, ok := c.assets[path.Join(path.Dir(name), spec)]; !ok {
				t.Errorf("%s imports %q, which is not embedded", name, spec)
			}
		}
	}
	if n == 0 {
		t.Fatal("found no imports: the pattern is broken")
	}
}

// TestConsole_Assets_CSPSafe rejects code the CSP would block at run time
// (eval, string timers, inline styles set as attributes) and markup built
// from strings, which would open the door to injection.
func TestConsole_Assets_CSPSafe(t *testing.T) {
	banned := []*regexp.Regexp{
		regexp.MustCompile(`\beval\(`),
		regexp.MustCompile(`new Function\(`),
		regexp.MustCompile(`setTimeout\(\s*['"]`),
		regexp.MustCompile(`\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write`),
		regexp.MustCompile(`setAttribute\(\s*['"]style['"]`),
		// loads from another origin (the CSP would block them anyway)
		regexp.MustCompile("(?:fetch|WebSocket|import)\\(\\s*['\"`](?:https?|wss?):|url\\(\\s*['\"]?(?:https?:)?//|@import"),
	}
	err := fs.WalkDir(static, "static/assets", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || (path.Ext(p) != ".js" && path.Ext(p) != ".css") {
			return err
		}
		b, _ := fs.ReadFile(static, p)
		for _, re := range banned {
			src := string(b)
			if loc := re.FindStringIndex(src); loc != nil {
				t.Errorf("%s: %q at byte %d", p, src[loc[0]:loc[1]], loc[0])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestConsole_Version_ChangesWithContent(t *testing.T) {
	c1, c2 := mustNew(t), mustNew(t)
	if c1.version != c2.version || len(c1.version) != 16 {
		t.Fatalf("versions %q, %q", c1.version, c2.version)
	}
	if !strings.Contains(string(c1.index), c1.AssetsPath()+"/app.js") {
		t.Error("the HTML does not name the versioned app.js")
	}
}
