// Package neon speaks the protocol of Neon's serverless driver
// (@neondatabase/serverless) on db9's HTTP server, so the driver works
// against db9 unchanged except for its documented configuration
// (docs/NEON.md):
//
//   - SQL over HTTP, POST /sql: the Neon-Connection-String header carries
//     postgresql://user:password@host/postgres; the user, options, host and
//     password name the database and role exactly as at the PostgreSQL
//     front door (pgproxy/wire.Route), and the login is checked by the same
//     Authenticator. The body is {query, params} or {queries: [...]} (one
//     transaction; Neon-Batch-Isolation-Level, -Read-Only, -Deferrable).
//     Each query is one extended-protocol statement with text params of
//     unspecified type, run as the role on a pooled connection reset
//     first. Answers have Neon's shape: {command, rowCount, rows, fields,
//     rowAsArray} (rows as arrays with Neon-Array-Mode: true, values as
//     PostgreSQL's text with Neon-Raw-Text-Output: true, which the driver
//     always sends; its type parsers work from fields[].dataTypeID), or
//     {results: [...]} for a batch; an SQL error is status 400 with
//     PostgreSQL's fields (message, code, detail, hint, position, ...).
//   - The wire protocol through a WebSocket, GET /v2 (and any path below
//     it): each binary message carries protocol bytes; the connection is
//     handed to the front door (Tunnel, *pgproxy.Proxy), which serves it
//     as any other client, TLS inside the tunnel included.
//
// It does not keep sessions between HTTP requests (no transactions across
// requests), and does not verify Neon's JWT (Authorization) mode.
package neon
