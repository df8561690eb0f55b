// Package store is fs9's Go API over pgx: every call runs the SQL entry
// points of package schema as the session's role, so the rules (paths,
// limits, access, generation, events) are the same as through SQL. It adds
// what SQL calls cannot do alone: streamed writes of up to 100 MiB in one
// transaction, streamed reads from one snapshot, and batches.
//
// The store does not authenticate, wake instances or choose roles: it is
// given a pool of sessions already running as the right role.
package store
