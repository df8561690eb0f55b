// Package runjournal is the server's local record of the function runs it
// has started and not yet recorded in the catalog: an append-only file
// under the data directory (layout.Layout.RunJournal), one per server
// process.
//
// A run without an idempotency key is written to the catalog once, when
// it ends (ADR 0007). Until then this journal is what remembers it: Append
// writes the run's start with write(2) before its handler starts, End
// forgets it once its outcome is committed. The next start of the server
// reads what is left (Read) and records those runs as failed before it
// serves, exactly as the catalog's "running" rows were failed before.
//
// The journal survives the server process being killed (SIGKILL, a
// panic, the OOM killer): what write(2) returned is in the kernel's page
// cache. It is not synced to disk, so it does not survive the machine
// stopping (power loss, kernel crash): a run cut by that is not recorded
// at all. The reader stops at the first torn or corrupt record of a file.
//
// Concurrent Appends share one write(2) (group write). The journal stays
// small while the server runs: when the file passes a size, the records
// of the runs still in progress are copied to a new file and the old one
// is removed.
package runjournal
