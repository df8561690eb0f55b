package cli

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// sqlCommands are `db9 sql` (and `db9 db sql`): one query, a file, psql,
// or the interactive session of shell.go.
type sqlCommands struct{ *app }

func (a sqlCommands) newSQLCmd(use string) *cobra.Command {
	var query, file string
	var psql bool
	cmd := &cobra.Command{
		Use:   use + " [<db>] [-q <sql> | -f <file>]",
		Short: "Run SQL: a query, a file, or an interactive session",
		Long: "Runs SQL on a database over the REST API and prints the result as an aligned table.\n" +
			"  -q runs one query (several statements separated by ; run in one transaction; the last result shows).\n" +
			"  -f runs a file (- for stdin) as one script; it stops at the first error and undoes it.\n" +
			"With neither, an interactive session starts: end statements with ;, \\? lists commands, \\q quits.\n" +
			"Each statement runs in a session of its own: put a whole transaction on one line.\n" +
			"Piped input runs statement by statement and stops at the first error.\n" +
			"--psql runs psql instead, with a short-lived connect token as its password.",
		Example: `  db9 sql myapp -q "select 1"
  db9 sql myapp -f schema.sql
  db9 sql myapp                       # interactive
  echo "select now();" | db9 sql myapp
  db9 sql myapp --psql
  db9 sql myapp -q "select * from users" --json | jq '.rows'`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			hasQuery := cmd.Flags().Changed("query")
			if hasQuery && file != "" {
				return usage(errors.New("-q and -f cannot be used together"), cmd.CommandPath()+" --help")
			}
			db, err := a.database(args, 0)
			if err != nil {
				return err
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			switch {
			case psql:
				return a.runPsql(cmd, s, db, query, file)
			case hasQuery:
				return a.runSQL(cmd, s, db, client.SQLRequest{Query: query})
			case file != "":
				text, err := a.readSQLFile(file)
				if err != nil {
					return err
				}
				if strings.TrimSpace(text) == "" {
					return usage(fmt.Errorf("%s is empty", file), cmd.CommandPath()+" --help")
				}
				return a.runSQL(cmd, s, db, client.SQLRequest{FileContent: text})
			}
			if _, err := s.c.Databases.Get(ctx, db); err != nil {
				return a.notFoundDB(ctx, s, db, "", err)
			}
			return a.shell(cmd.Context(), s, db, a.stdin(), isTerminal(a.stdin()))
		}),
	}
	cmd.Flags().StringVarP(&query, "query", "q", "", "SQL to run")
	cmd.Flags().StringVarP(&file, "file", "f", "", "file of SQL to run as one script (- for stdin)")
	cmd.Flags().BoolVar(&psql, "psql", false, "run psql, logged in with a connect token")
	return cmd
}

func (a sqlCommands) readSQLFile(file string) (string, error) {
	if file == "-" {
		b, err := io.ReadAll(a.stdin())
		if err != nil {
			return "", fmt.Errorf("read stdin: %w", err)
		}
		return string(b), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", hint(fmt.Errorf("read %s: %w", file, errors.Unwrap(err)), "check the path given to -f")
	}
	return string(b), nil
}

// runSQL runs one request and prints its result; an SQL error is the
// command's error.
func (a sqlCommands) runSQL(cmd *cobra.Command, s *session, db string, req client.SQLRequest) error {
	ctx := cmd.Context()
	res, err := s.c.Databases.SQL(ctx, db, req)
	if err != nil {
		return a.notFoundDB(ctx, s, db, "", err)
	}
	if a.jsonOut() {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else if res.Error == nil {
		writeResult(a.stdout(), res)
	}
	if res.Error != nil {
		return sqlError(res.Error)
	}
	if res.Truncated {
		a.note("(result truncated: only the first %d rows were returned)", len(res.Rows))
	}
	return nil
}

// sqlError explains a PostgreSQL error: PostgreSQL's own hint when it
// gave one, else one by the SQLSTATE class.
func sqlError(e *client.SQLError) error {
	msg := *e
	h := msg.Hint
	msg.Hint = ""
	if h == "" {
		switch {
		case e.Code == "25006":
			h = "the token is read-only (scope ro) for this database"
		case strings.HasPrefix(e.Code, "42"):
			h = "check the SQL; `db9 db inspect tables` shows the tables"
		case strings.HasPrefix(e.Code, "23"):
			h = "the data breaks a constraint of the table"
		case strings.HasPrefix(e.Code, "22"):
			h = "check the values in the SQL"
		case strings.HasPrefix(e.Code, "57"):
			h = "the statement was cancelled or timed out (limit 60 s); retry or split it"
		default:
			h = "see the PostgreSQL documentation for SQLSTATE " + e.Code
		}
	}
	return hint(&msg, h)
}

// runPsql runs psql on db with a connect token (or, on a server without
// connect tokens, the admin password) in its environment, never its argv.
func (a sqlCommands) runPsql(cmd *cobra.Command, s *session, db, query, file string) error {
	ctx := cmd.Context()
	path, err := exec.LookPath("psql")
	if err != nil {
		return hint(errors.New("psql is not on PATH"), "install the PostgreSQL client (e.g. apt install postgresql-client), or drop --psql")
	}
	var host, port, user, dbname, password string
	tok, err := s.c.Databases.ConnectToken(ctx, db, "")
	switch {
	case err == nil:
		host, port, user, dbname, password = tok.Host, fmt.Sprint(tok.Port), tok.User, tok.Database, tok.Token
	case client.IsNotFound(err):
		d, gerr := s.c.Databases.Get(ctx, db)
		if gerr != nil {
			return a.notFoundDB(ctx, s, db, "", gerr)
		}
		cr, cerr := s.c.Databases.Credentials(ctx, d.ID)
		if cerr != nil {
			return cerr
		}
		a.note("The server has no connect tokens; using the admin password.")
		host, port, user, dbname = splitConnString(cr.ConnectionString)
		password = cr.AdminPassword
	default:
		return err
	}
	conninfo := fmt.Sprintf("host=%s port=%s user=%s dbname=%s application_name=db9", connValue(host), connValue(port),
		connValue(user), connValue(dbname))
	argv := []string{conninfo}
	if query != "" {
		argv = append(argv, "-c", query)
	}
	if file != "" {
		argv = append(argv, "-f", file)
	}
	// Not CommandContext: Ctrl-C belongs to psql (it cancels the query),
	// and must not kill it.
	c := exec.Command(path, argv...)
	c.Env = append(os.Environ(), "PGPASSWORD="+password)
	c.Stdin, c.Stdout, c.Stderr = a.stdin(), a.stdout(), a.stderr()
	err = c.Run()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return &exitStatus{code: max(ee.ExitCode(), 1)}
	}
	return err
}

// connValue quotes a libpq keyword/value.
func connValue(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}
