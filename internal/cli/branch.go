package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// branchCommands are `db9 branch`. A branch is a database, so they print
// and delete one as the database commands do, through dbCommands.
type branchCommands struct{ dbCommands }

func (a branchCommands) newBranchCmd() *cobra.Command {
	cmd := newGroupCmd("branch", "Branch a database: a full copy as of now or a past moment",
		`  db9 branch create myapp --name myapp-preview
  db9 branch list myapp
  db9 branch delete myapp-preview --yes`)
	cmd.AddCommand(a.newBranchCreateCmd(), a.newBranchListCmd(), a.newBranchDeleteCmd())
	return cmd
}

func (a branchCommands) newBranchCreateCmd() *cobra.Command {
	var name, snapshot string
	var noWait bool
	var timeout time.Duration
	var show secretFlags
	cmd := &cobra.Command{
		Use:   "create <parent> [--name <branch>]",
		Short: "Create a branch and wait until it is ACTIVE",
		Long: "Creates a branch of <parent>: a new database holding the parent's data, roles and migration history as of\n" +
			"--snapshot-at (RFC 3339, within the retention window) or now. Waits for ACTIVE with a progress indicator\n" +
			"unless --no-wait; then `db9 db status <branch>` shows its state.",
		Example: `  db9 branch create myapp --name feature-auth
  db9 branch create myapp --name before-incident --snapshot-at 2025-06-01T12:00:00Z
  db9 branch create myapp --no-wait --json | jq -r .name`,
		Args: exactArgs(1, "the database to branch: db9 branch create <parent>"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			parent := args[0]
			req := client.BranchRequest{Name: name}
			if req.Name == "" {
				req.Name = friendlyName()
			}
			if snapshot != "" {
				t, err := time.Parse(time.RFC3339, snapshot)
				if err != nil {
					return usage(fmt.Errorf("--snapshot-at %q: want an RFC 3339 time like 2025-06-01T12:00:00Z", snapshot), "db9 branch create --help")
				}
				req.SnapshotAt = &t
			}
			s, err := a.authed(ctx, true)
			if err != nil {
				return err
			}
			d, err := s.c.Databases.Branch(ctx, parent, req)
			if err != nil {
				return a.notFoundDB(ctx, s, parent, "branching", err)
			}
			if !noWait {
				if d, err = a.waitActive(ctx, s, d, timeout); err != nil {
					return err
				}
				if show.password || show.all || show.connString {
					if cr, err := s.c.Databases.Credentials(ctx, d.ID); err == nil {
						d.AdminPassword, d.ConnectionString = cr.AdminPassword, cr.ConnectionString
					}
				}
			}
			switch {
			case a.jsonOut():
				return a.printJSON(d)
			case a.flags.quiet:
				fmt.Fprintln(a.stdout(), d.Name)
				return nil
			}
			a.writeDatabase(d, show)
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "branch name (default: a friendly generated name)")
	cmd.Flags().StringVar(&snapshot, "snapshot-at", "", "branch the parent as of this RFC 3339 time (default: now)")
	cmd.Flags().BoolVar(&noWait, "no-wait", false, "return at once, while the branch is still CLONING")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Minute, "how long to wait for ACTIVE")
	show.add(cmd)
	return cmd
}

// waitActive polls d until it is ACTIVE, showing progress on stderr.
func (a branchCommands) waitActive(ctx context.Context, s *session, d client.Database, timeout time.Duration) (client.Database, error) {
	start := time.Now()
	tty := isTerminal(a.stderr()) && !a.flags.quiet
	spin := []rune("⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏")
	if !tty {
		a.note("Waiting for branch %s to become ACTIVE...", d.Name)
	}
	clear := func() {
		if tty {
			fmt.Fprint(a.stderr(), "\r\x1b[K")
		}
	}
	defer clear()
	delay := 200 * time.Millisecond
	for i := 0; ; i++ {
		switch d.State {
		case client.StateActive:
			clear()
			a.note("Branch %s is ACTIVE (%.1fs).", d.Name, time.Since(start).Seconds())
			return d, nil
		case client.StateCreateFailed:
			clear()
			return d, hint(fmt.Errorf("branch %s failed: %s", d.Name, deref(d.StateReason)), "`db9 list --all` shows failed databases")
		}
		if time.Since(start) > timeout {
			clear()
			return d, hint(fmt.Errorf("branch %s is still %s after %s", d.Name, d.State, timeout),
				"check later with `db9 db status "+d.Name+"`")
		}
		if tty {
			fmt.Fprintf(a.stderr(), "\r%c Creating branch %s (%s, %ds)\x1b[K", spin[i%len(spin)], d.Name, d.State, int(time.Since(start).Seconds()))
		}
		select {
		case <-ctx.Done():
			return d, ctx.Err()
		case <-time.After(delay):
		}
		delay = min(delay*3/2, 2*time.Second)
		nd, err := s.c.Databases.Get(ctx, d.ID)
		if client.IsNotFound(err) {
			return d, fmt.Errorf("branch %s disappeared while cloning (it failed and was removed)", d.Name)
		}
		if err != nil {
			return d, err
		}
		d = nd
	}
}

func (a branchCommands) newBranchListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list [<parent>]",
		Aliases: []string{"ls"},
		Short:   "List branches (of one parent, or all)",
		Example: `  db9 branch list
  db9 branch list myapp`,
		Args: maxArgs(1, "one parent database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			parentID := ""
			if len(args) == 1 {
				p, err := s.c.Databases.Get(ctx, args[0])
				if client.IsNotFound(err) {
					return dbNotFound(args[0])
				}
				if err != nil {
					return err
				}
				parentID = p.ID
			}
			dbs, err := s.c.Databases.List(ctx, true)
			if err != nil {
				return err
			}
			out := []client.Database{}
			for _, d := range dbs {
				if p := deref(d.ParentDatabaseID); p != "" && (parentID == "" || p == parentID) {
					out = append(out, d)
				}
			}
			if a.jsonOut() {
				return a.printJSON(out)
			}
			if len(out) == 0 {
				a.note("No branches.")
				return nil
			}
			a.writeDatabases(out, dbs)
			return nil
		}),
	}
}

func (a branchCommands) newBranchDeleteCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete <branch>",
		Aliases: []string{"rm"},
		Short:   "Delete a branch",
		Example: "  db9 branch delete feature-auth --yes",
		Args:    exactArgs(1, "the branch to delete: db9 branch delete <branch>"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			d, err := s.c.Databases.Get(ctx, args[0])
			if client.IsNotFound(err) {
				return dbNotFound(args[0])
			}
			if err != nil {
				return err
			}
			if d.ParentDatabaseID == nil {
				return hint(errors.New(d.Name+" is not a branch"), "delete a database with `db9 delete "+d.Name+"`")
			}
			return a.deleteDatabase(ctx, d.Name, yes)
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}
