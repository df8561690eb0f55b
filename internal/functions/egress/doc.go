// Package egress is the network side of fetch in db9 Functions: the origin
// allowlist (network_allowlist), the dial-time guard that refuses private,
// loopback, link-local, metadata and other non-public addresses, and the
// Fetcher that performs a function's HTTP request with both, re-checking
// every redirect, with a bounded response body.
//
// The guard checks the address actually dialed — after DNS resolution and
// for every connection a redirect opens — and dials that checked IP, so a
// name that resolves to a private address, or re-resolves to one between
// check and dial, never gets through. AddrPolicy is the seam where the
// platform's shared guard (internal/netguard) can replace Blocked.
//
// It does not run JavaScript; the parent process runs Fetcher on behalf of
// a worker, so workers need no network access of their own.
package egress
