package cli

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// Secrets are per database and only ever written: no command prints a
// value, and set reads it from stdin unless --value is given, so it stays
// out of shell history and process listings.

// secretsCommands are `db9 functions secrets`.
type secretsCommands struct{ *app }

func (a secretsCommands) newSecretsCmd() *cobra.Command {
	cmd := newGroupCmd("secrets", "Manage the secrets functions read with ctx.secrets.get",
		`  db9 functions secrets list
  printf %s "$TOKEN" | db9 functions secrets set API_TOKEN
  db9 functions secrets delete API_TOKEN`)
	cmd.AddCommand(a.newSecretsListCmd(), a.newSecretsSetCmd(), a.newSecretsDeleteCmd())
	return cmd
}

func (a secretsCommands) newSecretsListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list [<db>]",
		Aliases: []string{"ls"},
		Short:   "List a database's secrets (names only, never values)",
		Example: "  db9 functions secrets list myapp",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			ss, err := s.c.Secrets.List(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "secrets", err)
			}
			return printList(a.app, ss, "No secrets.", []string{"name", "created", "updated"}, func(sec client.Secret) []string {
				return []string{sec.Name, fmtTime(sec.CreatedAt), fmtTime(sec.UpdatedAt)}
			})
		}),
	}
}

func (a secretsCommands) newSecretsSetCmd() *cobra.Command {
	var value string
	cmd := &cobra.Command{
		Use:   "set <name> [--value <value>]",
		Short: "Create or replace a secret (the value is read from stdin unless --value is given)",
		Example: `  printf %s "$TOKEN" | db9 functions secrets set API_TOKEN
  db9 functions secrets set API_TOKEN < token.txt`,
		Args: exactArgs(1, "the secret's name"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if !cmd.Flags().Changed("value") {
				b, err := io.ReadAll(io.LimitReader(a.stdin(), 1<<20))
				if err != nil {
					return fmt.Errorf("read the value from stdin: %w", err)
				}
				// One trailing newline is the file's or echo's, not the secret's.
				value = strings.TrimSuffix(strings.TrimSuffix(string(b), "\n"), "\r")
			}
			if value == "" {
				return usage(errors.New("the secret's value is empty"), "pipe it on stdin or pass --value")
			}
			db, s, err := a.databaseSession(ctx, nil)
			if err != nil {
				return err
			}
			sec, err := s.c.Secrets.Put(ctx, db, args[0], value)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "secrets", err)
			}
			if a.jsonOut() {
				return a.printJSON(sec)
			}
			a.note("Set secret %s.", sec.Name)
			return nil
		}),
	}
	cmd.Flags().StringVar(&value, "value", "", "the value (visible in shell history: prefer stdin)")
	return cmd
}

func (a secretsCommands) newSecretsDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete <name>",
		Aliases: []string{"rm"},
		Short:   "Delete a secret",
		Example: "  db9 functions secrets delete API_TOKEN",
		Args:    exactArgs(1, "the secret's name"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, nil)
			if err != nil {
				return err
			}
			m, err := s.c.Secrets.Delete(ctx, db, args[0])
			if err != nil {
				if client.IsNotFound(err) {
					if _, lerr := s.c.Secrets.List(ctx, db); lerr == nil {
						return hint(fmt.Errorf("secret %q not found in %s", args[0], db), "`db9 functions secrets list "+db+"` shows them")
					}
				}
				return a.notFoundDB(ctx, s, db, "secrets", err)
			}
			if a.jsonOut() {
				return a.printJSON(m)
			}
			a.note("Deleted secret %s.", args[0])
			return nil
		}),
	}
}
