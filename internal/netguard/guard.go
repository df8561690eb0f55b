package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"syscall"
	"time"
)

// Resolver looks a host name up; net.DefaultResolver.LookupNetIP fits, and
// tests substitute their own to make a name resolve to a private address.
type Resolver func(ctx context.Context, network, host string) ([]netip.Addr, error)

// Guard dials only public addresses, unless AllowPrivate is set (for
// self-hosted deployments whose identity provider lives on a private
// network). The zero value is ready to use and strict.
type Guard struct {
	// AllowPrivate turns the address check off.
	AllowPrivate bool
	// Allow lists ranges permitted although not public (a known internal
	// identity provider, or a test server on loopback).
	Allow []netip.Prefix
	// Resolve looks names up; nil means net.DefaultResolver.
	Resolve Resolver
	// DialTimeout bounds one connection attempt; 0 means 10 s.
	DialTimeout time.Duration
}

func (g *Guard) resolve(ctx context.Context, host string) ([]netip.Addr, error) {
	if ip, err := netip.ParseAddr(host); err == nil {
		return []netip.Addr{ip}, nil
	}
	if g.Resolve != nil {
		return g.Resolve(ctx, "ip", host)
	}
	return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
}

// CheckHost resolves host (a name or an IP literal, without port) and
// returns an error wrapping ErrForbidden when any of its addresses is not
// public, so that a configuration naming such a host can be refused when it
// is saved rather than when it is first used. A name that does not resolve
// is an error too (not wrapping ErrForbidden).
func (g *Guard) CheckHost(ctx context.Context, host string) error {
	_, err := g.lookup(ctx, host)
	return err
}

// lookup resolves host and checks every address: one private address among
// public ones refuses the host, since which one gets dialed is not ours to
// choose.
func (g *Guard) lookup(ctx context.Context, host string) ([]netip.Addr, error) {
	addrs, err := g.resolve(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("resolve %s: %w", host, err)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("resolve %s: no address", host)
	}
	for _, a := range addrs {
		if err := g.check(a); err != nil {
			return nil, fmt.Errorf("host %s: %w", host, err)
		}
	}
	return addrs, nil
}

func (g *Guard) check(a netip.Addr) error {
	if g.AllowPrivate {
		return nil
	}
	a = a.WithZone("").Unmap()
	for _, p := range g.Allow {
		if p.Contains(a) {
			return nil
		}
	}
	return Check(a)
}

// DialContext resolves addr's host once, refuses it when any of its
// addresses is not public, and dials the checked addresses themselves
// (never the name again, which could resolve differently the second time).
// A dialer Control function re-checks the socket's address as a last line.
func (g *Guard) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	addrs, err := g.lookup(ctx, host)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	timeout := g.DialTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	d := &net.Dialer{Timeout: timeout, Control: g.control}
	var errs []error
	for _, a := range addrs {
		c, err := d.DialContext(ctx, network, net.JoinHostPort(a.Unmap().String(), port))
		if err == nil {
			return c, nil
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("dial %s: %w", addr, errors.Join(errs...))
}

// control runs on the socket about to connect: the address there is the
// one the kernel will use, whatever resolved it.
func (g *Guard) control(network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		if g.AllowPrivate {
			return nil
		}
		return fmt.Errorf("%w: unparsable address %q", ErrForbidden, address)
	}
	return g.check(ap.Addr())
}

// Control is a net.Dialer Control function refusing non-public addresses,
// for callers that build their own dialer.
func Control(network, address string, c syscall.RawConn) error {
	return (&Guard{}).control(network, address, c)
}

// maxRedirects bounds redirect chains; each hop is dialed through the guard.
const maxRedirects = 5

// Client returns an HTTP client that dials through the guard, uses no
// proxy, follows at most five redirects and refuses a redirect whose host
// is not public before even dialing it. timeout bounds a whole request.
func (g *Guard) Client(timeout time.Duration) *http.Client {
	tr := &http.Transport{
		Proxy:                 nil, // a proxy would reach private addresses for us
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		MaxIdleConns:          16,
		IdleConnTimeout:       30 * time.Second,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: timeout,
	}
	return &http.Client{Transport: tr, Timeout: timeout, CheckRedirect: g.CheckRedirect}
}

// CheckRedirect is an http.Client CheckRedirect function: at most five
// redirects, only http and https, and the target host must be public.
func (g *Guard) CheckRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= maxRedirects {
		return fmt.Errorf("stopped after %d redirects", maxRedirects)
	}
	return g.CheckURL(req.Context(), req.URL)
}

// CheckURL checks u's scheme (http or https) and host (see CheckHost).
func (g *Guard) CheckURL(ctx context.Context, u *url.URL) error {
	if u.Scheme != "https" && u.Scheme != "http" {
		return fmt.Errorf("url scheme %q: only http and https", u.Scheme)
	}
	if u.Hostname() == "" {
		return errors.New("url has no host")
	}
	return g.CheckHost(ctx, u.Hostname())
}
