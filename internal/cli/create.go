package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// secretFlags are --show-password, --show-connection-string, --show-secrets.
type secretFlags struct{ password, connString, all bool }

func (f *secretFlags) add(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.password, "show-password", false, "print the admin password")
	cmd.Flags().BoolVar(&f.connString, "show-connection-string", false, "print the connection string with the password in it")
	cmd.Flags().BoolVar(&f.all, "show-secrets", false, "both --show-password and --show-connection-string")
}

// writeDatabase prints a database; secrets only when asked for.
func (a dbCommands) writeDatabase(d client.Database, show secretFlags) {
	fields := [][2]string{{"Name", d.Name}, {"ID", d.ID}, {"State", d.State}}
	if r := deref(d.StateReason); r != "" {
		fields = append(fields, [2]string{"Reason", r})
	}
	if p := deref(d.ParentDatabaseID); p != "" {
		fields = append(fields, [2]string{"Parent", p})
	}
	if d.SnapshotAt != nil {
		fields = append(fields, [2]string{"Snapshot at", fmtTime(*d.SnapshotAt)})
	}
	fields = append(fields, [][2]string{{"Region", d.Region}, {"Created", fmtTime(d.CreatedAt)},
		{"Host", d.Host}, {"Port", fmt.Sprint(d.Port)}, {"Database", d.Database}, {"Admin user", d.AdminUser}}...)
	if (show.password || show.all) && d.AdminPassword != "" {
		fields = append(fields, [2]string{"Admin password", d.AdminPassword})
	}
	if show.connString || show.all || !strings.Contains(d.ConnectionString, "@") || d.AdminPassword == "" {
		fields = append(fields, [2]string{"Connection", d.ConnectionString})
	} else {
		fields = append(fields, [2]string{"Connection", redactPassword(d.ConnectionString)})
	}
	writeFields(a.stdout(), fields)
}

// redactPassword hides the password of a postgresql:// URL.
func redactPassword(u string) string {
	at := strings.LastIndexByte(u, '@')
	scheme := strings.Index(u, "://")
	if at < 0 || scheme < 0 {
		return u
	}
	colon := strings.IndexByte(u[scheme+3:at], ':')
	if colon < 0 {
		return u
	}
	return u[:scheme+3+colon+1] + "****" + u[at:]
}

func (a dbCommands) newCreateCmd() *cobra.Command {
	var name, password, region string
	var show secretFlags
	cmd := &cobra.Command{
		Use:   "create",
		Short: "Create a database (the first use registers an anonymous account)",
		Long: "Creates a database and waits until it accepts connections. Without --name a friendly name is made up.\n" +
			"With no credentials yet, an anonymous account is registered and saved to ~/.db9/credentials.",
		Example: `  db9 create
  db9 create --name myapp --show-connection-string
  db9 create --name ci-run-42 --json | jq -r .connection_string`,
		Args: maxArgs(0, "no arguments (use --name)"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.authed(ctx, true)
			if err != nil {
				return err
			}
			if name == "" {
				name = friendlyName()
			}
			d, err := s.c.Databases.Create(ctx, client.CreateDatabaseRequest{Name: name, Region: region, AdminPassword: password})
			if err != nil {
				return err
			}
			switch {
			case a.jsonOut():
				return a.printJSON(d)
			case a.flags.quiet:
				fmt.Fprintln(a.stdout(), d.Name)
				return nil
			}
			a.writeDatabase(d, show)
			if !show.password && !show.all {
				a.note("\nThe admin password is not shown; add --show-password, or run `db9 db connect %s` later.", d.Name)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "database name: 1-63 of [a-z0-9-] (default: a friendly generated name)")
	cmd.Flags().StringVar(&password, "password", "", "admin password, 8-128 characters (default: generated)")
	cmd.Flags().StringVar(&region, "region", "", "region (default: the server's)")
	show.add(cmd)
	return cmd
}

func (a dbCommands) newDeleteCmd() *cobra.Command {
	var yes bool
	cmd := &cobra.Command{
		Use:     "delete <db>",
		Aliases: []string{"rm"},
		Short:   "Delete a database and everything in it",
		Long:    "Deletes a database: sessions end and its files are removed. Asks for confirmation on a terminal; elsewhere --yes is required.",
		Example: `  db9 delete myapp
  db9 delete myapp --yes`,
		Args: exactArgs(1, "the database to delete: db9 delete <db>"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			return a.deleteDatabase(cmd.Context(), args[0], yes)
		}),
	}
	cmd.Flags().BoolVarP(&yes, "yes", "y", false, "do not ask for confirmation")
	return cmd
}

// deleteDatabase deletes db after confirmation (on a terminal) or --yes.
func (a dbCommands) deleteDatabase(ctx context.Context, db string, yes bool) error {
	if !yes {
		if !isTerminal(a.stdin()) {
			return usage(fmt.Errorf("refusing to delete %q without --yes (stdin is not a terminal)", db), "add --yes to confirm")
		}
		fmt.Fprintf(a.stderr(), "Delete database %q and all its data? Type its name to confirm: ", db)
		line, _ := bufio.NewReader(a.stdin()).ReadString('\n')
		if strings.TrimSpace(line) != db {
			return errors.New("not deleted: the name did not match")
		}
	}
	s, err := a.authed(ctx, false)
	if err != nil {
		return err
	}
	m, err := s.c.Databases.Delete(ctx, db)
	if client.IsNotFound(err) {
		return dbNotFound(db)
	}
	if err != nil {
		return err
	}
	if a.jsonOut() {
		return a.printJSON(m)
	}
	a.note("Deleted database %s.", db)
	return a.forgetDefault(db)
}

// forgetDefault drops the remembered default database when it was db.
func (a dbCommands) forgetDefault(db string) error {
	st, err := a.store()
	if err != nil {
		return err
	}
	set, err := st.LoadSettings()
	if err != nil || set.Database != db {
		return nil
	}
	set.Database = ""
	return st.SaveSettings(set)
}

// isTerminal reports whether r is a terminal (a character device).
func isTerminal(r any) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
