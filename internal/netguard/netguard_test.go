package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestCheck(t *testing.T) {
	refused := []string{
		"127.0.0.1", "127.1.2.3", "10.0.0.1", "10.255.255.255", "172.16.0.1", "172.31.255.255",
		"192.168.1.1", "100.64.0.1", "100.100.100.200", "169.254.169.254", "169.254.0.1", "0.0.0.0",
		"0.1.2.3", "224.0.0.1", "239.255.255.250", "255.255.255.255", "240.0.0.1", "198.18.0.1",
		"::", "::1", "fe80::1", "fe80::1%eth0", "fc00::1", "fd00:ec2::254", "ff02::1", "fec0::1",
		"::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
		"64:ff9b::a9fe:a9fe", "64:ff9b::7f00:1", "2002:7f00:1::1", "2002:a00:1::", "2001:db8::1",
		"2001:0:4136:e378:8000:63bf:80ff:fffe", // Teredo for 127.0.0.1
	}
	for _, s := range refused {
		ip := netip.MustParseAddr(s)
		if err := Check(ip); !errors.Is(err, ErrForbidden) {
			t.Errorf("Check(%s) = %v, want ErrForbidden", s, err)
		}
	}
	allowed := []string{"8.8.8.8", "1.1.1.1", "172.32.0.1", "100.128.0.1", "2606:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808", "2002:808:808::1"}
	for _, s := range allowed {
		if err := Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("Check(%s) = %v, want nil", s, err)
		}
	}
	if err := Check(netip.Addr{}); !errors.Is(err, ErrForbidden) {
		t.Errorf("Check(zero) = %v", err)
	}
}

// fakeDNS resolves names from a table, as a DNS server under an
// attacker's control would.
func fakeDNS(table map[string]string) Resolver {
	return func(ctx context.Context, network, host string) ([]netip.Addr, error) {
		if a, ok := table[host]; ok {
			var out []netip.Addr
			for _, s := range strings.Split(a, ",") {
				out = append(out, netip.MustParseAddr(s))
			}
			return out, nil
		}
		return nil, &net.DNSError{Err: "no such host", Name: host, IsNotFound: true}
	}
}

var testDNS = map[string]string{
	"loopback.test": "127.0.0.1",
	"ten.test":      "10.1.2.3",
	"metadata.test": "169.254.169.254",
	"v6.test":       "::1",
	"mixed.test":    "8.8.8.8,10.0.0.1",
	"public.test":   "8.8.8.8",
}

func TestGuard_CheckHost(t *testing.T) {
	g := &Guard{Resolve: fakeDNS(testDNS)}
	ctx := context.Background()
	for _, h := range []string{"127.0.0.1", "10.0.0.8", "169.254.169.254", "::1", "loopback.test", "ten.test", "metadata.test", "v6.test", "mixed.test"} {
		if err := g.CheckHost(ctx, h); !errors.Is(err, ErrForbidden) {
			t.Errorf("CheckHost(%s) = %v, want ErrForbidden", h, err)
		}
	}
	if err := g.CheckHost(ctx, "public.test"); err != nil {
		t.Errorf("CheckHost(public.test) = %v", err)
	}
	if err := g.CheckHost(ctx, "nxdomain.test"); err == nil || errors.Is(err, ErrForbidden) {
		t.Errorf("CheckHost(nxdomain.test) = %v, want a resolve error", err)
	}
	open := &Guard{Resolve: fakeDNS(testDNS), AllowPrivate: true}
	if err := open.CheckHost(ctx, "metadata.test"); err != nil {
		t.Errorf("AllowPrivate: CheckHost = %v", err)
	}
}

// TestGuard_Client_Refuses dials a real server on loopback: refused by
// address, by a name resolving to it, and by a redirect from a permitted
// server to private addresses.
func TestGuard_Client_Refuses(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("secret")) }))
	defer target.Close()
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))

	strict := (&Guard{Resolve: fakeDNS(testDNS)}).Client(5 * time.Second)
	for _, u := range []string{target.URL, "http://loopback.test:" + port, "http://[::1]:" + port} {
		resp, err := strict.Get(u)
		if err == nil {
			resp.Body.Close()
			t.Errorf("GET %s: answered %d, want refused", u, resp.StatusCode)
		} else if !errors.Is(err, ErrForbidden) {
			t.Errorf("GET %s: %v, want ErrForbidden", u, err)
		}
	}

	// A redirector on 127.0.0.1, permitted by Allow, sending elsewhere.
	redirector := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("to"), http.StatusFound)
	}))
	defer redirector.Close()
	g := &Guard{Resolve: fakeDNS(testDNS), Allow: []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")}}
	c := g.Client(5 * time.Second)
	for _, to := range []string{"http://127.0.0.2:" + port + "/", "http://10.0.0.1/", "http://169.254.169.254/latest/meta-data/", "http://metadata.test/", "http://[::1]:" + port + "/", "http://[::ffff:127.0.0.2]:" + port + "/"} {
		resp, err := c.Get(redirector.URL + "/?to=" + to)
		if err == nil {
			resp.Body.Close()
			t.Errorf("redirect to %s: answered %d, want refused", to, resp.StatusCode)
		} else if !errors.Is(err, ErrForbidden) {
			t.Errorf("redirect to %s: %v, want ErrForbidden", to, err)
		}
	}
	// The permitted server itself is reachable, so the refusals above are
	// the guard's doing and not a broken test server.
	resp, err := c.Get(target.URL)
	if err != nil {
		t.Fatalf("GET permitted %s: %v", target.URL, err)
	}
	resp.Body.Close()
}

// TestGuard_DialCheck: the dial-time check refuses whatever the
// redirect policy lets through (a client built without CheckRedirect).
func TestGuard_DialCheck(t *testing.T) {
	target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer target.Close()
	g := &Guard{Resolve: fakeDNS(testDNS)}
	c := &http.Client{Transport: &http.Transport{DialContext: g.DialContext}}
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(target.URL, "http://"))
	_, err := c.Get("http://loopback.test:" + port)
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("GET via a name resolving to loopback: %v, want ErrForbidden", err)
	}
	// Control alone (a dialer someone else built) refuses too.
	d := &net.Dialer{Control: Control}
	if conn, err := d.Dial("tcp", strings.TrimPrefix(target.URL, "http://")); !errors.Is(err, ErrForbidden) {
		if conn != nil {
			conn.Close()
		}
		t.Fatalf("dial with Control: %v, want ErrForbidden", err)
	}
}

func FuzzCheck(f *testing.F) {
	for _, s := range []string{"127.0.0.1", "::ffff:10.0.0.1", "64:ff9b::a9fe:a9fe", "8.8.8.8", "2002:7f00:1::1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		ip, err := netip.ParseAddr(s)
		if err != nil {
			return
		}
		// A mapped address is judged exactly as the address it maps.
		if err4 := Check(ip.Unmap()); (Check(ip) == nil) != (err4 == nil) {
			t.Fatalf("%s and its unmapped form disagree", s)
		}
		if ip.Unmap().IsLoopback() || ip.Unmap().IsPrivate() || ip.Unmap().IsLinkLocalUnicast() || ip.Unmap().IsUnspecified() || ip.Unmap().IsMulticast() {
			if Check(ip) == nil {
				t.Fatalf("%s accepted", s)
			}
		}
	})
}
