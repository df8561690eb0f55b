// Package dataaccess holds the control-plane use cases of the browser
// data plane: a database's auth-config (none or bring-your-own JWT) and
// its publishable and service keys (DataPlane), and the lookups the data
// API makes on every request (ResolveDataKey, AuthConfig), cached with
// invalidation on revoke, delete and change.
//
// It decides who may reach a database's data API and with what; serving
// the data API itself is internal/dataplane and internal/dataapi.
// control.Service builds the DataPlane and closes it.
package dataaccess
