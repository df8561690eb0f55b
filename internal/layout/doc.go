// Package layout is the one place that spells the platform's layout on
// disk (ARCHITECTURE §3): under the data directory, the catalog cluster,
// the golden data directories, the spare copies, one directory per
// database (its data directory and its socket directory) and the WAL
// archive; and the name of a cluster's Unix socket inside its socket
// directory.
//
// It does no I/O: it only joins paths. Whoever creates, reads or removes
// those paths owns that; this package only keeps every caller agreeing on
// their names.
package layout
