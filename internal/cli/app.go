package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// globalFlags are the client commands' persistent flags, as parsed. Empty
// strings mean "not given": the environment and the settings file decide.
type globalFlags struct {
	apiURL   string
	asJSON   bool
	output   string
	database string
	quiet    bool
}

// app is what every client command depends on: the outside world (Env),
// the global flags, the ~/.db9 store, authenticated sessions and output.
// The commands themselves are methods of small types by group (dbCommands,
// fsCommands, functionsCommands, ...), each embedding the one *app they
// share; nothing here is global.
type app struct {
	env   Env
	flags globalFlags
	// store is resolved lazily from $HOME so `db9 server` never touches it.
	storeDir string
	// source is where the last session's token came from, for hints.
	source authSource
}

func newApp(env Env) *app { return &app{env: env} }

func (a *app) getenv(k string) string { return getenv(a.env)(k) }

func (a *app) stdout() io.Writer { return a.env.Stdout }
func (a *app) stderr() io.Writer { return a.env.Stderr }

func (a *app) stdin() io.Reader {
	if a.env.Stdin != nil {
		return a.env.Stdin
	}
	return os.Stdin
}

// store returns the ~/.db9 store, honouring $HOME.
func (a *app) store() (store, error) {
	if a.storeDir != "" {
		return store{dir: a.storeDir}, nil
	}
	home := a.getenv("HOME")
	if home == "" {
		h, err := os.UserHomeDir()
		if err != nil {
			return store{}, hint(fmt.Errorf("cannot find the home directory: %w", err), "set $HOME")
		}
		home = h
	}
	a.storeDir = filepath.Join(home, ".db9")
	return store{dir: a.storeDir}, nil
}

// jsonOut reports whether output is JSON (--json or --output json).
func (a *app) jsonOut() bool { return a.flags.asJSON || a.flags.output == "json" }

// checkFlags validates the global flags.
func (a *app) checkFlags() error {
	switch a.flags.output {
	case "", "table", "json":
		return nil
	}
	return usage(fmt.Errorf("--output %q: want table or json", a.flags.output), "db9 --help")
}

// apiURL resolves the API URL: flag, then DB9_API_URL, then the settings
// file, then the default.
func (a *app) apiURL() string {
	if a.flags.apiURL != "" {
		return a.flags.apiURL
	}
	if u := a.getenv("DB9_API_URL"); u != "" {
		return u
	}
	if s, err := a.store(); err == nil {
		if st, err := s.LoadSettings(); err == nil && st.APIURL != "" {
			return st.APIURL
		}
	}
	return client.DefaultBaseURL
}

// defaultDatabase resolves the database when no argument names one:
// -d/--database, then DB9_DATABASE, then the one `db9 use` remembered.
func (a *app) defaultDatabase() (string, error) {
	if a.flags.database != "" {
		return a.flags.database, nil
	}
	if d := a.getenv("DB9_DATABASE"); d != "" {
		return d, nil
	}
	s, err := a.store()
	if err != nil {
		return "", err
	}
	st, err := s.LoadSettings()
	if err != nil {
		return "", err
	}
	if st.Database != "" {
		return st.Database, nil
	}
	return "", usage(fmt.Errorf("no database given"), "name one as an argument, with -d/--database or DB9_DATABASE, or remember one with `db9 use <db>`")
}

// database returns args[i] when present, else the default database.
func (a *app) database(args []string, i int) (string, error) {
	if len(args) > i && args[i] != "" {
		return args[i], nil
	}
	return a.defaultDatabase()
}

// databaseSession resolves the database a command acts on (args[0] or the
// default) and an authenticated session, the prologue of most db commands.
func (a *app) databaseSession(ctx context.Context, args []string) (string, *session, error) {
	db, err := a.database(args, 0)
	if err != nil {
		return "", nil, err
	}
	s, err := a.authed(ctx, false)
	if err != nil {
		return "", nil, err
	}
	return db, s, nil
}

// newClient returns an API client without credentials.
func (a *app) newClient() (*client.Client, error) {
	c, err := client.New(a.apiURL(), nil)
	if err != nil {
		return nil, usage(err, "set --api-url or DB9_API_URL to the server's address, e.g. http://127.0.0.1:8080")
	}
	c.UserAgent = "db9-cli"
	return c, nil
}

// authSource says where the token came from, for messages.
type authSource int

const (
	authNone authSource = iota
	authEnv
	authFile
)

// errNotLoggedIn: no API key, no credentials file, and no registering.
var errNotLoggedIn = errors.New("not logged in")

// session is an authenticated client and what it was made from.
type session struct {
	c      *client.Client
	source authSource
	creds  Credentials
}

// authed returns a client with a token: DB9_API_KEY, else the credentials
// file, else (when register is true) a new anonymous account whose
// credentials are saved first. An anonymous session refreshes itself once
// on a 401 and saves the new token.
func (a *app) authed(ctx context.Context, register bool) (*session, error) {
	c, err := a.newClient()
	if err != nil {
		return nil, err
	}
	if key := strings.TrimSpace(a.getenv("DB9_API_KEY")); key != "" {
		c.Token = key
		a.source = authEnv
		return &session{c: c, source: authEnv}, nil
	}
	st, err := a.store()
	if err != nil {
		return nil, err
	}
	creds, ok, err := st.LoadCredentials()
	if err != nil {
		return nil, hint(err, "fix or delete the file (db9 logout), then try again")
	}
	s := &session{c: c, source: authFile, creds: creds}
	a.source = authFile
	switch {
	case ok && creds.Token != "":
	case ok && creds.canRefresh():
		// A file with the anonymous secret but no token: renew it.
	case register:
		unlock, err := st.lockCredentials()
		if err != nil {
			return nil, err
		}
		defer unlock()
		// Another db9 process may have registered while this one waited.
		if creds, ok, err = st.LoadCredentials(); err != nil {
			return nil, hint(err, "fix or delete the file (db9 logout), then try again")
		}
		if ok && (creds.Token != "" || creds.canRefresh()) {
			s.creds = creds
			break
		}
		reg, err := c.Accounts.RegisterAnonymous(ctx)
		if err != nil {
			return nil, fmt.Errorf("register an anonymous account: %w", err)
		}
		s.creds = Credentials{Token: reg.Token, CustomerID: reg.CustomerID, AnonymousID: reg.AnonymousID,
			AnonymousSecret: reg.AnonymousSecret, IsAnonymous: true}
		if err := st.SaveCredentials(s.creds); err != nil {
			return nil, err
		}
		a.note("Registered an anonymous account (credentials saved to %s).", st.credentialsPath())
	default:
		return nil, hint(errNotLoggedIn, "run `db9 login --api-key <key>`, set DB9_API_KEY, or run `db9 create` to start anonymously")
	}
	c.Token = s.creds.Token
	if s.creds.canRefresh() {
		c.Refresh = func(ctx context.Context) (string, error) {
			ses, err := c.Accounts.RefreshAnonymous(ctx, s.creds.AnonymousID, s.creds.AnonymousSecret)
			if err != nil {
				if client.IsUnauthorized(err) {
					return "", hint(fmt.Errorf("the anonymous session could not be refreshed: the server rejected its secret"),
						"run `db9 logout` to start a new anonymous account, or `db9 login --api-key <key>`")
				}
				return "", fmt.Errorf("refresh the anonymous session: %w", err)
			}
			s.creds.Token = ses.Token
			if err := st.SaveCredentials(s.creds); err != nil {
				return "", err
			}
			return ses.Token, nil
		}
		if c.Token == "" {
			tok, err := c.Refresh(ctx)
			if err != nil {
				return nil, err
			}
			c.Token = tok
		}
	}
	return s, nil
}

// note writes an informational line to stderr unless --quiet.
func (a *app) note(format string, args ...any) {
	if a.flags.quiet {
		return
	}
	fmt.Fprintf(a.stderr(), format+"\n", args...)
}

// printJSON writes v as indented JSON.
func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout())
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}

// run wraps a client command's body: global flags are checked first and
// errors come back explained (one line, with a hint).
func (a *app) run(fn func(cmd *cobra.Command, args []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, args []string) error {
		if err := a.checkFlags(); err != nil {
			return err
		}
		return a.explain(fn(cmd, args))
	}
}
