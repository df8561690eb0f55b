// Package hostcall is the parent-process side of what a function asks of
// the world: ctx.db.query, ctx.fs9.* and fetch arrive as (op, JSON args)
// from a worker and are executed here, under the run's Grant — the
// database, role and scopes the pool took from the Invocation, never from
// the worker. That is what keeps a function inside its own database: the
// worker has no socket, credentials or file access of its own.
//
// Ops and their JSON (args → result):
//
//	db.query    {sql, params?}                     → the /sql result {columns, rows, row_count, command}
//	fs9.read    {path}                             → {content_base64}
//	fs9.write   {path, content_base64}             → {written}
//	fs9.list    {path}                             → {entries: [{path, type, size, mode, mtime}]}
//	fs9.exists  {path}                             → {exists}
//	fs9.remove  {path, recursive}                  → {removed}
//	fetch       {method, url, headers, body_base64, redirect} → {status, status_text, headers, body_base64, url, redirected}
//
// Errors the handler sees are *runtime.CallError: an SQL error's SQLSTATE,
// fs9 codes (ENOENT, EACCES, EINVAL, ...), or fetch's EACCES/EFBIG/EIO.
//
// It does not implement the database or fs9: DB and FS are interfaces the
// server wires (dbhost implements DB over the instance's private socket).
package hostcall
