package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/wsclient"
)

// db9 fs: the files of a database (FS9.md "CLI") over the WebSocket
// protocol, with credentials from fs-connect.

// fsPath is a command-line path: a database's file (<db>:/path) or a
// local one ("-": stdin or stdout).
type fsPath struct {
	db   string // "" for a local path
	path string
}

func parseFSPath(s string) fsPath {
	if db, p, ok := strings.Cut(s, ":"); ok && db != "" && strings.HasPrefix(p, "/") && !strings.ContainsAny(db, "/\\") {
		return fsPath{db: db, path: p}
	}
	return fsPath{path: s}
}

func (p fsPath) String() string {
	if p.db == "" {
		return p.path
	}
	return p.db + ":" + p.path
}

// fsCommands are `db9 fs` and its shortcuts `db9 cat` and `db9 mv`.
type fsCommands struct{ *app }

// fsConns opens one WebSocket connection per database a command touches.
type fsConns struct {
	a     fsCommands
	s     *session
	conns map[string]*wsclient.Client
}

func (a fsCommands) fsSession(ctx context.Context) (*fsConns, error) {
	s, err := a.authed(ctx, false)
	if err != nil {
		return nil, err
	}
	return &fsConns{a: a, s: s, conns: map[string]*wsclient.Client{}}, nil
}

func (f *fsConns) get(ctx context.Context, db string) (*wsclient.Client, error) {
	if c := f.conns[db]; c != nil {
		return c, nil
	}
	fc, err := f.s.c.FS9.Connect(ctx, db, "")
	if err != nil {
		return nil, f.a.notFoundDB(ctx, f.s, db, "files", err)
	}
	c, err := wsclient.Dial(ctx, fc.WSURL, fc.Username, fc.Token)
	if err != nil {
		return nil, fmt.Errorf("connect to the files of %s: %w", db, err)
	}
	f.conns[db] = c
	return c, nil
}

func (f *fsConns) close() {
	for _, c := range f.conns {
		_ = c.Close()
	}
}

// remoteArg parses an argument that must name a database's file.
func remoteArg(cmd *cobra.Command, s string) (fsPath, error) {
	p := parseFSPath(s)
	if p.db == "" {
		return p, usage(fmt.Errorf("%q is not <db>:/path", s), cmd.CommandPath()+" --help")
	}
	return p, nil
}

// withFS runs fn with the connection of the database named by args[0].
func (a fsCommands) withFS(fn func(ctx context.Context, c *wsclient.Client, p fsPath, args []string) error) func(*cobra.Command, []string) error {
	return a.run(func(cmd *cobra.Command, args []string) error {
		ctx := cmd.Context()
		p, err := remoteArg(cmd, args[0])
		if err != nil {
			return err
		}
		f, err := a.fsSession(ctx)
		if err != nil {
			return err
		}
		defer f.close()
		c, err := f.get(ctx, p.db)
		if err != nil {
			return err
		}
		return fsHint(fn(ctx, c, p, args[1:]))
	})
}

func (a fsCommands) newFSCmd() *cobra.Command {
	cmd := newGroupCmd("fs", "Files of a database: ls, cp, cat, rm, mv, mkdir, stat, watch, tailf, mount",
		"  db9 fs cp report.csv myapp:/data/\n  db9 fs ls -l myapp:/data\n  db9 fs cat myapp:/data/report.csv")
	cmd.AddCommand(a.newFSLsCmd(), a.newFSCpCmd(), a.newFSCatCmd("cat"), a.newFSRmCmd("rm"), a.newFSMvCmd("mv"),
		a.newFSMkdirCmd(), a.newFSStatCmd(), a.newFSWatchCmd(), a.newFSTailfCmd(), a.newFSMountCmd())
	return cmd
}

func (a fsCommands) newFSLsCmd() *cobra.Command {
	var long, recursive bool
	cmd := &cobra.Command{
		Use:     "ls [-l] [-R] <db>:/path",
		Short:   "List a directory",
		Example: "  db9 fs ls myapp:/\n  db9 fs ls -l -R myapp:/data",
		Args:    cobra.ExactArgs(1),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, _ []string) error {
			st, err := c.Stat(ctx, p.path)
			if err != nil {
				return err
			}
			entries := []wsclient.Info{st}
			if st.Type == "dir" {
				if recursive {
					var truncated bool
					if entries, truncated, err = c.ReadDirRecursive(ctx, p.path); truncated {
						a.note("listing truncated at the server's limit (10 levels, 10,000 entries)")
					}
				} else {
					entries, err = c.ReadDir(ctx, p.path)
				}
				if err != nil {
					return err
				}
			}
			if a.jsonOut() {
				return a.printJSON(entries)
			}
			for _, e := range entries {
				name := e.Path
				if !recursive && st.Type == "dir" {
					name = path.Base(e.Path)
				}
				if e.Type == "dir" {
					name += "/"
				}
				if long {
					fmt.Fprintf(a.stdout(), "%-7s %04o %12d %s %s\n", e.Type, e.Mode, e.Size, e.Mtime, name)
				} else {
					fmt.Fprintln(a.stdout(), name)
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVarP(&long, "long", "l", false, "type, mode, size and mtime")
	cmd.Flags().BoolVarP(&recursive, "recursive", "R", false, "walk subdirectories")
	return cmd
}

func (a fsCommands) newFSCatCmd(use string) *cobra.Command {
	return &cobra.Command{
		Use:     use + " <db>:/path",
		Short:   "Print a file of a database",
		Example: "  db9 " + use + " myapp:/notes/todo.md",
		Args:    cobra.ExactArgs(1),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, _ []string) error {
			_, err := c.ReadTo(ctx, p.path, a.stdout())
			return err
		}),
	}
}

func (a fsCommands) newFSRmCmd(use string) *cobra.Command {
	var recursive bool
	cmd := &cobra.Command{
		Use:     use + " [-r] <db>:/path",
		Short:   "Remove a file or directory of a database",
		Example: "  db9 fs " + use + " myapp:/tmp/x.csv\n  db9 fs " + use + " -r myapp:/tmp",
		Args:    cobra.ExactArgs(1),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, _ []string) error {
			n, err := c.Remove(ctx, p.path, recursive)
			if err == nil {
				a.note("removed %d entries", n)
			}
			return err
		}),
	}
	cmd.Flags().BoolVarP(&recursive, "recursive", "r", false, "remove a directory and everything in it")
	return cmd
}

func (a fsCommands) newFSMvCmd(use string) *cobra.Command {
	return &cobra.Command{
		Use:     use + " <db>:/old <db>:/new",
		Short:   "Rename a file or directory within a database",
		Example: "  db9 " + use + " myapp:/in/a.csv myapp:/done/a.csv",
		Args:    cobra.ExactArgs(2),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, rest []string) error {
			to := parseFSPath(rest[0])
			if to.db == "" {
				to = fsPath{db: p.db, path: rest[0]} // mv db:/a /b within the same database
			}
			if to.db != p.db || !strings.HasPrefix(to.path, "/") {
				return usage(errors.New("mv renames within one database: both paths <db>:/path of the same database"), "db9 fs cp to copy between databases")
			}
			return c.Rename(ctx, p.path, to.path)
		}),
	}
}

func (a fsCommands) newFSMkdirCmd() *cobra.Command {
	var parents bool
	cmd := &cobra.Command{
		Use:     "mkdir [-p] <db>:/path",
		Short:   "Make a directory",
		Example: "  db9 fs mkdir -p myapp:/data/2024/q1",
		Args:    cobra.ExactArgs(1),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, _ []string) error {
			return c.Mkdir(ctx, p.path, parents)
		}),
	}
	cmd.Flags().BoolVarP(&parents, "parents", "p", false, "make missing parents; no error if it exists")
	return cmd
}

func (a fsCommands) newFSStatCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "stat <db>:/path",
		Short:   "Show a path's type, size, mode, generation and mtime",
		Example: "  db9 fs stat myapp:/data/report.csv\n  db9 fs stat --json myapp:/data",
		Args:    cobra.ExactArgs(1),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, _ []string) error {
			st, err := c.Stat(ctx, p.path)
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(st)
			}
			writeFields(a.stdout(), [][2]string{{"Path", st.Path}, {"Type", st.Type}, {"Size", fmt.Sprint(st.Size)},
				{"Mode", fmt.Sprintf("%04o", st.Mode)}, {"Generation", fmt.Sprint(st.Generation)}, {"Mtime", st.Mtime}})
			return nil
		}),
	}
}

func (a fsCommands) newFSWatchCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "watch <db>:/path",
		Short:   "Print changes under a path as they happen (until interrupted)",
		Example: "  db9 fs watch myapp:/inbox\n  db9 fs watch --json myapp:/",
		Args:    cobra.ExactArgs(1),
		RunE: a.withFS(func(ctx context.Context, c *wsclient.Client, p fsPath, _ []string) error {
			if _, err := c.Watch(ctx, p.path); err != nil {
				return err
			}
			for {
				select {
				case <-ctx.Done():
					return nil
				case raw := <-c.Pushes():
					var ev struct {
						Push      string `json:"push"`
						Seq       int64  `json:"seq"`
						Timestamp string `json:"timestamp"`
						EventType string `json:"event_type"`
						Path      string `json:"path"`
						OldPath   string `json:"old_path"`
					}
					if json.Unmarshal(raw, &ev) != nil || ev.Push == "watch_heartbeat" {
						continue
					}
					if a.jsonOut() {
						fmt.Fprintln(a.stdout(), string(raw))
						continue
					}
					switch {
					case ev.Push == "watch_gap":
						fmt.Fprintln(a.stdout(), "# events were missed (watch_gap)")
					case ev.OldPath != "":
						fmt.Fprintf(a.stdout(), "%s %-6s %s -> %s\n", ev.Timestamp, ev.EventType, ev.OldPath, ev.Path)
					default:
						fmt.Fprintf(a.stdout(), "%s %-6s %s\n", ev.Timestamp, ev.EventType, ev.Path)
					}
				}
			}
		}),
	}
}

// progress shows a copy's progress on stderr when it is a terminal and
// the file is large enough to wait for.
func (a fsCommands) progress(name string) (func(done, total int64), func()) {
	if !isTerminal(a.stderr()) || a.flags.quiet {
		return func(int64, int64) {}, func() {}
	}
	shown := false
	last := int64(-1)
	return func(done, total int64) {
			if total >= 0 && total < 1<<20 || done>>20 == last {
				return
			}
			last, shown = done>>20, true
			if total >= 0 {
				fmt.Fprintf(a.stderr(), "\r\x1b[K%s  %.1f / %.1f MiB", name, float64(done)/(1<<20), float64(total)/(1<<20))
			} else {
				fmt.Fprintf(a.stderr(), "\r\x1b[K%s  %.1f MiB", name, float64(done)/(1<<20))
			}
		}, func() {
			if shown {
				fmt.Fprint(a.stderr(), "\r\x1b[K")
			}
		}
}

// fsHint attaches a hint to an fs9 error by its code.
func fsHint(err error) error {
	var e *fs9.Error
	var he *hintedError
	if err == nil || !errors.As(err, &e) || errors.As(err, &he) {
		return err
	}
	h := map[fs9.Code]string{
		fs9.ENOENT:    "check the path with `db9 fs ls <db>:/dir`",
		fs9.ENOTEMPTY: "add -r to remove a directory and everything in it",
		fs9.EISDIR:    "it is a directory: list it with `db9 fs ls`, copy it with `db9 fs cp -r`",
		fs9.ENOTDIR:   "a parent in the path is a file",
		fs9.EEXIST:    "it exists already (mkdir -p accepts that)",
		fs9.EACCES:    "a read-only API token reads files only; use a token with write access",
		fs9.EFBIG:     "files are limited to 100 MiB",
		fs9.EINVAL:    "paths are absolute, like <db>:/dir/file, without .. segments",
		fs9.EAUTH:     "the connect token may have expired; run the command again",
		fs9.EAGAIN:    "the server is busy; try again",
	}[e.Code]
	if h == "" {
		h = "see FS9.md for the error codes"
	}
	return hint(err, h)
}
