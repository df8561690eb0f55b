// Package instance runs the per-database PostgreSQL processes: it builds the
// golden data directory once per PostgreSQL major, provisions a database by
// copying it and starting postgres directly on a private Unix socket,
// supervises every postmaster (restart after a crash, stop after idleness,
// start again on demand) and reconciles what is on disk at start.
//
// It knows nothing of customers, tokens or HTTP; callers name instances by
// database id. It is the only code that assumes an instance is a child of
// this process (the "local driver").
package instance
