package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
	"github.com/db9/db9/internal/platform"
)

// accountCommands are status, login, logout and claim: who the CLI is
// and where its credentials come from.
type accountCommands struct{ *app }

func (a accountCommands) newStatusCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "status",
		Short: "Show the API, who you are and the default database",
		Example: `  db9 status
  db9 status --json`,
		Args: maxArgs(0, "no arguments"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			st, err := a.store()
			if err != nil {
				return err
			}
			out := map[string]any{"api_url": a.apiURL(), "credentials_file": st.credentialsPath(), "authenticated": false}
			if def, err := a.defaultDatabase(); err == nil {
				out["default_database"] = def
			}
			var callErr error
			s, err := a.authed(ctx, false)
			switch {
			case err == nil:
				out["auth_source"] = map[authSource]string{authEnv: "DB9_API_KEY", authFile: "credentials file"}[s.source]
				me, err := s.c.Accounts.Me(ctx)
				if err != nil {
					callErr = err
					break
				}
				out["authenticated"], out["customer_id"], out["is_anonymous"] = true, me.ID, me.IsAnonymous
				if me.Email != nil {
					out["email"] = *me.Email
				}
			default:
				if !errors.Is(err, errNotLoggedIn) {
					callErr = err
				}
			}
			if a.jsonOut() {
				if err := a.printJSON(out); err != nil {
					return err
				}
				return callErr
			}
			fields := [][2]string{{"API", fmt.Sprint(out["api_url"])}}
			switch {
			case out["authenticated"] == true:
				kind := "full account"
				if out["is_anonymous"] == true {
					kind = "anonymous account (claim it with `db9 claim --id-token <token>`)"
				}
				fields = append(fields, [2]string{"Logged in", fmt.Sprintf("yes, %s via %s", kind, out["auth_source"])},
					[2]string{"Customer", fmt.Sprint(out["customer_id"])})
				if e, ok := out["email"]; ok {
					fields = append(fields, [2]string{"Email", fmt.Sprint(e)})
				}
			case callErr != nil:
				fields = append(fields, [2]string{"Logged in", "unknown (see the error below)"})
			default:
				fields = append(fields, [2]string{"Logged in", "no (`db9 create` registers an anonymous account; `db9 login --api-key` uses a key)"})
			}
			if d, ok := out["default_database"]; ok {
				fields = append(fields, [2]string{"Default database", fmt.Sprint(d)})
			}
			fields = append(fields, [2]string{"Credentials", st.credentialsPath()})
			writeFields(a.stdout(), fields)
			return callErr
		}),
	}
}

func (a accountCommands) newLoginCmd() *cobra.Command {
	var apiKey string
	cmd := &cobra.Command{
		Use:   "login --api-key <key>",
		Short: "Save an API key to ~/.db9/credentials after checking it",
		Long: "Checks an API key against the server and saves it to ~/.db9/credentials (0600). `--api-key -` reads it from stdin,\n" +
			"which keeps it out of the shell history. An explicit --api-url is remembered too.\n" +
			"Keys come from `db9 token create` or, for operators, `db9 admin customer create`.",
		Example: `  db9 login --api-key 3f9c...e1
  db9 admin customer create --email me@example.com --json | jq -r .token | db9 login --api-key -
  db9 login --api-key "$KEY" --api-url https://db9.example.com`,
		Args: maxArgs(0, "no arguments (use --api-key)"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if apiKey == "" {
				return usage(errors.New("--api-key is required (browser login is not available on a self-hosted db9)"), "db9 login --help")
			}
			if apiKey == "-" {
				line, err := bufio.NewReader(a.stdin()).ReadString('\n')
				if err != nil && err != io.EOF {
					return fmt.Errorf("read the API key from stdin: %w", err)
				}
				apiKey = line
			}
			apiKey = strings.TrimSpace(apiKey)
			if apiKey == "" {
				return usage(errors.New("the API key is empty"), "db9 login --help")
			}
			c, err := a.newClient()
			if err != nil {
				return err
			}
			c.Token = apiKey
			me, err := c.Accounts.Me(ctx)
			if client.IsUnauthorized(err) {
				return hint(errors.New("the server rejected this API key"), "check the key and --api-url; keys come from `db9 token create`")
			}
			if err != nil {
				return err
			}
			st, err := a.store()
			if err != nil {
				return err
			}
			if err := st.SaveCredentials(Credentials{Token: apiKey, CustomerID: me.ID, IsAnonymous: me.IsAnonymous}); err != nil {
				return err
			}
			if a.flags.apiURL != "" {
				set, err := st.LoadSettings()
				if err != nil {
					return err
				}
				set.APIURL = a.flags.apiURL
				if err := st.SaveSettings(set); err != nil {
					return err
				}
			}
			if a.jsonOut() {
				return a.printJSON(me)
			}
			who := me.ID
			if me.Email != nil {
				who = *me.Email
			}
			a.note("Logged in as %s. Credentials saved to %s.", who, st.credentialsPath())
			return nil
		}),
	}
	cmd.Flags().StringVar(&apiKey, "api-key", "", "the API key (a token); - reads it from stdin")
	return cmd
}

func (a accountCommands) newLogoutCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "logout",
		Short: "Remove ~/.db9/credentials",
		Long: "Deletes the saved credentials. For an anonymous account this forgets its secret: unless claimed first,\n" +
			"its databases can no longer be reached from this machine.",
		Example: "  db9 logout",
		Args:    maxArgs(0, "no arguments"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			st, err := a.store()
			if err != nil {
				return err
			}
			creds, _, _ := st.LoadCredentials()
			existed, err := st.RemoveCredentials()
			if err != nil {
				return err
			}
			switch {
			case !existed:
				a.note("Not logged in.")
			case creds.IsAnonymous:
				a.note("Logged out. The anonymous account's secret is gone from this machine.")
			default:
				a.note("Logged out.")
			}
			if a.getenv("DB9_API_KEY") != "" {
				a.note("DB9_API_KEY is still set and will be used.")
			}
			return nil
		}),
	}
}

func (a accountCommands) newClaimCmd() *cobra.Command {
	var idToken string
	cmd := &cobra.Command{
		Use:   "claim --id-token <token>",
		Short: "Turn the anonymous account into a full one, keeping its databases",
		Long: "Links the anonymous account in ~/.db9/credentials to the identity in an OIDC id_token from the issuer the\n" +
			"server trusts (DB9_OIDC_ISSUER). The account, its databases and its token stay; only the limits go.",
		Example: `  db9 claim --id-token eyJhbGciOi...`,
		Args:    maxArgs(0, "no arguments (use --id-token)"),
		RunE: a.run(func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if idToken == "" {
				return usage(errors.New("--id-token is required"), "db9 claim --help")
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			if s.source == authFile && !s.creds.IsAnonymous {
				return hint(errors.New("this account is not anonymous: nothing to claim"), "`db9 status` shows the account")
			}
			me, err := s.c.Accounts.Claim(ctx, strings.TrimSpace(idToken))
			switch {
			case client.IsNotFound(err):
				return errUnsupported(a.app, "claiming accounts")
			case client.CodeOf(err) == platform.CodeConflict:
				return hint(errors.New("that identity is already linked to another account"), "log in to that account with `db9 login --api-key`")
			case err != nil:
				return err
			}
			if s.source == authFile {
				st, err := a.store()
				if err != nil {
					return err
				}
				if err := st.SaveCredentials(Credentials{Token: s.c.Token, CustomerID: me.ID}); err != nil {
					return err
				}
			}
			if a.jsonOut() {
				return a.printJSON(me)
			}
			a.note("Claimed: account %s is now a full account.", me.ID)
			return nil
		}),
	}
	cmd.Flags().StringVar(&idToken, "id-token", "", "OIDC id_token proving your identity")
	return cmd
}
