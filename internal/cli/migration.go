package cli

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
	"github.com/db9/db9/internal/platform"
)

// migrationFile is a local migration: NNNN_name.sql.
type migrationFile struct {
	Name     string // file name without .sql: what the server records
	Path     string
	Number   int
	SQL      string
	Checksum string // lowercase hex SHA-256 of the file
}

var migrationRe = regexp.MustCompile(`^(\d+)_([A-Za-z0-9_.-]+)\.sql$`)

// readMigrations returns the migrations in dir, in order.
func readMigrations(dir string) ([]migrationFile, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, hint(fmt.Errorf("no migrations directory %s", dir), "create one with `db9 migration new <name>` or point --dir at it")
	}
	if err != nil {
		return nil, err
	}
	var out []migrationFile
	seen := map[int]string{}
	for _, e := range entries {
		m := migrationRe.FindStringSubmatch(e.Name())
		if e.IsDir() || m == nil {
			continue
		}
		n, _ := strconv.Atoi(m[1])
		if other, ok := seen[n]; ok {
			return nil, hint(fmt.Errorf("two migrations numbered %d: %s and %s", n, other, e.Name()), "renumber one of them")
		}
		seen[n] = e.Name()
		p := filepath.Join(dir, e.Name())
		b, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		sum := sha256.Sum256(b)
		out = append(out, migrationFile{Name: strings.TrimSuffix(e.Name(), ".sql"), Path: p, Number: n, SQL: string(b),
			Checksum: hex.EncodeToString(sum[:])})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// migrationState is one line of `migration status`.
type migrationState struct {
	Name      string     `json:"name"`
	Status    string     `json:"status"` // applied, pending, modified, missing_locally
	Checksum  string     `json:"checksum"`
	AppliedAt *time.Time `json:"applied_at"`
}

// compareMigrations merges local files with what the server applied.
func compareMigrations(local []migrationFile, applied []client.Migration) []migrationState {
	byName := map[string]client.Migration{}
	for _, m := range applied {
		byName[m.Name] = m
	}
	var out []migrationState
	for _, f := range local {
		st := migrationState{Name: f.Name, Status: "pending", Checksum: f.Checksum}
		if m, ok := byName[f.Name]; ok {
			st.Status, st.AppliedAt = "applied", m.AppliedAt
			if m.Checksum != f.Checksum {
				st.Status = "modified"
			}
			delete(byName, f.Name)
		}
		out = append(out, st)
	}
	for _, m := range applied {
		if _, ok := byName[m.Name]; ok {
			out = append(out, migrationState{Name: m.Name, Status: "missing_locally", Checksum: m.Checksum, AppliedAt: m.AppliedAt})
		}
	}
	return out
}

// migrationCommands are `db9 migration`.
type migrationCommands struct{ *app }

func (a migrationCommands) newMigrationCmd() *cobra.Command {
	cmd := newGroupCmd("migration", "Versioned SQL migrations: files NNNN_name.sql applied in order",
		`  db9 migration new create_users
  db9 migration up myapp
  db9 migration status myapp`)
	cmd.Aliases = []string{"migrations"}
	var dir string
	cmd.PersistentFlags().StringVar(&dir, "dir", "./migrations", "directory of migration files")
	cmd.AddCommand(a.newMigrationNewCmd(&dir), a.newMigrationListCmd(), a.newMigrationStatusCmd(&dir), a.newMigrationUpCmd(&dir))
	return cmd
}

func (a migrationCommands) newMigrationNewCmd(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "new <name>",
		Short: "Create the next migration file",
		Example: `  db9 migration new create_users      # ./migrations/0001_create_users.sql
  db9 migration new "add email index" --dir db/migrations`,
		Args: exactArgs(1, "a name: db9 migration new <name>"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			name := strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(args[0]), "_"), "_")
			if name == "" {
				return usage(fmt.Errorf("name %q has no letters or digits", args[0]), "db9 migration new --help")
			}
			if err := os.MkdirAll(*dir, 0o755); err != nil {
				return err
			}
			existing, err := readMigrations(*dir)
			if err != nil {
				return err
			}
			next := 1
			if len(existing) > 0 {
				next = existing[len(existing)-1].Number + 1
			}
			p := filepath.Join(*dir, fmt.Sprintf("%04d_%s.sql", next, name))
			body := fmt.Sprintf("-- %s\n-- Applied in one transaction by `db9 migration up`; do not edit once applied.\n\n", name)
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
			if err != nil {
				return err
			}
			if _, err := f.WriteString(body); err != nil {
				f.Close()
				return err
			}
			if err := f.Close(); err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(map[string]string{"path": p, "name": strings.TrimSuffix(filepath.Base(p), ".sql")})
			}
			fmt.Fprintln(a.stdout(), p)
			return nil
		}),
	}
}

func (a migrationCommands) newMigrationListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list [<db>]",
		Aliases: []string{"ls"},
		Short:   "List the migrations applied to a database",
		Example: "  db9 migration list myapp",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			ms, err := s.c.Migrations.List(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "migrations", err)
			}
			return printList(a.app, ms, "No migrations applied to "+db+".", []string{"name", "checksum", "applied"}, func(m client.Migration) []string {
				return []string{m.Name, short(m.Checksum), fmtTimePtr(m.AppliedAt)}
			})
		}),
	}
}

func short(sum string) string {
	if len(sum) > 12 {
		return sum[:12]
	}
	return sum
}

// migrationStates loads local files and the applied list of db.
func (a migrationCommands) migrationStates(cmd *cobra.Command, args []string, dir string) (*session, string, []migrationFile, []migrationState, error) {
	ctx := cmd.Context()
	db, err := a.database(args, 0)
	if err != nil {
		return nil, "", nil, nil, err
	}
	local, err := readMigrations(dir)
	if err != nil {
		return nil, "", nil, nil, err
	}
	s, err := a.authed(ctx, false)
	if err != nil {
		return nil, "", nil, nil, err
	}
	applied, err := s.c.Migrations.List(ctx, db)
	if err != nil {
		return nil, "", nil, nil, a.notFoundDB(ctx, s, db, "migrations", err)
	}
	return s, db, local, compareMigrations(local, applied), nil
}

func (a migrationCommands) newMigrationStatusCmd(dir *string) *cobra.Command {
	return &cobra.Command{
		Use:   "status [<db>]",
		Short: "Show which local migrations are applied, pending or changed",
		Example: `  db9 migration status myapp
  db9 migration status myapp --dir db/migrations --json`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			_, _, _, states, err := a.migrationStates(cmd, args, *dir)
			if err != nil {
				return err
			}
			if a.jsonOut() {
				if states == nil {
					states = []migrationState{}
				}
				return a.printJSON(states)
			}
			if len(states) == 0 {
				a.note("No migrations in %s.", *dir)
				return nil
			}
			rows := make([][]string, len(states))
			for i, s := range states {
				rows[i] = []string{s.Name, s.Status, fmtTimePtr(s.AppliedAt)}
			}
			writeList(a.stdout(), []string{"name", "status", "applied"}, rows)
			return nil
		}),
	}
}

func (a migrationCommands) newMigrationUpCmd(dir *string) *cobra.Command {
	var dryRun bool
	cmd := &cobra.Command{
		Use:   "up [<db>]",
		Short: "Apply pending migrations in order",
		Long: "Applies the pending migrations of --dir in order, each in a transaction of its own with its record.\n" +
			"Refuses to start when an applied migration's file has changed since; stops at the first failure.",
		Example: `  db9 migration up myapp
  db9 migration up myapp --dry-run
  db9 migration up --dir db/migrations -d myapp`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			s, db, local, states, err := a.migrationStates(cmd, args, *dir)
			if err != nil {
				return err
			}
			for _, st := range states {
				if st.Status == "modified" {
					return hint(fmt.Errorf("migration %s changed after it was applied to %s (checksum differs)", st.Name, db),
						"restore the file, and put the change in a new migration (`db9 migration new`)")
				}
			}
			pending := map[string]bool{}
			for _, st := range states {
				pending[st.Name] = st.Status == "pending"
			}
			results := []client.Migration{}
			for _, f := range local {
				if !pending[f.Name] {
					continue
				}
				if dryRun {
					results = append(results, client.Migration{Name: f.Name, Checksum: f.Checksum, Status: "pending"})
					if !a.jsonOut() {
						fmt.Fprintf(a.stdout(), "would apply %s\n", f.Name)
					}
					continue
				}
				m, err := s.c.Migrations.Apply(ctx, db, f.Name, f.SQL, f.Checksum)
				if err != nil {
					if a.jsonOut() {
						_ = a.printJSON(results)
					}
					var ae *client.Error
					if c := client.CodeOf(err); errors.As(err, &ae) &&
						(c == platform.CodeUnprocessable || c == platform.CodeConflict || c == platform.CodeInvalid) {
						return hint(fmt.Errorf("migration %s failed: %s", f.Name, ae.Message), "nothing of it was applied; fix the file and run `db9 migration up` again")
					}
					return a.notFoundDB(ctx, s, db, "migrations", err)
				}
				results = append(results, m)
				if !a.jsonOut() {
					fmt.Fprintf(a.stdout(), "applied %s\n", f.Name)
				}
			}
			if a.jsonOut() {
				return a.printJSON(results)
			}
			if len(results) == 0 {
				a.note("%s is up to date.", db)
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "list what would be applied without applying it")
	return cmd
}
