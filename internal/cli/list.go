package cli

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

func (a dbCommands) newListCmd() *cobra.Command {
	var all bool
	cmd := &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List your databases",
		Example: `  db9 list
  db9 list --all          # failed ones too
  db9 list --json | jq -r '.[].name'`,
		Args: maxArgs(0, "no arguments"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.authed(ctx, true)
			if err != nil {
				return err
			}
			dbs, err := s.c.Databases.List(ctx, all)
			if err != nil {
				return err
			}
			if a.jsonOut() {
				if dbs == nil {
					dbs = []client.Database{}
				}
				return a.printJSON(dbs)
			}
			if len(dbs) == 0 {
				a.note("No databases yet. Create one with `db9 create`.")
				return nil
			}
			a.writeDatabases(dbs, dbs)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&all, "all", false, "also list databases whose creation failed")
	return cmd
}

// writeDatabases lists dbs, naming parents found in known.
func (a dbCommands) writeDatabases(dbs, known []client.Database) {
	names := map[string]string{}
	for _, d := range known {
		names[d.ID] = d.Name
	}
	parent := func(d client.Database) string {
		p := deref(d.ParentDatabaseID)
		if n, ok := names[p]; ok {
			return n
		}
		return p
	}
	def, _ := a.defaultDatabase()
	rows := make([][]string, len(dbs))
	for i, d := range dbs {
		mark := ""
		if def != "" && (d.Name == def || d.ID == def) {
			mark = "*"
		}
		rows[i] = []string{d.Name + mark, d.ID, d.State, d.Region, parent(d), fmtTime(d.CreatedAt)}
	}
	writeList(a.stdout(), []string{"name", "id", "state", "region", "parent", "created"}, rows)
}

func (a dbCommands) newUseCmd() *cobra.Command {
	var unset bool
	cmd := &cobra.Command{
		Use:   "use [<db>]",
		Short: "Remember a default database for commands that take one",
		Long: "Remembers <db> in ~/.db9/config.toml as the database that `db9 sql`, `db9 db ...`, `db9 migration ...`\n" +
			"and others use when none is named. -d/--database and DB9_DATABASE override it. Without <db>, shows it.",
		Example: `  db9 use myapp
  db9 sql -q "select 1"      # runs on myapp
  db9 use                    # show the default
  db9 use --unset`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			st, err := a.store()
			if err != nil {
				return err
			}
			set, err := st.LoadSettings()
			if err != nil {
				return err
			}
			switch {
			case unset:
				set.Database = ""
				if err := st.SaveSettings(set); err != nil {
					return err
				}
				a.note("No default database.")
				return nil
			case len(args) == 0:
				def, err := a.defaultDatabase()
				if err != nil {
					return hint(fmt.Errorf("no default database"), "set one with `db9 use <db>`")
				}
				if a.jsonOut() {
					return a.printJSON(map[string]string{"database": def})
				}
				fmt.Fprintln(a.stdout(), def)
				return nil
			}
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
			set.Database = d.Name
			if err := st.SaveSettings(set); err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(map[string]string{"database": d.Name})
			}
			a.note("Default database is now %s (%s).", d.Name, d.ID)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&unset, "unset", false, "forget the default database")
	return cmd
}
