package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/walarchive"
)

// newWALArchiveCmd is PostgreSQL's archive_command for db9 instances
// (hidden: the server configures it, nobody types it). It stores one WAL
// file durably; a non-zero exit makes PostgreSQL keep the file and retry.
func newWALArchiveCmd() *cobra.Command {
	var dir, db string
	cmd := &cobra.Command{
		Use:    "wal-archive --archive-dir DIR --db ID <path> <name>",
		Short:  "Archive one WAL file (PostgreSQL's archive_command)",
		Hidden: true,
		Args:   cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			s := &walarchive.Local{Root: dir}
			if err := s.PutWAL(cmd.Context(), db, args[1], args[0]); err != nil {
				return fmt.Errorf("archive %s of %s: %w", args[1], db, err)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&dir, "archive-dir", "", "root of the local WAL archive")
	cmd.Flags().StringVar(&db, "db", "", "database id")
	_ = cmd.MarkFlagRequired("archive-dir")
	_ = cmd.MarkFlagRequired("db")
	return cmd
}
