// Package catalog is the control plane's metadata store: customers, API
// tokens and databases, kept in PostgreSQL — by default a cluster this
// package manages under <data-dir>/catalog, or an external server given by
// a URL. Schema changes are the versioned SQL files in migrations/, embedded
// in the binary and applied at Open.
//
// It does not decide policy (quotas, who may see what): package control does.
package catalog
