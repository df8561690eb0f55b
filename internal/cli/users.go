package cli

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

func (a *app) newUsersCmd() *cobra.Command {
	cmd := newGroupCmd("users", "Manage a database's login roles",
		`  db9 db users list myapp
  db9 db users create myapp --username app_ro
  db9 db users delete myapp --username app_ro`)
	cmd.AddCommand(a.newUsersListCmd(), a.newUsersCreateCmd(), a.newUsersDeleteCmd())
	return cmd
}

func (a *app) newUsersListCmd() *cobra.Command {
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
			us, err := s.c.ListUsers(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "database users", err)
			}
			if a.jsonOut() {
				if us == nil {
					us = []client.User{}
				}
				return a.printJSON(us)
			}
			rows := make([][]string, len(us))
			for i, u := range us {
				rows[i] = []string{u.Username, fmt.Sprint(u.CanLogin), fmtTimePtr(u.CreatedAt)}
			}
			writeList(a.stdout(), []string{"username", "can login", "created"}, rows)
			return nil
		}),
	}
}

func (a *app) newUsersCreateCmd() *cobra.Command {
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
			u, err := s.c.CreateUser(ctx, db, username, password)
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

func (a *app) newUsersDeleteCmd() *cobra.Command {
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
			m, err := s.c.DeleteUser(ctx, db, username)
			if err != nil {
				if client.IsNotFound(err) {
					if _, lerr := s.c.ListUsers(ctx, db); lerr == nil {
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

func (a *app) newInspectCmd() *cobra.Command {
	cmd := newGroupCmd("inspect", "Look at a database's schemas, tables, figures and top queries",
		`  db9 db inspect schemas myapp
  db9 db inspect tables myapp --schema public
  db9 db inspect summary myapp --window 24h
  db9 db inspect queries myapp --slow`)
	var schema string
	tables := &cobra.Command{
		Use:   "tables [<db>]",
		Short: "List tables and views with their columns and estimated rows",
		Example: `  db9 db inspect tables myapp
  db9 db inspect tables myapp --schema public --json`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			sc, err := a.fetchSchema(cmd, args)
			if err != nil {
				return err
			}
			var rows [][]string
			var out client.Schema
			for _, t := range sc.Tables {
				if schema == "" || t.Schema == schema {
					out.Tables = append(out.Tables, t)
					rows = append(rows, []string{t.Schema, t.Name, "table", fmt.Sprint(len(t.Columns)),
						strings.Join(t.PrimaryKey, ","), fmt.Sprintf("%.0f", max(t.RowEstimate, 0))})
				}
			}
			for _, v := range sc.Views {
				if schema == "" || v.Schema == schema {
					out.Views = append(out.Views, v)
					kind := "view"
					if v.Materialized {
						kind = "materialized view"
					}
					rows = append(rows, []string{v.Schema, v.Name, kind, fmt.Sprint(len(v.Columns)), "", ""})
				}
			}
			if a.jsonOut() {
				return a.printJSON(out)
			}
			if len(rows) == 0 {
				a.note("No tables.")
				return nil
			}
			writeList(a.stdout(), []string{"schema", "name", "kind", "columns", "primary key", "rows (est.)"}, rows)
			return nil
		}),
	}
	tables.Flags().StringVar(&schema, "schema", "", "only this schema")
	schemas := &cobra.Command{
		Use:     "schemas [<db>]",
		Short:   "List schemas with their numbers of tables and views",
		Example: "  db9 db inspect schemas myapp",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			sc, err := a.fetchSchema(cmd, args)
			if err != nil {
				return err
			}
			type counts struct {
				Name   string `json:"name"`
				Tables int    `json:"tables"`
				Views  int    `json:"views"`
			}
			by := map[string]*counts{}
			get := func(n string) *counts {
				if by[n] == nil {
					by[n] = &counts{Name: n}
				}
				return by[n]
			}
			for _, t := range sc.Tables {
				get(t.Schema).Tables++
			}
			for _, v := range sc.Views {
				get(v.Schema).Views++
			}
			list := make([]counts, 0, len(by))
			for _, c := range by {
				list = append(list, *c)
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
			if a.jsonOut() {
				return a.printJSON(list)
			}
			rows := make([][]string, len(list))
			for i, c := range list {
				rows[i] = []string{c.Name, fmt.Sprint(c.Tables), fmt.Sprint(c.Views)}
			}
			writeList(a.stdout(), []string{"schema", "tables", "views"}, rows)
			return nil
		}),
	}
	cmd.AddCommand(schemas, tables)
	cmd.AddCommand(a.newInspectFiguresCmds()...)
	return cmd
}

func (a *app) fetchSchema(cmd *cobra.Command, args []string) (client.Schema, error) {
	ctx := cmd.Context()
	db, err := a.database(args, 0)
	if err != nil {
		return client.Schema{}, err
	}
	s, err := a.authed(ctx, false)
	if err != nil {
		return client.Schema{}, err
	}
	sc, err := s.c.Schema(ctx, db)
	if err != nil {
		return sc, a.notFoundDB(ctx, s, db, "schema inspection", err)
	}
	return sc, nil
}
