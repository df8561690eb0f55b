// Package dataplane is the HTTP front of the browser data plane: it serves
// /data/<database id or name>/rest/v1/... by authenticating the request
// (publishable or service key, end-user JWT), applying the key's CORS
// policy and rate limit, choosing the database role and claims, and handing
// the request to the PostgREST engine (dataapi) with a Backend that lends
// connections of the database's instance through placement, waking a
// stopped database.
//
// Order of the checks, per request: a CORS preflight is answered before any
// key is looked up (browsers send no credentials with it); then the key
// (apikey header, else Authorization: Bearer); a key of another database
// than the path's is the same 401 as an unknown one, so a key never tells
// which databases exist; a service key with an Origin header is refused
// (it leaked into a page); a publishable key gets its CORS policy and rate
// limit, then the end user's JWT, if any, is verified against the
// database's auth-config and its role checked against the database.
//
// It does not store keys or auth-configs (control/dataaccess does), does not
// verify signatures itself (jwtverify), and does not translate the dialect
// (dataapi).
package dataplane
