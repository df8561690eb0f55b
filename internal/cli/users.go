package cli

import (
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// userCommands are `db9 db users`: a database's login roles.
type userCommands struct{ *app }

func (a userCommands) newUsersCmd() *cobra.Command {
	cmd := newGroupCmd("users", "Manage a database's login roles",
		`  db9 db users list myapp
  db9 db users create myapp --username app_ro
  db9 db users delete myapp --username app_ro`)
	cmd.AddCommand(a.newUsersListCmd(), a.newUsersCreateCmd(), a.newUsersDeleteCmd())
	return cmd
}

func (a userCommands) newUsersListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list [<db>]",
		Aliases: []string{"ls"},
		Short:   "List the roles of a database",
		Example: "  db9 db users list myapp",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			us, err := s.c.Users.List(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "database users", err)
			}
			return printList(a.app, us, "", []string{"username", "can login", "created"}, func(u client.User) []string {
				return []string{u.Username, fmt.Sprint(u.CanLogin), fmtTimePtr(u.CreatedAt)}
			})
		}),
	}
}

func (a userCommands) newUsersCreateCmd() *cobra.Command {
	var username, password string
	cmd := &cobra.Command{
		Use:   "create [<db>] --username <name>",
		Short: "Create a login role (its password is shown once)",
		Example: `  db9 db users create myapp --username app
  db9 db users create myapp --username app --password 'long-secret-here'`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if username == "" {
				return usage(errors.New("--username is required"), "db9 db users create --help")
			}
			db, err := a.database(args, 0)
			if err != nil {
				return err
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			u, err := s.c.Users.Create(ctx, db, username, password)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "database users", err)
			}
			if a.jsonOut() {
				return a.printJSON(u)
			}
			writeFields(a.stdout(), [][2]string{{"Username", u.Username}, {"Password", u.Password}})
			return nil
		}),
	}
	cmd.Flags().StringVar(&username, "username", "", "role name")
	cmd.Flags().StringVar(&password, "password", "", "password (default: generated)")
	return cmd
}

func (a userCommands) newUsersDeleteCmd() *cobra.Command {
	var username string
	cmd := &cobra.Command{
		Use:     "delete [<db>] --username <name>",
		Aliases: []string{"rm"},
		Short:   "Drop a role",
		Example: "  db9 db users delete myapp --username app",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if username == "" {
				return usage(errors.New("--username is required"), "db9 db users delete --help")
			}
			db, err := a.database(args, 0)
			if err != nil {
				return err
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			m, err := s.c.Users.Delete(ctx, db, username)
			if err != nil {
				if client.IsNotFound(err) {
					if _, lerr := s.c.Users.List(ctx, db); lerr == nil {
						return hint(fmt.Errorf("user %q not found in %s", username, db), "`db9 db users list "+db+"` shows them")
					}
				}
				return a.notFoundDB(ctx, s, db, "database users", err)
			}
			if a.jsonOut() {
				return a.printJSON(m)
			}
			a.note("Deleted user %s.", username)
			return nil
		}),
	}
	cmd.Flags().StringVar(&username, "username", "", "role name")
	return cmd
}
