package egress

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
)

// ErrBlocked is wrapped by every refusal of the guard.
var ErrBlocked = errors.New("destination address is not public")

// blockedPrefixes are never reachable from a function: loopback, RFC 1918,
// CGNAT, link-local (169.254.169.254, the cloud metadata address, is in
// it), unique local, unspecified, multicast, broadcast, and the special
// ranges of RFC 6890 that are not the public internet.
var blockedPrefixes = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
		"172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.168.0.0/16", "198.18.0.0/15",
		"198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
		"::/96", "::1/128", "100::/64", "2001:db8::/32", "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

// Embedded IPv4: NAT64 (64:ff9b::/96) and 6to4 (2002::/16) addresses reach
// the IPv4 address inside them, which is checked like any other.
var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
)

// Blocked returns a non-nil error (wrapping ErrBlocked) when ip must not
// be dialed by a function.
func Blocked(ip netip.Addr) error {
	if !ip.IsValid() {
		return fmt.Errorf("%w: invalid address", ErrBlocked)
	}
	ip = ip.WithZone("")
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip):
			return Blocked(netip.AddrFrom4([4]byte(b[12:16])))
		case sixToFour.Contains(ip):
			return Blocked(netip.AddrFrom4([4]byte(b[2:6])))
		}
	}
	for _, p := range blockedPrefixes {
		if p.Contains(ip) {
			return fmt.Errorf("%w: %s is in %s", ErrBlocked, ip, p)
		}
	}
	if ip == netip.AddrFrom4([4]byte{255, 255, 255, 255}) {
		return fmt.Errorf("%w: %s is the broadcast address", ErrBlocked, ip)
	}
	return nil
}

// AddrPolicy decides whether an address may be dialed; nil means Blocked.
type AddrPolicy func(netip.Addr) error

// Resolver looks up a host name; *net.Resolver is one. Tests pass their
// own to make a name resolve to a private address.
type Resolver interface {
	LookupNetIP(ctx context.Context, network, host string) ([]netip.Addr, error)
}

// Guard dials only addresses its policy allows, after resolving names
// itself. The zero value is ready: the system resolver and Blocked.
type Guard struct {
	Resolver Resolver
	Policy   AddrPolicy
	// UnsafeAllowAddrPorts are destinations exempt from the policy, for tests
	// whose HTTPS server listens on loopback. Never set it in production.
	UnsafeAllowAddrPorts []netip.AddrPort
	dialer               net.Dialer
}

func (g *Guard) check(ip netip.Addr, port uint16) error {
	if slices.Contains(g.UnsafeAllowAddrPorts, netip.AddrPortFrom(ip, port)) {
		return nil
	}
	if g.Policy != nil {
		return g.Policy(ip)
	}
	return Blocked(ip)
}

// DialContext resolves address, refuses it when any of its addresses is not
// allowed (a name that also points inside is not trusted with the rest),
// and dials the checked addresses in order.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, portStr, err := net.SplitHostPort(address)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	port, err := net.LookupPort(network, portStr)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", address, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		r := g.Resolver
		if r == nil {
			r = net.DefaultResolver
		}
		ips, err = r.LookupNetIP(ctx, "ip", host)
		if err != nil {
			return nil, fmt.Errorf("resolve %s: %w", host, err)
		}
		if len(ips) == 0 {
			return nil, fmt.Errorf("resolve %s: no addresses", host)
		}
	}
	for _, ip := range ips {
		if err := g.check(ip, uint16(port)); err != nil {
			return nil, fmt.Errorf("dial %s: %w", host, err)
		}
	}
	var last error
	for _, ip := range ips {
		c, err := g.dialer.DialContext(ctx, network, netip.AddrPortFrom(ip.Unmap(), uint16(port)).String())
		if err == nil {
			return c, nil
		}
		last = err
	}
	return nil, last
}
