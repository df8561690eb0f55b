// Package dataapi serves the PostgREST 12 dialect (what
// @supabase/postgrest-js and supabase-js speak) for one database at a time:
// it turns a request into ONE SQL statement built from the database's schema
// cache, runs it in one transaction on one backend connection together with
// the role and claim settings (one pipelined round trip), and writes
// PostgreSQL's JSON back with PostgREST's headers, statuses and error
// bodies.
//
// It owns: the request → SQL translation (select language, embedding,
// filters, writes, RPC, EXPLAIN, CSV, OpenAPI), the per-database schema
// cache and its invalidation, the platform objects it needs inside every
// database (PlatformSQL) and PostgREST's error mapping.
//
// It does not authenticate: keys, JWTs, CORS and rate limits belong to the
// caller, which hands a Principal to ServeHTTP. It does not manage
// connections or instances: a Backend supplies a connection logged in as
// the authenticator role. Sub-packages: pgrst parses the dialect, schema
// loads the catalogs, sqlgen plans a select tree against them and renders
// its SQL (this package assembles reads, writes and RPC calls from it).
package dataapi
