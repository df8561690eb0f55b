// Package control holds the platform's use cases, one type per concern:
// Accounts (authentication, anonymous accounts, claim, adopt, API tokens),
// Databases (create, get, list, delete, credentials, with quotas and
// crash-safe ordering), Branches (branching at a moment, and the clones
// in progress), SQL (SQL over HTTP, schema, dump, users, migrations) and
// WireAccess (connect tokens, connect keys, the front door's login
// check). Service is the component that builds them, opens the placement
// driver after reconciling it with the catalog, and closes them.
//
// The use cases share two small collaborators instead of reaching into
// one another: directory (the catalog and its cached database lookups)
// and instances (leases on running databases from the placement driver,
// with its errors made public). They tie the catalog (what exists) to the
// placement driver (what runs) and return platform.Errors with public
// messages; they know nothing of HTTP. Handlers get view types of this
// package (TokenView, ConnectKey, Credentials), never the catalog's.
package control
