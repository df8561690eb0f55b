package walarchive

import (
	"fmt"
	"strings"
)

// ArchiveCommand is the archive_command of a database's instance: the db9
// binary's hidden wal-archive subcommand, writing into the local store at
// root. PostgreSQL runs it through the shell with %p and %f filled in.
func ArchiveCommand(exe, root, db string) string {
	return fmt.Sprintf("%s wal-archive --archive-dir %s --db %s %%p %%f", shellQuote(exe), shellQuote(root), db)
}

// RestoreCommand is the restore_command that replays WAL archived in the
// local directory walDir (a database's WAL directory of the local store).
// PostgreSQL runs it once per segment, so it is plain cp: starting the db9
// binary for each segment cost most of the segment's replay. A file that
// is not there exits 1, which PostgreSQL takes as the end of the archive.
func RestoreCommand(walDir string) string {
	return fmt.Sprintf("cp %s/%%f %%p", shellQuote(walDir))
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
