package cors

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
)

// AllowHeaders are the request headers supabase-js and postgrest-js send.
const AllowHeaders = "apikey, authorization, x-client-info, content-type, prefer, accept, accept-profile, content-profile, range, range-unit, x-upsert, x-supabase-api-version"

// ExposeHeaders are the response headers those clients read.
const ExposeHeaders = "Content-Range, Content-Location, Location, Preference-Applied, RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset, Retry-After"

// AllowMethods are the methods of the PostgREST dialect.
const AllowMethods = "GET, HEAD, POST, PATCH, PUT, DELETE, OPTIONS"

// MaxAge lets a browser reuse a preflight answer for a day (Chromium caps
// it at two hours anyway).
const MaxAge = "86400"

// Policy is the CORS part of a publishable key.
type Policy struct {
	// AllowedOrigins holds exact origins ("https://app.example.com") or
	// "*" for any.
	AllowedOrigins []string
}

// Allows reports whether origin may call with this key. Origins compare
// as browsers send them: scheme://host[:port], lowercase scheme and host.
func (p Policy) Allows(origin string) bool {
	o := normalize(origin)
	if o == "" {
		return false
	}
	for _, a := range p.AllowedOrigins {
		if a == "*" || normalize(a) == o {
			return true
		}
	}
	return false
}

func (p Policy) any() bool {
	for _, a := range p.AllowedOrigins {
		if a == "*" {
			return true
		}
	}
	return false
}

// normalize returns scheme://host[:port] in lowercase without a default
// port, or "" for what is not an origin ("null" included: sandboxed
// frames and file: pages are no one's origin).
func normalize(origin string) string {
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" ||
		u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return ""
	}
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "https" && port == "443") || (u.Scheme == "http" && port == "80") {
		port = ""
	}
	if strings.Contains(host, ":") {
		host = "[" + host + "]"
	}
	if port != "" {
		host += ":" + port
	}
	return u.Scheme + "://" + host
}

// ValidateOrigins checks allowed_origins as a key is created: each entry
// is "*" or an origin (scheme://host[:port], http or https, nothing else).
func ValidateOrigins(origins []string) (bad string, ok bool) {
	for _, o := range origins {
		if o != "*" && normalize(o) == "" {
			return o, false
		}
	}
	return "", true
}

// IsPreflight reports whether r is a CORS preflight.
func IsPreflight(r *http.Request) bool {
	return r.Method == http.MethodOptions && r.Header.Get("Origin") != "" && r.Header.Get("Access-Control-Request-Method") != ""
}

// Preflight answers a preflight (see the package doc for why it does not
// depend on a key): 204 with the methods and headers the data API takes.
func Preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Add("Vary", "Origin, Access-Control-Request-Method, Access-Control-Request-Headers")
	h.Set("Access-Control-Allow-Origin", r.Header.Get("Origin"))
	h.Set("Access-Control-Allow-Methods", AllowMethods)
	h.Set("Access-Control-Allow-Headers", AllowHeaders)
	h.Set("Access-Control-Max-Age", MaxAge)
	w.WriteHeader(http.StatusNoContent)
}

// Apply judges an actual request made with a publishable key of policy p.
// Without an Origin (a server, curl) it does nothing and returns true. With
// an allowed Origin it sets the response's Access-Control-* headers and
// returns true. Otherwise it answers 403 without any Access-Control-Allow-
// Origin and returns false: the caller must not run the request.
func Apply(w http.ResponseWriter, r *http.Request, p Policy) bool {
	origin := r.Header.Get("Origin")
	h := w.Header()
	h.Add("Vary", "Origin")
	if origin == "" {
		return true
	}
	if !p.Allows(origin) {
		writeJSON(w, http.StatusForbidden, "origin not allowed for this key")
		return false
	}
	if p.any() {
		h.Set("Access-Control-Allow-Origin", "*")
	} else {
		h.Set("Access-Control-Allow-Origin", origin)
	}
	h.Set("Access-Control-Expose-Headers", ExposeHeaders)
	return true
}

// ServiceKeyMessage is the answer to a service key sent from a browser.
const ServiceKeyMessage = "service keys are for server-side use"

// RefuseBrowser answers 403 to a request made with a service key that
// carries an Origin header (a browser sent it: the key has leaked into a
// page) and returns true; without Origin it returns false.
func RefuseBrowser(w http.ResponseWriter, r *http.Request) bool {
	if r.Header.Get("Origin") == "" {
		return false
	}
	writeJSON(w, http.StatusForbidden, ServiceKeyMessage)
	return true
}

func writeJSON(w http.ResponseWriter, status int, message string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"message": message})
}
