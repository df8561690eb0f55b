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

// RestoreCommand is the restore_command that replays a database's archived
// WAL: the hidden wal-restore subcommand reading the local store at root.
func RestoreCommand(exe, root, db string) string {
	return fmt.Sprintf("%s wal-restore --archive-dir %s --db %s %%f %%p", shellQuote(exe), shellQuote(root), db)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
