package egress

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// Allowlist is a function's network_allowlist: exact origins
// ("https://api.example.com", "http://h:8080") and wildcard origins
// ("https://*.example.com": any subdomain, not example.com itself).
type Allowlist []string

// Origin is the normalized origin of u: scheme://host:port, lowercase,
// with the scheme's default port written out.
func Origin(u *url.URL) (string, error) {
	scheme := strings.ToLower(u.Scheme)
	if scheme != "http" && scheme != "https" {
		return "", fmt.Errorf("scheme %q is not http or https", u.Scheme)
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if host == "" {
		return "", fmt.Errorf("url %q has no host", u.Redacted())
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[scheme]
	}
	return scheme + "://" + net.JoinHostPort(host, port), nil
}

// ParseAllowlist validates and normalizes entries; the control API answers
// 422 with the error when a deploy gives a malformed one.
func ParseAllowlist(entries []string) (Allowlist, error) {
	out := make(Allowlist, 0, len(entries))
	for _, e := range entries {
		raw := strings.TrimSpace(e)
		wild := false
		if i := strings.Index(raw, "://*."); i >= 0 {
			wild = true
			raw = raw[:i+3] + raw[i+5:]
		}
		u, err := url.Parse(raw)
		if err != nil || u.Path != "" && u.Path != "/" || u.RawQuery != "" || u.User != nil || u.Fragment != "" {
			return nil, fmt.Errorf("network_allowlist entry %q must be an origin such as https://api.example.com or https://*.example.com", e)
		}
		o, err := Origin(u)
		if err != nil {
			return nil, fmt.Errorf("network_allowlist entry %q: %v", e, err)
		}
		if strings.Contains(u.Hostname(), "*") {
			return nil, fmt.Errorf("network_allowlist entry %q: a wildcard is allowed only as the first label (*.example.com)", e)
		}
		if wild {
			o = strings.Replace(o, "://", "://*.", 1)
		}
		out = append(out, o)
	}
	return out, nil
}

// Allows reports whether u's origin is on the list. Entries are expected
// normalized (ParseAllowlist); others are normalized here at a cost.
func (a Allowlist) Allows(u *url.URL) bool {
	o, err := Origin(u)
	if err != nil {
		return false
	}
	scheme, hostPort, _ := strings.Cut(o, "://")
	for _, e := range a {
		n, err := ParseAllowlist([]string{e})
		if err != nil {
			continue
		}
		es, ehp, _ := strings.Cut(n[0], "://")
		if es != scheme {
			continue
		}
		if suffix, ok := strings.CutPrefix(ehp, "*."); ok {
			host, port, _ := net.SplitHostPort(hostPort)
			shost, sport, _ := net.SplitHostPort(suffix)
			if port == sport && strings.HasSuffix(host, "."+shost) {
				return true
			}
			continue
		}
		if ehp == hostPort {
			return true
		}
	}
	return false
}
