package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

// Command groups of `db9 --help`.
const (
	groupDatabases = "databases"
	groupAccount   = "account"
	groupPlatform  = "platform"
)

// addGlobalFlags adds the client commands' persistent flags to root,
// parsed into flags.
func addGlobalFlags(root *cobra.Command, flags *globalFlags) {
	f := root.PersistentFlags()
	f.StringVar(&flags.apiURL, "api-url", "", "db9 API URL (default http://127.0.0.1:8080) [DB9_API_URL]")
	f.BoolVar(&flags.asJSON, "json", false, "print the API's JSON instead of tables (same as --output json)")
	f.StringVar(&flags.output, "output", "", "output format: table or json")
	f.StringVarP(&flags.database, "database", "d", "", "database to use when none is named [DB9_DATABASE]")
	f.BoolVar(&flags.quiet, "quiet", false, "print only results: no notes or progress")
}

// addClientCommands adds every client command to root. The commands are
// methods of small types by group (dbCommands, fsCommands, ...), each a
// view of the one app they share.
func addClientCommands(root *cobra.Command, a *app) {
	db, fs, account := dbCommands{a}, fsCommands{a}, accountCommands{a}
	for _, c := range []*cobra.Command{
		db.newCreateCmd(), db.newListCmd(), db.newDeleteCmd(), db.newUseCmd(),
		db.newDBCmd(), sqlCommands{a}.newSQLCmd("sql"), branchCommands{db}.newBranchCmd(), migrationCommands{a}.newMigrationCmd(),
		// fs shortcuts; not rm, which deletes a database
		fs.newFSCmd(), fs.newFSCatCmd("cat"), fs.newFSMvCmd("mv"), functionsCommands{a}.newFunctionsCmd(),
	} {
		c.GroupID = groupDatabases
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		account.newStatusCmd(), account.newLoginCmd(), account.newLogoutCmd(), account.newClaimCmd(), tokenCommands{a}.newTokenCmd(),
	} {
		c.GroupID = groupAccount
		root.AddCommand(c)
	}
	root.AddCommand(newCompletionCmd(root))
	defaultHelp := root.HelpFunc()
	root.SetHelpFunc(func(c *cobra.Command, args []string) {
		defaultHelp(c, args)
		if c == root {
			fmt.Fprintln(c.OutOrStdout(), "\nCommand tree:")
			printTree(c.OutOrStdout(), root, "  ")
		}
	})
}

// withoutGlobalFlags drops the "Global Flags:" section of a usage template.
func withoutGlobalFlags(tmpl string) string {
	const open = "{{if .HasAvailableInheritedFlags}}"
	i := strings.Index(tmpl, open)
	if i < 0 {
		return tmpl
	}
	j := strings.Index(tmpl[i:], "{{end}}")
	if j < 0 {
		return tmpl
	}
	return tmpl[:i] + tmpl[i+j+len("{{end}}"):]
}

// printTree lists every command under c, one per line, indented by depth.
func printTree(w io.Writer, c *cobra.Command, indent string) {
	for _, sub := range c.Commands() {
		if !sub.IsAvailableCommand() {
			continue
		}
		fmt.Fprintf(w, "%s%-*s %s\n", indent, 28-len(indent), sub.Name(), sub.Short)
		printTree(w, sub, indent+"  ")
	}
}

// newGroupCmd is a command that only holds subcommands: bare, it prints
// its help; with an unknown subcommand, it fails.
func newGroupCmd(use, short, example string) *cobra.Command {
	return &cobra.Command{
		Use:     use,
		Short:   short,
		Example: example,
		Args:    cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				return usage(fmt.Errorf("unknown command %q for %q", args[0], cmd.CommandPath()), cmd.CommandPath()+" --help")
			}
			return cmd.Help()
		},
	}
}

func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "help [command]",
		Short:   "Help about any command",
		Example: "  db9 help sql\n  db9 help branch create",
		RunE: func(cmd *cobra.Command, args []string) error {
			target, rest, err := cmd.Root().Find(args)
			if err != nil || len(rest) > 0 {
				return usage(fmt.Errorf("unknown help topic %q", strings.Join(args, " ")), "db9 --help")
			}
			return target.Help()
		},
	}
}

// Argument checkers that fail as usage errors with a hint.

func maxArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) > n {
			return usage(fmt.Errorf("too many arguments: want at most %s", what), cmd.CommandPath()+" --help")
		}
		return nil
	}
}

func exactArgs(n int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) != n {
			return usage(fmt.Errorf("want %s", what), cmd.CommandPath()+" --help")
		}
		return nil
	}
}
