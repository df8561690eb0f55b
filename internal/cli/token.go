package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// tokenCommands are `db9 token`: the account's API tokens.
type tokenCommands struct{ *app }

func (a tokenCommands) newTokenCmd() *cobra.Command {
	cmd := newGroupCmd("token", "Manage API tokens for scripts, CI and agents",
		`  db9 token create --name ci --expires-in-days 30
  db9 token create --name reader --scope myapp:ro
  db9 token list
  db9 token revoke 7d1c...`)
	cmd.AddCommand(a.newTokenCreateCmd(), a.newTokenListCmd(), a.newTokenRevokeCmd())
	return cmd
}

// parseScopes turns --scope db:ro|rw values into database names and access.
func parseScopes(scopes []string) ([][2]string, error) {
	var out [][2]string
	for _, s := range scopes {
		db, access, ok := strings.Cut(s, ":")
		if !ok || db == "" || (access != "ro" && access != "rw") {
			return nil, usage(fmt.Errorf("--scope %q: want <db>:ro or <db>:rw", s), "db9 token create --help")
		}
		out = append(out, [2]string{db, access})
	}
	return out, nil
}

func (a tokenCommands) newTokenCreateCmd() *cobra.Command {
	var name string
	var days int
	var scopes []string
	cmd := &cobra.Command{
		Use:   "create --name <name> [--scope <db>:ro|rw]...",
		Short: "Create an API token (shown once)",
		Long: "Creates an API token. Without --scope it can do everything your account can; with --scope it sees only\n" +
			"the named databases, read-only (ro) or read-write (rw), and cannot create or delete databases.",
		Example: `  db9 token create --name ci
  db9 token create --name agent --scope myapp:rw --scope analytics:ro --expires-in-days 7
  export DB9_API_KEY=$(db9 token create --name ci --json | jq -r .token)`,
		Args: maxArgs(0, "no arguments (use --name)"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			parsed, err := parseScopes(scopes)
			if err != nil {
				return err
			}
			if name == "" {
				name = "cli-" + time.Now().UTC().Format("20060102-150405")
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			req := client.CreateTokenRequest{Name: name}
			if cmd.Flags().Changed("expires-in-days") {
				req.ExpiresInDays = &days
			}
			if len(parsed) > 0 {
				var sc client.TokenScope
				for _, p := range parsed {
					d, err := s.c.Databases.Get(ctx, p[0])
					if client.IsNotFound(err) {
						return dbNotFound(p[0])
					}
					if err != nil {
						return err
					}
					sc.Databases = append(sc.Databases, client.ScopedDatabase{ID: d.ID, Access: p[1]})
				}
				b, _ := json.Marshal(sc)
				req.ScopeJSON = string(b)
			}
			t, err := s.c.Tokens.Create(ctx, req)
			if client.IsNotFound(err) {
				return errUnsupported(a.app, "API tokens")
			}
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(t)
			}
			if a.flags.quiet {
				fmt.Fprintln(a.stdout(), t.Token)
				return nil
			}
			writeFields(a.stdout(), [][2]string{{"ID", t.ID}, {"Name", t.Name}, {"Scope", scopeText(t.Scope)},
				{"Expires", fmtTimePtr(t.ExpiresAt)}, {"Token", t.Token}})
			a.note("\nThis is the only time the token is shown. Use it as DB9_API_KEY or with `db9 login --api-key`.")
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "a name to recognise the token by (default cli-<time>)")
	cmd.Flags().IntVar(&days, "expires-in-days", 365, "lifetime in days")
	cmd.Flags().StringArrayVar(&scopes, "scope", nil, "limit to a database: <db>:ro or <db>:rw (repeatable)")
	return cmd
}

// scopeText shows a token's scope: "full" or db:access pairs.
func scopeText(scope any) string {
	switch v := scope.(type) {
	case nil:
		return ""
	case string:
		return v
	}
	b, _ := json.Marshal(scope)
	var sc client.TokenScope
	if json.Unmarshal(b, &sc) != nil || len(sc.Databases) == 0 {
		return string(b)
	}
	parts := make([]string, len(sc.Databases))
	for i, d := range sc.Databases {
		parts[i] = d.ID + ":" + d.Access
	}
	return strings.Join(parts, ",")
}

func (a tokenCommands) newTokenListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List API tokens (never their secrets)",
		Example: "  db9 token list\n  db9 token list --json",
		Args:    maxArgs(0, "no arguments"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			ts, err := s.c.Tokens.List(ctx)
			if client.IsNotFound(err) {
				return errUnsupported(a.app, "API tokens")
			}
			if err != nil {
				return err
			}
			return printList(a.app, ts, "No tokens.", []string{"id", "name", "scope", "created", "expires", "last used"}, func(t client.Token) []string {
				return []string{t.ID, t.Name, scopeText(t.Scope), fmtTime(t.CreatedAt), fmtTimePtr(t.ExpiresAt), fmtTimePtr(t.LastUsedAt)}
			})
		}),
	}
}

func (a tokenCommands) newTokenRevokeCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "revoke <token-id>",
		Aliases: []string{"delete", "rm"},
		Short:   "Revoke an API token at once",
		Example: "  db9 token revoke 0f3b8a2c-...",
		Args:    exactArgs(1, "the token id: db9 token revoke <token-id> (ids are in `db9 token list`)"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			m, err := s.c.Tokens.Revoke(ctx, args[0])
			if client.IsNotFound(err) {
				if _, lerr := s.c.Tokens.List(ctx); lerr != nil {
					return errUnsupported(a.app, "API tokens")
				}
				return hint(errors.New("no token with id "+args[0]), "`db9 token list` shows the ids")
			}
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(m)
			}
			a.note("Revoked token %s.", args[0])
			return nil
		}),
	}
}
