package cors

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestPolicy_Allows(t *testing.T) {
	p := Policy{AllowedOrigins: []string{"https://app.example.com", "http://localhost:3000", "https://[::1]:8443"}}
	for origin, want := range map[string]bool{
		"https://app.example.com":          true,
		"https://APP.example.com":          true,
		"https://app.example.com:443":      true,
		"https://app.example.com/":         true,
		"http://app.example.com":           false,
		"https://app.example.com:444":      false,
		"https://evil.example.com":         false,
		"https://app.example.com.evil.com": false,
		"http://localhost:3000":            true,
		"http://localhost:3001":            false,
		"https://[::1]:8443":               true,
		"null":                             false,
		"":                                 false,
		"file://":                          false,
		"https://app.example.com/x":        false,
	} {
		if got := p.Allows(origin); got != want {
			t.Errorf("Allows(%q) = %v, want %v", origin, got, want)
		}
	}
	star := Policy{AllowedOrigins: []string{"*"}}
	if !star.Allows("https://anything.example") || star.Allows("null") {
		t.Error("* policy")
	}
	if (Policy{}).Allows("https://app.example.com") {
		t.Error("empty policy allows")
	}
	if bad, ok := ValidateOrigins([]string{"*", "https://a.example", "https://a.example/path"}); ok || bad != "https://a.example/path" {
		t.Errorf("ValidateOrigins = %q %v", bad, ok)
	}
}

func TestPreflight(t *testing.T) {
	r := httptest.NewRequest(http.MethodOptions, "/data/db/rest/v1/posts", nil)
	r.Header.Set("Origin", "https://app.example.com")
	r.Header.Set("Access-Control-Request-Method", "PATCH")
	r.Header.Set("Access-Control-Request-Headers", "apikey, authorization, x-client-info, content-type, prefer, accept-profile, content-profile, range, range-unit")
	if !IsPreflight(r) {
		t.Fatal("not a preflight")
	}
	w := httptest.NewRecorder()
	Preflight(w, r)
	if w.Code != 204 || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" {
		t.Fatalf("preflight: %d %v", w.Code, w.Header())
	}
	allowed := strings.Split(w.Header().Get("Access-Control-Allow-Headers"), ", ")
	for _, h := range strings.Split(r.Header.Get("Access-Control-Request-Headers"), ", ") {
		if !contains(allowed, h) {
			t.Errorf("header %s not allowed", h)
		}
	}
	if !strings.Contains(w.Header().Get("Access-Control-Allow-Methods"), "PATCH") {
		t.Error("PATCH not allowed")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestApply(t *testing.T) {
	p := Policy{AllowedOrigins: []string{"https://app.example.com"}}
	do := func(origin string, p Policy) (*httptest.ResponseRecorder, bool) {
		r := httptest.NewRequest(http.MethodGet, "/x", nil)
		if origin != "" {
			r.Header.Set("Origin", origin)
		}
		w := httptest.NewRecorder()
		return w, Apply(w, r, p)
	}
	w, ok := do("https://app.example.com", p)
	if !ok || w.Header().Get("Access-Control-Allow-Origin") != "https://app.example.com" || !strings.Contains(w.Header().Get("Access-Control-Expose-Headers"), "Content-Range") {
		t.Errorf("allowed origin: %v %v", ok, w.Header())
	}
	w, ok = do("https://evil.example.com", p)
	if ok || w.Code != 403 || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("refused origin: %v %d %v", ok, w.Code, w.Header())
	}
	var body map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || body["message"] == "" {
		t.Errorf("refusal body %q", w.Body)
	}
	if w, ok = do("", p); !ok || w.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("no origin: %v %v", ok, w.Header())
	}
	if w, ok = do("https://any.example", Policy{AllowedOrigins: []string{"*"}}); !ok || w.Header().Get("Access-Control-Allow-Origin") != "*" {
		t.Errorf("star: %v %v", ok, w.Header())
	}
}

func TestRefuseBrowser(t *testing.T) {
	r := httptest.NewRequest(http.MethodGet, "/x", nil)
	w := httptest.NewRecorder()
	if RefuseBrowser(w, r) {
		t.Fatal("refused a request without Origin")
	}
	r.Header.Set("Origin", "https://app.example.com")
	if !RefuseBrowser(w, r) || w.Code != 403 || strings.TrimSpace(w.Body.String()) != `{"message":"service keys are for server-side use"}` {
		t.Fatalf("service key from a browser: %d %s", w.Code, w.Body)
	}
}
