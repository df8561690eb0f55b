// Package sqlscan reads a query string the way the pooled endpoint must
// know it (docs/POOLER.md), lexically and without a parse: whether a
// command leaves session state on the backend (SET, LISTEN, a session
// advisory lock, a temporary table, ...), which pins a client to its
// backend, and which protocol-level prepared statements it names
// (DEALLOCATE, DISCARD ALL, EXECUTE).
//
// It owns the scan (Scan, Effect) and nothing else: what a pin or a named
// statement means for a client, its statements and its backend is package
// pooler's. It errs on the safe side: a word in a literal, a quoted
// identifier or a comment is no keyword, but a session-level function
// named in a branch that never runs still pins.
package sqlscan
