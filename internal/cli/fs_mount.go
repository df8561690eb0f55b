package cli

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/fusefs"
	"github.com/db9/db9/internal/fs9/wsclient"
)

// unmountWait is how long an interrupted mount keeps trying to unmount a
// busy directory before it gives up and says how to detach it.
const unmountWait = 10 * time.Second

func (a fsCommands) newFSMountCmd() *cobra.Command {
	var readOnly bool
	var cache time.Duration
	cmd := &cobra.Command{
		Use:   "mount [--read-only] <db> <dir>",
		Short: "Mount a database's files at a local directory (FUSE) until interrupted",
		Long: "Mounts the files of <db> at <dir> through FUSE and serves them until Ctrl-C or SIGTERM, " +
			"which unmount. Needs /dev/fuse, and fusermount3 (package fuse3) when not run as root.\n\n" +
			"A file opened for writing is kept in memory and written whole when it is closed, like every " +
			"fs9 write: readers elsewhere see the old content or the new one, never a part. " +
			"Changes made elsewhere (SQL, other clients) show after the cache time.",
		Example: "  mkdir -p ~/myapp && db9 fs mount myapp ~/myapp\n  db9 fs mount --read-only myapp /mnt/myapp &",
		Args:    cobra.ExactArgs(2),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, dir := args[0], args[1]
			if err := fusefs.Check(); err != nil {
				return mountHint(err)
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			// Every dial asks for a fresh connect token: the mount outlives
			// tokens and the server closes idle connections.
			dial := func(ctx context.Context) (*wsclient.Client, error) {
				fc, err := s.c.FS9.Connect(ctx, db, "")
				if err != nil {
					return nil, a.notFoundDB(ctx, s, db, "files", err)
				}
				return wsclient.Dial(ctx, fc.WSURL, fc.Username, fc.Token)
			}
			m := fusefs.New(dir, fusefs.Config{Dial: dial, ReadOnly: readOnly, CacheTimeout: cache, Name: "db9:" + db,
				Logger: slog.New(slog.NewTextHandler(a.stderr(), &slog.HandlerOptions{Level: slog.LevelWarn}))})
			if err := m.Open(ctx); err != nil {
				return mountHint(fsHint(err))
			}
			mode := ""
			if readOnly {
				mode = " read-only"
			}
			a.note("mounted the files of %s at %s%s; Ctrl-C unmounts", db, m.Dir(), mode)
			select {
			case <-m.Done():
				a.note("%s was unmounted", m.Dir())
			case <-ctx.Done():
			}
			cctx, cancel := context.WithTimeout(context.Background(), unmountWait)
			defer cancel()
			if err := m.Close(cctx); err != nil {
				return hint(err, "close the files open under "+m.Dir()+" and run `fusermount3 -u "+m.Dir()+"`")
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&readOnly, "read-only", false, "mount read-only: every change fails with EROFS")
	cmd.Flags().DurationVar(&cache, "cache", time.Second, "how long the kernel keeps attributes and directory entries")
	return cmd
}

// mountHint explains a failed mount: FUSE missing, or a bad mount point.
func mountHint(err error) error {
	var ue *fusefs.UnavailableError
	var he *hintedError
	switch {
	case errors.As(err, &ue):
		return hint(fmt.Errorf("mount: %w", err),
			"FUSE needs /dev/fuse and, when not root, fusermount3 (apt-get install fuse3); `db9 fs cp` works without it")
	case errors.As(err, &he), errors.As(err, new(*fs9.Error)):
		return err
	case errors.Is(err, syscall.ENOTCONN):
		return hint(err, "an earlier mount there ended without unmounting; run `fusermount3 -u` (or umount) on it first")
	}
	return hint(err, "the mount point must be an existing directory you may mount on")
}
