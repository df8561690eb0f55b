// Package netguard keeps server-side HTTP requests made on a tenant's behalf
// (JWKS fetches, functions' fetch) away from the platform's own network: it
// refuses loopback, private, carrier-grade NAT, link-local (with cloud
// metadata at 169.254.169.254), unique-local, unspecified, multicast and
// reserved addresses, also in IPv4-mapped, NAT64 and 6to4 forms.
//
// The check is made on the RESOLVED address at dial time, on the very
// addresses that are then dialed, so a name that resolves to a private
// address, a DNS answer that changes between a check and the dial, or a
// redirect to such a host are all refused. Proxies from the environment are
// never used, since a proxy would dial on our behalf unchecked.
//
// It does not decide which origins a tenant may reach (allowlists) nor which
// URL schemes are acceptable; callers do.
package netguard
