// Package control holds the platform's use cases, one type per concern,
// and Service, the component that assembles them. The use cases of this
// package: Accounts (authentication, anonymous accounts, claim, adopt, API
// tokens), Databases (create, get, list, delete, credentials, with quotas
// and crash-safe ordering), Branches (branching at a moment, and the
// clones in progress) and WireAccess (connect tokens, connect keys, the
// front door's and fs9's login check). The larger, self-contained ones
// live in sub-packages: dbadmin (SQL over HTTP, schema, dump, users,
// migrations), dataaccess (the browser data plane's auth-config and
// keys), functions (functions, runs, secrets) and observability. Service
// builds them all, opens the placement driver after reconciling it with
// the catalog, and closes them.
//
// The use cases share the small collaborators of package tenancy instead
// of reaching into one another: the Principal and its Scope, the
// Directory (the catalog and its cached database lookups) and Instances
// (leases on running databases from the placement driver, with its errors
// made public). They tie the catalog (what exists) to the placement driver
// (what runs) and return platform.Errors with public messages; they know
// nothing of HTTP. Handlers get view types of these packages (TokenView,
// ConnectKey, Credentials), never the catalog's.
package control
