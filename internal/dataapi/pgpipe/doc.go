// Package pgpipe runs the data API's statements for one request as one
// pipeline on a pooled connection: Bind/Execute for each prepared
// statement (Parse first for one sent as text), one Sync — so one implicit
// transaction and one round trip — and the answers read back as text,
// keeping only the rows the caller asks for.
//
// It writes the protocol messages itself rather than through
// pgconn.Batch: Batch grows a fresh buffer and two queues per request,
// asks for a RowDescription of every statement not prepared (Describe),
// and its readers allocate a command tag per statement — 14 of a cached
// read's 45 allocations, and the server's Describe of RESET ALL
// (docs/BENCHMARKS.md, 2026-12-03). What Batch gave is kept: one write and
// one Sync, the first error of the pipeline as *pgconn.PgError, a
// connection closed rather than reused after a failed read or write or a
// cancelled request, and no deadlock when a large request is written while
// the server answers.
//
// It does not prepare statements, choose them or interpret their rows:
// package dataapi does.
package pgpipe
