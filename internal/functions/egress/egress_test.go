package egress_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"strings"
	"testing"

	"github.com/db9/db9/internal/functions/egress"
)

func TestBlocked(t *testing.T) {
	blocked := []string{"127.0.0.1", "127.8.9.1", "10.0.0.1", "172.16.5.4", "192.168.1.1", "100.64.0.1",
		"169.254.169.254", "0.0.0.0", "224.0.0.1", "255.255.255.255", "::1", "::", "fc00::1", "fd12::1",
		"fe80::1", "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "64:ff9b::a00:1",
		"2002:a00:1::", "::127.0.0.1", "fe80::1%eth0"}
	for _, s := range blocked {
		if err := egress.Blocked(netip.MustParseAddr(s)); !errors.Is(err, egress.ErrBlocked) {
			t.Errorf("%s: not blocked (%v)", s, err)
		}
	}
	for _, s := range []string{"1.1.1.1", "8.8.8.8", "2606:4700:4700::1111", "::ffff:1.1.1.1", "64:ff9b::101:101", "172.32.0.1"} {
		if err := egress.Blocked(netip.MustParseAddr(s)); err != nil {
			t.Errorf("%s: blocked: %v", s, err)
		}
	}
}

func TestAllowlist_Allows(t *testing.T) {
	al, err := egress.ParseAllowlist([]string{"https://api.example.com", "https://*.example.org", "http://h.test:8080/"})
	if err != nil {
		t.Fatal(err)
	}
	cases := map[string]bool{
		"https://api.example.com/x?y": true, "https://API.example.com:443/": true, "http://api.example.com/": false,
		"https://api.example.com:8443/": false, "https://evil.com/api.example.com": false,
		"https://a.example.org/": true, "https://a.b.example.org/": true, "https://example.org/": false,
		"https://badexample.org/": false, "http://h.test:8080/p": true, "http://h.test/": false,
		"ftp://api.example.com/": false, "https://api.example.com.evil.com/": false,
	}
	for raw, want := range cases {
		u, _ := url.Parse(raw)
		if got := al.Allows(u); got != want {
			t.Errorf("%s: allowed %v, want %v", raw, got, want)
		}
	}
	for _, bad := range []string{"https://x.com/path", "https://a.*.com", "ftp://x.com", "https://u:p@x.com", "x.com"} {
		if _, err := egress.ParseAllowlist([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

// mapResolver resolves names from a table, like a hostile DNS would.
type mapResolver map[string]string

func (m mapResolver) LookupNetIP(_ context.Context, _, host string) ([]netip.Addr, error) {
	if ip, ok := m[host]; ok {
		return []netip.Addr{netip.MustParseAddr(ip)}, nil
	}
	return nil, fmt.Errorf("no such host %s", host)
}

// testFetcher trusts srv's certificate and exempts srv's own loopback
// address from the guard, as only tests may.
func testFetcher(t *testing.T, srv *httptest.Server) *egress.Fetcher {
	ap := netip.MustParseAddrPort(srv.Listener.Addr().String())
	return &egress.Fetcher{
		Guard:     &egress.Guard{Resolver: mapResolver{"internal.example.com": "10.0.0.1", "meta.example.com": "169.254.169.254", "lo.example.com": "127.0.0.1"}, UnsafeAllowAddrPorts: []netip.AddrPort{ap}},
		TLSConfig: srv.Client().Transport.(*http.Transport).TLSClientConfig,
	}
}

func TestFetcher_Do_Refusals(t *testing.T) {
	allowed := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if to := r.URL.Query().Get("to"); to != "" {
			http.Redirect(w, r, to, http.StatusFound)
			return
		}
		fmt.Fprint(w, "hello from allowed")
	}))
	defer allowed.Close()
	// A live loopback server that is not exempted: without the guard a
	// fetch to it would succeed.
	inside := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "secret") }))
	defer inside.Close()
	insidePort := inside.Listener.Addr().(*net.TCPAddr).Port
	v6 := "[::1]:1"
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		defer l.Close()
		go http.Serve(l, inside.Config.Handler)
		v6 = l.Addr().String()
	}
	f := testFetcher(t, allowed)
	allowedURL := allowed.URL
	insideURL := fmt.Sprintf("http://127.0.0.1:%d", insidePort)
	lo := fmt.Sprintf("http://lo.example.com:%d", insidePort)
	al, err := egress.ParseAllowlist([]string{allowedURL, insideURL, "http://10.0.0.1", "http://169.254.169.254", "http://" + v6, "https://*.example.com", lo})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if r, err := f.Do(ctx, al, egress.Request{URL: allowedURL + "/x"}); err != nil || string(r.Body) != "hello from allowed" {
		t.Fatalf("allowed fetch: %v %+v", err, r)
	}
	refused := []string{
		insideURL + "/",                           // loopback
		"http://10.0.0.1/",                        // RFC 1918
		"http://169.254.169.254/latest/meta-data", // metadata
		"http://" + v6 + "/",                      // IPv6 loopback
		"https://internal.example.com/",           // name resolving to a private address
		"https://meta.example.com/",               // name resolving to link-local
		lo + "/",                                  // name resolving to loopback, live server behind it
		allowedURL + "/?to=" + url.QueryEscape(insideURL+"/"),                   // redirect to loopback
		allowedURL + "/?to=" + url.QueryEscape("https://internal.example.com/"), // redirect to a name inside
	}
	for _, u := range refused {
		_, err := f.Do(ctx, al, egress.Request{URL: u})
		var fe *egress.Error
		if !errors.As(err, &fe) || fe.Code != "EACCES" || !strings.Contains(fe.Message, "not public") {
			t.Errorf("%s: err = %v, want EACCES from the guard", u, err)
		}
	}
	// Origins off the list, directly or by redirect, are refused before dialing.
	for _, u := range []string{"https://example.net/", allowedURL + "/?to=" + url.QueryEscape("https://example.net/")} {
		_, err := f.Do(ctx, al, egress.Request{URL: u})
		var fe *egress.Error
		if !errors.As(err, &fe) || fe.Code != "EACCES" || !strings.Contains(fe.Message, "network_allowlist") {
			t.Errorf("%s: err = %v, want EACCES from the allowlist", u, err)
		}
	}
}

func TestFetcher_Do_BodyLimit(t *testing.T) {
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(strings.Repeat("x", 2000)))
	}))
	defer srv.Close()
	f := testFetcher(t, srv)
	f.MaxBody = 1000
	al, _ := egress.ParseAllowlist([]string{srv.URL})
	_, err := f.Do(context.Background(), al, egress.Request{URL: srv.URL})
	var fe *egress.Error
	if !errors.As(err, &fe) || fe.Code != "EFBIG" {
		t.Fatalf("err = %v", err)
	}
}
