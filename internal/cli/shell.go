package cli

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/db9/db9/internal/client"
)

// lineReader reads input lines for the SQL session.
type lineReader interface {
	// ReadLine shows prompt and returns a line without its newline; io.EOF
	// at the end of input.
	ReadLine(prompt string) (string, error)
	// AddHistory records an entry for recall.
	AddHistory(entry string)
	Close() error
}

// plainReader reads lines from any reader; it prints the prompt only when
// the session is interactive.
type plainReader struct {
	sc     *bufio.Scanner
	out    io.Writer
	prompt bool
}

func newPlainReader(in io.Reader, out io.Writer, prompt bool) *plainReader {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 64*1024), 64*1024*1024)
	return &plainReader{sc: sc, out: out, prompt: prompt}
}

func (r *plainReader) ReadLine(prompt string) (string, error) {
	if r.prompt {
		fmt.Fprint(r.out, prompt)
	}
	if !r.sc.Scan() {
		if err := r.sc.Err(); err != nil {
			return "", err
		}
		return "", io.EOF
	}
	return strings.TrimSuffix(r.sc.Text(), "\r"), nil
}

func (r *plainReader) AddHistory(string) {}
func (r *plainReader) Close() error      { return nil }

const shellHelp = `Statements end with ; and may span lines. Each one runs in a session of its own.
  \q, quit, exit   leave
  \s               show the history of this session
  \dt              list tables and views
  \d <table>       describe a table or view
  \r               clear the statement being typed
  \?               this help
Up and down arrows recall earlier statements (kept in ~/.db9/history), Ctrl-R searches
them; Tab completes SQL keywords and the names of tables, views and columns.`

// shell runs the SQL session: statements end with ;, each input is sent
// when complete. Interactive sessions prompt, keep history and survive SQL
// errors; piped input stops at the first error.
func (a sqlCommands) shell(ctx context.Context, s *session, db string, in io.Reader, interactive bool) error {
	var lr lineReader
	var names *sqlCompleter
	if interactive {
		names = &sqlCompleter{}
		a.refreshNames(ctx, s, db, names)
		tr, err := newTermReader(in, a.stdout(), a.historyFile(), names)
		if err != nil {
			return err
		}
		lr = tr
	}
	if lr == nil {
		lr = newPlainReader(in, a.stdout(), interactive)
	}
	defer lr.Close()
	if interactive && !a.flags.quiet {
		fmt.Fprintf(a.stdout(), "db9 SQL session on %s (%s). Type \\? for help, \\q to quit.\n", db, a.apiURL())
	}
	var history []string
	var buf strings.Builder
	for {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		prompt := db + "=> "
		if buf.Len() > 0 {
			prompt = db + "-> "
		}
		line, err := lr.ReadLine(prompt)
		if errors.Is(err, errLineInterrupted) {
			buf.Reset()
			continue
		}
		if errors.Is(err, io.EOF) {
			if interactive {
				fmt.Fprintln(a.stdout())
			}
			if strings.TrimSpace(buf.String()) == "" {
				return nil
			}
			return a.shellRun(ctx, s, db, buf.String())
		}
		if err != nil {
			return err
		}
		if buf.Len() == 0 {
			t := strings.TrimSpace(line)
			if t == "" {
				continue
			}
			if strings.HasPrefix(t, `\`) || t == "quit" || t == "exit" {
				quit, err := a.shellMeta(ctx, s, db, t, history)
				if err != nil {
					if !interactive {
						return err
					}
					fmt.Fprintln(a.stderr(), "error: "+describeError(a.explain(err)))
				}
				if quit {
					return nil
				}
				continue
			}
		} else if strings.TrimSpace(line) == `\r` {
			buf.Reset()
			continue
		}
		buf.WriteString(line)
		buf.WriteByte('\n')
		if !sqlComplete(buf.String()) {
			continue
		}
		stmt := strings.TrimSpace(buf.String())
		buf.Reset()
		// History entries are one line (the editor edits one line); only a
		// string literal spanning lines would change on recall.
		one := oneLineSQL(stmt)
		history = append(history, one)
		lr.AddHistory(one)
		err = a.shellRun(ctx, s, db, stmt)
		if err != nil {
			if !interactive || ctx.Err() != nil {
				return err
			}
			fmt.Fprintln(a.stderr(), "error: "+describeError(a.explain(err)))
		}
		if names != nil && changesSchema(stmt) {
			a.refreshNames(ctx, s, db, names)
		}
	}
}

// refreshNames fetches the names Tab completes. Completion is a
// convenience: without the schema it still offers keywords.
func (a sqlCommands) refreshNames(ctx context.Context, s *session, db string, names *sqlCompleter) {
	if sc, err := s.c.Databases.Schema(ctx, db); err == nil {
		names.set(sc)
	}
}

// historyFile is where the SQL session keeps its history; "" (no history
// kept across sessions) when the home directory is unknown.
func (a sqlCommands) historyFile() string {
	st, err := a.store()
	if err != nil {
		return ""
	}
	if err := os.MkdirAll(st.dir, 0o700); err != nil {
		return ""
	}
	return filepath.Join(st.dir, "history")
}

// oneLineSQL joins the lines of a statement with single spaces.
func oneLineSQL(stmt string) string {
	lines := strings.Split(stmt, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSpace(l)
	}
	return strings.Join(lines, " ")
}

// shellRun sends one input of the session and prints its result.
func (a sqlCommands) shellRun(ctx context.Context, s *session, db, sql string) error {
	res, err := s.c.Databases.SQL(ctx, db, client.SQLRequest{Query: sql})
	if err != nil {
		return a.notFoundDB(ctx, s, db, "", err)
	}
	if a.jsonOut() {
		if err := a.printJSON(res); err != nil {
			return err
		}
	} else if res.Error == nil {
		writeResult(a.stdout(), res)
		if len(res.Columns) > 0 {
			fmt.Fprintln(a.stdout()) // psql's blank line after a table
		}
	}
	if res.Error != nil {
		return sqlError(res.Error)
	}
	if res.Truncated {
		a.note("(result truncated: only the first %d rows were returned)", len(res.Rows))
	}
	return nil
}

// shellMeta runs a backslash command; quit reports \q.
func (a sqlCommands) shellMeta(ctx context.Context, s *session, db, cmd string, history []string) (quit bool, err error) {
	name, arg, _ := strings.Cut(cmd, " ")
	arg = strings.TrimSpace(arg)
	out := a.stdout()
	switch name {
	case `\q`, "quit", "exit":
		return true, nil
	case `\?`, `\h`, `\help`:
		fmt.Fprintln(out, shellHelp)
	case `\s`:
		for i, h := range history {
			fmt.Fprintf(out, "%4d  %s\n", i+1, h)
		}
	case `\r`:
	case `\dt`, `\d`:
		sc, err := s.c.Databases.Schema(ctx, db)
		if err != nil {
			return false, a.notFoundDB(ctx, s, db, "schema inspection", err)
		}
		if name == `\dt` || arg == "" {
			var rows [][]string
			for _, t := range sc.Tables {
				rows = append(rows, []string{t.Schema, t.Name, "table"})
			}
			for _, v := range sc.Views {
				rows = append(rows, []string{v.Schema, v.Name, "view"})
			}
			if len(rows) == 0 {
				fmt.Fprintln(out, "No tables.")
				return false, nil
			}
			writeList(out, []string{"schema", "name", "kind"}, rows)
			return false, nil
		}
		return false, describeRelation(out, sc, arg)
	default:
		return false, hint(fmt.Errorf("unknown command %s", name), `\? lists the commands`)
	}
	return false, nil
}

// describeRelation prints the columns of the table or view named arg
// ([schema.]name).
func describeRelation(w io.Writer, sc client.Schema, arg string) error {
	schema, name, ok := strings.Cut(arg, ".")
	if !ok {
		schema, name = "", arg
	}
	match := func(s, n string) bool { return n == name && (schema == "" || s == schema) }
	var cols []client.Column
	found := false
	for _, t := range sc.Tables {
		if match(t.Schema, t.Name) {
			cols, found = t.Columns, true
			break
		}
	}
	for _, v := range sc.Views {
		if !found && match(v.Schema, v.Name) {
			cols, found = v.Columns, true
		}
	}
	if !found {
		return fmt.Errorf("did not find a table or view named %q", arg)
	}
	rows := make([][]string, len(cols))
	for i, c := range cols {
		null := "not null"
		if c.Nullable {
			null = ""
		}
		rows[i] = []string{c.Name, c.Type, null, deref(c.Default)}
	}
	writeList(w, []string{"column", "type", "nullable", "default"}, rows)
	return nil
}
