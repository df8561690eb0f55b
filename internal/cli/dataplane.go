package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// dataPlaneCommands are `db9 db auth-config` and `db9 db keys`: what the
// browser data API of a database needs from its owner.
type dataPlaneCommands struct{ *app }

// newAuthConfigCmd is `db9 db auth-config`: how the data API verifies end
// users' JWTs.
func (a dataPlaneCommands) newAuthConfigCmd() *cobra.Command {
	cmd := newGroupCmd("auth-config", "Show or set how the data API verifies end users' JWTs",
		`  db9 db auth-config get myapp
  db9 db auth-config set myapp --jwks-url https://idp.example.com/.well-known/jwks.json --issuer https://idp.example.com
  db9 db auth-config set myapp --mode none`)
	cmd.AddCommand(a.newAuthConfigGetCmd(), a.newAuthConfigSetCmd())
	return cmd
}

func (a dataPlaneCommands) newAuthConfigGetCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "get [<db>]",
		Short:   "Show a database's auth-config",
		Example: "  db9 db auth-config get myapp\n  db9 db auth-config get myapp --json",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			c, err := s.c.DataPlane.GetAuthConfig(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "auth-config", err)
			}
			if a.jsonOut() {
				return a.printJSON(c)
			}
			a.writeAuthConfig(c)
			return nil
		}),
	}
}

func (a dataPlaneCommands) writeAuthConfig(c client.AuthConfig) {
	fields := [][2]string{{"Mode", c.AuthMode}}
	if b := c.BYOJWT; b != nil {
		keys := b.JWKSURL
		if keys == "" {
			keys = fmt.Sprintf("inline JWK Set (%d bytes)", len(b.JWKS))
		}
		allow := strings.Join(b.ClaimsAllowlist, ",")
		if allow == "" {
			allow = "(all claims)"
		}
		fields = append(fields, [2]string{"Keys", keys}, [2]string{"Issuer", b.Issuer}, [2]string{"Audience", b.Audience},
			[2]string{"Algorithms", strings.Join(b.Algorithms, ",")}, [2]string{"Role claim", b.RoleClaim},
			[2]string{"Default role", b.DefaultRole}, [2]string{"Claims allowlist", allow})
	}
	fields = append(fields, [2]string{"Updated", fmtTimePtr(c.UpdatedAt)})
	writeFields(a.stdout(), fields)
}

func (a dataPlaneCommands) newAuthConfigSetCmd() *cobra.Command {
	var mode, jwksURL, jwksFile, issuer, audience, roleClaim, defaultRole string
	var algorithms, allowlist []string
	cmd := &cobra.Command{
		Use:   "set [<db>] (--jwks-url <url> | --jwks-file <file>) --issuer <iss> [options] | --mode none",
		Short: "Set a database's auth-config (replaces it)",
		Long: "Sets how the data API verifies end users' JWTs: the identity provider's public keys (a JWKS URL the server\n" +
			"fetches over https, or a JWK Set file sent inline), the issuer, and optionally the audience, algorithms\n" +
			"(default RS256,ES256; asymmetric only), the claim holding the role (default role), the role without one\n" +
			"(default authenticated) and which claims reach SQL (default all). --mode none turns end-user JWTs off.",
		Example: `  db9 db auth-config set myapp --jwks-url https://idp.example.com/.well-known/jwks.json --issuer https://idp.example.com --audience myapp
  db9 db auth-config set myapp --jwks-file jwks.json --issuer https://auth.example.com --role-claim app_metadata.role
  db9 db auth-config set myapp --mode none`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			help := "db9 db auth-config set --help"
			byoFlags := jwksURL != "" || jwksFile != "" || issuer != "" || audience != "" || roleClaim != "" || defaultRole != "" ||
				len(algorithms) > 0 || len(allowlist) > 0
			if mode == "" {
				mode = "byo_jwt"
				if !byoFlags {
					return usage(errors.New("give --jwks-url or --jwks-file with --issuer, or --mode none"), help)
				}
			}
			cfg := client.AuthConfig{AuthMode: mode}
			switch mode {
			case "none":
				if byoFlags {
					return usage(errors.New("--mode none takes no other auth-config flags"), help)
				}
			case "byo_jwt":
				if (jwksURL == "") == (jwksFile == "") {
					return usage(errors.New("give exactly one of --jwks-url and --jwks-file"), help)
				}
				if issuer == "" {
					return usage(errors.New("--issuer is required"), help)
				}
				b := &client.BYOJWT{JWKSURL: jwksURL, Issuer: issuer, Audience: audience, Algorithms: algorithms,
					RoleClaim: roleClaim, DefaultRole: defaultRole, ClaimsAllowlist: allowlist}
				if jwksFile != "" {
					data, err := os.ReadFile(jwksFile)
					if err != nil {
						return hint(fmt.Errorf("read --jwks-file: %w", err), "give a file holding a JWK Set: {\"keys\": [...]}")
					}
					if !json.Valid(data) {
						return hint(fmt.Errorf("--jwks-file %s is not JSON", jwksFile), "give a file holding a JWK Set: {\"keys\": [...]}")
					}
					b.JWKS = data
				}
				cfg.BYOJWT = b
			default:
				return usage(fmt.Errorf("--mode %q: want byo_jwt or none", mode), help)
			}
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			c, err := s.c.DataPlane.PutAuthConfig(ctx, db, cfg)
			if err != nil {
				return withHelp(a.notFoundDB(ctx, s, db, "auth-config", err), help)
			}
			if a.jsonOut() {
				return a.printJSON(c)
			}
			a.writeAuthConfig(c)
			return nil
		}),
	}
	f := cmd.Flags()
	f.StringVar(&mode, "mode", "", "byo_jwt (default with the flags below) or none")
	f.StringVar(&jwksURL, "jwks-url", "", "https URL of the identity provider's JWK Set")
	f.StringVar(&jwksFile, "jwks-file", "", "a file holding the JWK Set, sent inline")
	f.StringVar(&issuer, "issuer", "", "the iss claim tokens must carry")
	f.StringVar(&audience, "audience", "", "the aud claim tokens must carry (default: not checked)")
	f.StringSliceVar(&algorithms, "algorithms", nil, "accepted algorithms, comma-separated (default RS256,ES256)")
	f.StringVar(&roleClaim, "role-claim", "", "claim (dot path) holding the role (default role)")
	f.StringVar(&defaultRole, "default-role", "", "role of a token without the role claim (default authenticated)")
	f.StringSliceVar(&allowlist, "claims-allowlist", nil, "claims passed to SQL, comma-separated (default all)")
	return cmd
}

// newKeysCmd is `db9 db keys`: publishable and service keys of the data API.
func (a dataPlaneCommands) newKeysCmd() *cobra.Command {
	cmd := newGroupCmd("keys", "Manage a database's data API keys (publishable for browsers, service for servers)",
		`  db9 db keys create myapp --publishable --origin https://app.example.com
  db9 db keys create myapp --service --name backend
  db9 db keys list myapp
  db9 db keys revoke myapp 3f9c... --publishable`)
	cmd.AddCommand(a.newKeysCreateCmd(), a.newKeysListCmd(), a.newKeysRevokeCmd())
	return cmd
}

// withHelp points a refused setting (400, 422) at the command's help.
func withHelp(err error, help string) error {
	var ae *client.Error
	if errors.As(err, &ae) && (ae.Status == 400 || ae.Status == 422) {
		msg := ae.Message
		if ae.Status == 422 && strings.Contains(msg, "--allow-private-jwks") {
			return hint(errors.New(msg), "give a jwks_url on a public address, or start the server with --allow-private-jwks")
		}
		return usage(errors.New(msg), help)
	}
	return err
}

// keyKind turns --publishable/--service into the API's path; required
// says whether one must be given (else "" means both).
func keyKind(publishable, service, required bool, help string) (string, error) {
	switch {
	case publishable && service:
		return "", usage(errors.New("give only one of --publishable and --service"), help)
	case publishable:
		return client.PublishableKeys, nil
	case service:
		return client.ServiceKeys, nil
	case required:
		return "", usage(errors.New("give --publishable (for browsers) or --service (for servers)"), help)
	}
	return "", nil
}

func kindWord(kind string) string {
	if kind == client.ServiceKeys {
		return "service"
	}
	return "publishable"
}

// parseRateLimit reads --rate-limit <rps>[:<burst>] (burst defaults to
// rps rounded up).
func parseRateLimit(s string) (*client.RateLimit, error) {
	rs, bs, hasBurst := strings.Cut(s, ":")
	rps, err := strconv.ParseFloat(rs, 64)
	if err != nil || rps <= 0 {
		return nil, fmt.Errorf("--rate-limit %q: want <requests per second>[:<burst>], e.g. 10:20", s)
	}
	burst := int(rps)
	if float64(burst) < rps || burst < 1 {
		burst++
	}
	if hasBurst {
		if burst, err = strconv.Atoi(bs); err != nil || burst < 1 {
			return nil, fmt.Errorf("--rate-limit %q: burst must be a whole number of at least 1", s)
		}
	}
	return &client.RateLimit{RPS: rps, Burst: burst}, nil
}

func (a dataPlaneCommands) newKeysCreateCmd() *cobra.Command {
	var publishable, service bool
	var name, rate string
	var origins, schemas, tables []string
	var days int
	cmd := &cobra.Command{
		Use:   "create [<db>] --publishable|--service [options]",
		Short: "Create a publishable or service key (the key is shown once)",
		Long: "A publishable key (db9pk_...) may sit in a web page: it runs as anon, or as the end user of a JWT the\n" +
			"auth-config verifies, limited to its origins, schemas, tables and rate. A service key (db9sk_...) runs as\n" +
			"service_role, bypassing row-level security: keep it on servers, browsers are refused.",
		Example: `  db9 db keys create myapp --publishable --origin https://app.example.com --rate-limit 10:20
  db9 db keys create myapp --publishable --schema public --schema api --table posts --table api.items
  db9 db keys create myapp --service --name backend --expires-in-days 90
  KEY=$(db9 db keys create myapp --publishable --json | jq -r .key)`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			help := "db9 db keys create --help"
			kind, err := keyKind(publishable, service, true, help)
			if err != nil {
				return err
			}
			req := client.DataKeyRequest{Name: name}
			if cmd.Flags().Changed("expires-in-days") {
				req.ExpiresInDays = &days
			}
			if kind == client.ServiceKeys {
				for _, f := range []string{"origin", "schema", "table", "rate-limit"} {
					if cmd.Flags().Changed(f) {
						return usage(fmt.Errorf("--%s is for publishable keys (a service key reaches every schema, from servers only)", f), help)
					}
				}
			} else {
				req.AllowedOrigins, req.ExposedSchemas, req.ExposedTables = origins, schemas, tables
				if rate != "" {
					if req.RateLimit, err = parseRateLimit(rate); err != nil {
						return usage(err, help)
					}
				}
			}
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			k, err := s.c.DataPlane.CreateKey(ctx, db, kind, req)
			if err != nil {
				return withHelp(a.notFoundDB(ctx, s, db, kindWord(kind)+" keys", err), help)
			}
			if a.jsonOut() {
				return a.printJSON(k)
			}
			if a.flags.quiet {
				fmt.Fprintln(a.stdout(), k.Key)
				return nil
			}
			fields := [][2]string{{"ID", k.ID}, {"Name", k.Name}}
			if kind == client.PublishableKeys {
				fields = append(fields, [2]string{"Origins", strings.Join(k.AllowedOrigins, ",")},
					[2]string{"Schemas", strings.Join(k.ExposedSchemas, ",")}, [2]string{"Tables", tablesText(k.ExposedTables)},
					[2]string{"Rate limit", rateText(k.RateLimit)})
			}
			fields = append(fields, [2]string{"Expires", fmtTimePtr(k.ExpiresAt)}, [2]string{"Key", k.Key})
			writeFields(a.stdout(), fields)
			if kind == client.PublishableKeys {
				a.note("\nThis is the only time the key is shown. Put it in your web app, e.g. createClient(API + \"/data/%s\", key).", db)
			} else {
				a.note("\nThis is the only time the key is shown. Keep it on servers only: it bypasses row-level security.")
			}
			return nil
		}),
	}
	f := cmd.Flags()
	f.BoolVar(&publishable, "publishable", false, "a browser key (db9pk_...)")
	f.BoolVar(&service, "service", false, "a server key (db9sk_...)")
	f.StringVar(&name, "name", "", "a name to recognise the key by")
	f.StringArrayVar(&origins, "origin", nil, "an origin browsers may call from, e.g. https://app.example.com (repeatable; default any: *)")
	f.StringArrayVar(&schemas, "schema", nil, "a schema the key exposes (repeatable; default public)")
	f.StringArrayVar(&tables, "table", nil, "limit the key to this table or view, <name> or <schema>.<name> (repeatable; default all)")
	f.StringVar(&rate, "rate-limit", "", "requests per second and burst, <rps>[:<burst>] (default none)")
	f.IntVar(&days, "expires-in-days", 0, "lifetime in days (default: no expiry)")
	return cmd
}

func tablesText(t []string) string {
	if len(t) == 0 {
		return "(all)"
	}
	return strings.Join(t, ",")
}

func rateText(r *client.RateLimit) string {
	if r == nil {
		return "none"
	}
	return fmt.Sprintf("%g/s, burst %d", r.RPS, r.Burst)
}

func (a dataPlaneCommands) newKeysListCmd() *cobra.Command {
	var publishable, service bool
	cmd := &cobra.Command{
		Use:     "list [<db>] [--publishable|--service]",
		Aliases: []string{"ls"},
		Short:   "List a database's data API keys (never the keys themselves)",
		Example: "  db9 db keys list myapp\n  db9 db keys list myapp --publishable --json",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			kind, err := keyKind(publishable, service, false, "db9 db keys list --help")
			if err != nil {
				return err
			}
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			kinds := []string{client.PublishableKeys, client.ServiceKeys}
			if kind != "" {
				kinds = []string{kind}
			}
			type listed struct {
				Kind string `json:"kind"`
				client.DataKey
			}
			var all []listed
			for _, k := range kinds {
				ks, err := s.c.DataPlane.ListKeys(ctx, db, k)
				if err != nil {
					return a.notFoundDB(ctx, s, db, kindWord(k)+" keys", err)
				}
				for _, key := range ks {
					all = append(all, listed{kindWord(k), key})
				}
			}
			if a.jsonOut() {
				if all == nil {
					all = []listed{}
				}
				return a.printJSON(all)
			}
			if len(all) == 0 {
				a.note("No keys. Create one with `db9 db keys create %s --publishable`.", db)
				return nil
			}
			rows := make([][]string, len(all))
			for i, k := range all {
				origins, scope, rate := "", "", ""
				if k.Kind == "publishable" {
					origins, scope, rate = strings.Join(k.AllowedOrigins, ","), strings.Join(k.ExposedSchemas, ",")+" "+tablesText(k.ExposedTables), rateText(k.RateLimit)
				}
				rows[i] = []string{k.ID, k.Kind, k.Name, origins, scope, rate, fmtTime(k.CreatedAt), fmtTimePtr(k.ExpiresAt), fmtTimePtr(k.LastUsedAt)}
			}
			writeList(a.stdout(), []string{"id", "kind", "name", "origins", "exposes", "rate limit", "created", "expires", "last used"}, rows)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&publishable, "publishable", false, "only publishable keys")
	cmd.Flags().BoolVar(&service, "service", false, "only service keys")
	return cmd
}

func (a dataPlaneCommands) newKeysRevokeCmd() *cobra.Command {
	var publishable, service bool
	cmd := &cobra.Command{
		Use:     "revoke [<db>] <key-id> --publishable|--service",
		Aliases: []string{"delete", "rm"},
		Short:   "Revoke a data API key; it stops working at once",
		Example: "  db9 db keys revoke myapp 3f9c0d2e8a71b4c5 --publishable",
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) < 1 || len(args) > 2 {
				return usage(errors.New("give the key id, after the database when naming one: db9 db keys revoke [<db>] <key-id>"), "`db9 db keys list` shows the ids")
			}
			return nil
		},
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			kind, err := keyKind(publishable, service, true, "db9 db keys revoke --help")
			if err != nil {
				return err
			}
			id := args[len(args)-1]
			db, s, err := a.databaseSession(ctx, args[:len(args)-1])
			if err != nil {
				return err
			}
			m, err := s.c.DataPlane.RevokeKey(ctx, db, kind, id)
			if client.IsNotFound(err) {
				if _, lerr := s.c.DataPlane.ListKeys(ctx, db, kind); lerr == nil {
					return hint(fmt.Errorf("no %s key with id %s in %s", kindWord(kind), id, db), "`db9 db keys list "+db+"` shows the ids and kinds")
				}
			}
			if err != nil {
				return a.notFoundDB(ctx, s, db, kindWord(kind)+" keys", err)
			}
			if a.jsonOut() {
				return a.printJSON(m)
			}
			a.note("Revoked %s key %s.", kindWord(kind), id)
			return nil
		}),
	}
	cmd.Flags().BoolVar(&publishable, "publishable", false, "the key is a publishable key")
	cmd.Flags().BoolVar(&service, "service", false, "the key is a service key")
	return cmd
}
