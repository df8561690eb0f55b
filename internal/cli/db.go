package cli

import (
	"fmt"
	"net/url"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// dbCommands are the commands about whole databases: create, list, delete,
// use, and `db9 db` (status, credentials, connect, dump), which also holds
// the groups of other types about one database (sql, users, inspect,
// auth-config, keys, cron).
type dbCommands struct{ *app }

func (a dbCommands) newDBCmd() *cobra.Command {
	cmd := newGroupCmd("db", "Work with one database: status, credentials, SQL, dump, users, schema",
		`  db9 db status myapp
  db9 db sql myapp -q "select count(*) from users"
  db9 db users list myapp`)
	sql := sqlCommands(a).newSQLCmd("sql")
	dataPlane := dataPlaneCommands(a)
	cmd.AddCommand(a.newDBStatusCmd(), a.newResetPasswordCmd(), a.newConnectCmd(), a.newConnectTokenCmd(),
		sql, a.newDumpCmd(), userCommands(a).newUsersCmd(), inspectCommands(a).newInspectCmd(),
		dataPlane.newAuthConfigCmd(), dataPlane.newKeysCmd(), cronCommands(a).newCronCmd())
	return cmd
}

func (a dbCommands) newDBStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status [<db>]",
		Short: "Show a database: state, region, host, connection string",
		Example: `  db9 db status myapp
  db9 db status myapp --json | jq -r .state`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			d, err := s.c.Databases.Get(ctx, db)
			if client.IsNotFound(err) {
				return dbNotFound(db)
			}
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(d)
			}
			a.writeDatabase(d, secretFlags{})
			return nil
		}),
	}
}

func (a dbCommands) newResetPasswordCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "reset-password [<db>]",
		Short: "Give the admin a new password (the old one stops working)",
		Example: `  db9 db reset-password myapp
  db9 db reset-password myapp --json | jq -r .connection_string`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			cr, err := s.c.Databases.ResetPassword(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "", err)
			}
			if a.jsonOut() {
				return a.printJSON(cr)
			}
			writeFields(a.stdout(), [][2]string{{"Admin user", cr.AdminUser}, {"Admin password", cr.AdminPassword},
				{"Connection", cr.ConnectionString}})
			return nil
		}),
	}
}

func (a dbCommands) newConnectCmd() *cobra.Command {
	var asEnv bool
	cmd := &cobra.Command{
		Use:   "connect [<db>]",
		Short: "Print how to connect with any PostgreSQL client (with the admin password)",
		Long: "Prints the host, port, user, password and connection string of a database's admin login.\n" +
			"--env prints them as shell exports (DATABASE_URL and libpq's PG* variables) for eval.",
		Example: `  db9 db connect myapp
  eval "$(db9 db connect myapp --env)" && psql
  psql "$(db9 db connect myapp --json | jq -r .connection_string)"`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			cr, err := s.c.Databases.Credentials(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "", err)
			}
			if a.jsonOut() {
				return a.printJSON(cr)
			}
			host, port, user, dbname := splitConnString(cr.ConnectionString)
			if asEnv {
				for _, kv := range [][2]string{{"DATABASE_URL", cr.ConnectionString}, {"PGHOST", host}, {"PGPORT", port},
					{"PGUSER", user}, {"PGPASSWORD", cr.AdminPassword}, {"PGDATABASE", dbname}} {
					fmt.Fprintf(a.stdout(), "export %s=%s\n", kv[0], shellQuote(kv[1]))
				}
				return nil
			}
			writeFields(a.stdout(), [][2]string{{"Host", host}, {"Port", port}, {"Database", dbname}, {"User", user},
				{"Password", cr.AdminPassword}, {"Connection", cr.ConnectionString}})
			return nil
		}),
	}
	cmd.Flags().BoolVar(&asEnv, "env", false, "print shell export lines (DATABASE_URL, PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE)")
	return cmd
}

// splitConnString takes host, port, user and database from a postgresql:// URL.
func splitConnString(s string) (host, port, user, dbname string) {
	u, err := url.Parse(s)
	if err != nil {
		return "", "", "", ""
	}
	return u.Hostname(), u.Port(), u.User.Username(), strings.TrimPrefix(u.Path, "/")
}

// shellQuote quotes s for POSIX shells.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func (a dbCommands) newConnectTokenCmd() *cobra.Command {
	var role string
	cmd := &cobra.Command{
		Use:   "connect-token [<db>]",
		Short: "Mint a short-lived token to use as the PostgreSQL password",
		Long:  "Mints a connect token (a JWT valid for about 15 minutes) for a role of a database: a password for psql or a driver.",
		Example: `  db9 db connect-token myapp
  PGPASSWORD=$(db9 db connect-token myapp --json | jq -r .token) psql "host=127.0.0.1 port=5433 user=myapp.admin dbname=postgres"`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			t, err := s.c.Databases.ConnectToken(ctx, db, role)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "connect tokens", err)
			}
			if a.jsonOut() {
				return a.printJSON(t)
			}
			writeFields(a.stdout(), [][2]string{{"Host", t.Host}, {"Port", fmt.Sprint(t.Port)}, {"Database", t.Database},
				{"User", t.User}, {"Token", t.Token}, {"Expires", fmtTime(t.ExpiresAt)}})
			return nil
		}),
	}
	cmd.Flags().StringVar(&role, "role", "", "role to connect as (default admin)")
	return cmd
}

func (a dbCommands) newDumpCmd() *cobra.Command {
	var ddlOnly bool
	var out string
	cmd := &cobra.Command{
		Use:   "dump [<db>]",
		Short: "Dump a database as SQL (schemas and data)",
		Long:  "Prints the database's schemas and data as SQL that psql or `db9 sql -f` can load into a fresh database.",
		Example: `  db9 db dump myapp -o myapp.sql
  db9 db dump myapp --ddl-only
  db9 db dump prod -o /tmp/p.sql && db9 sql staging -f /tmp/p.sql`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			d, err := s.c.Databases.Dump(ctx, db, ddlOnly)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "dumps", err)
			}
			if a.jsonOut() && out == "" {
				return a.printJSON(d)
			}
			if out == "" || out == "-" {
				_, err := fmt.Fprint(a.stdout(), d.SQL)
				return err
			}
			if err := os.WriteFile(out, []byte(d.SQL), 0o600); err != nil {
				return fmt.Errorf("write dump: %w", err)
			}
			a.note("Wrote %d objects (%d bytes) to %s.", d.ObjectCount, len(d.SQL), out)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&ddlOnly, "ddl-only", false, "schema only, no data")
	cmd.Flags().StringVarP(&out, "output-file", "o", "", "write to this file instead of stdout")
	return cmd
}
