// Package sqlexec runs one request of POST /customer/databases/{id}/sql on
// an open *pgconn.PgConn and produces its JSON response body.
//
// It owns: checking the request body (Request.Validate), choosing the
// protocol, converting JSON params to PostgreSQL text values, converting
// text-format results to JSON by column type, the row and byte limits,
// the error shape, and canceling a running query when the context ends.
//
// It does not do HTTP, authentication, roles, connection pooling or
// session settings such as statement_timeout (the caller opens the
// connection with them), and it does not reset what the SQL leaves behind:
// an open transaction, SET, temporary tables. The caller decides whether a
// connection is fit for reuse (conn.TxStatus, errors.Is(err, ErrConnBroken)).
//
// # Protocols
//
// A query without params, or file_content, is sent as one simple-protocol
// Query message: PostgreSQL runs the statements in order in one implicit
// transaction (unless the SQL has its own BEGIN/COMMIT) and stops at the
// first error, so a failing statement also undoes the earlier ones of that
// implicit transaction. Unlike psql, statements that refuse to run in a
// transaction block (CREATE DATABASE, VACUUM, CREATE INDEX CONCURRENTLY) fail
// in a multi-statement script. The response is the last statement's result.
// COPY FROM STDIN fails with an error (there is no data stream; the
// connection stays usable); COPY TO STDOUT returns its command tag only.
//
// A query with a non-empty params array runs as one extended-protocol
// statement, every param in text format with type OID 0 so the server
// infers the types. JSON null is NULL, true/false, numbers and objects are
// their JSON text, strings are the string; an array becomes a PostgreSQL
// array literal when the inferred type is an array type, and its JSON text
// otherwise (e.g. for jsonb). Only when an array is among the params is the
// statement described first, to learn the inferred types.
//
// # Results
//
//	{"columns":[{"name":"id","type":"int4"}],"rows":[[1]],"row_count":1,"command":"SELECT"}
//
// Results are requested in text format and converted by column type: NULL
// → null; bool → true/false; int2, int4, oid and int8 within ±2^53 →
// numbers, larger int8 → strings; float4/float8 → numbers, NaN and
// ±Infinity → "NaN", "Infinity", "-Infinity"; numeric → string; json and
// jsonb → embedded JSON; arrays of any element type → JSON arrays (nested
// for several dimensions, bounds such as [0:1]= dropped), elements by the
// element type (domains by their base type); bytea → "\\x..."; anything
// else → PostgreSQL's text output as a string. A column's type is its
// pg_type.typname (_int4 for int4[]). Built-in types are known without a
// round trip; other types are read from pg_type in one query after the
// statement has run, and kept in a TypeCache (one per database).
//
// columns and rows are always arrays, [] for statements without rows and
// for an empty query (whose command is ""). command is the command tag
// without its counts ("INSERT 0 3" → "INSERT"); row_count is the tag's count
// or, for tags without one (SHOW, EXPLAIN), the number of rows.
//
// # Limits
//
// Rows are kept while there are at most Limits.MaxRows of them and their
// encoded size (the JSON text of the rows array, brackets and commas
// included) is at most Limits.MaxBytes; the raw text size is held to the
// same bound while reading, which keeps memory bounded. Past either limit
// the rest is read and discarded (the connection stays in sync), "truncated"
// is true and row_count is the number of rows returned, not the number the
// statement produced. Without truncation the truncated key is absent.
//
// # Errors
//
// An SQL error is the body {"error":{"message","code","detail","hint",
// "position"}} and nothing else; the Go error is then nil. Go errors are a
// *RequestError for an invalid body, the context's error when ctx ended
// (the query was canceled by a cancel request; the connection is usable
// unless the error also wraps ErrConnBroken, which happens when the server
// did not stop within two seconds), and connection failures (wrapping
// ErrConnBroken; the connection has been closed).
package sqlexec
