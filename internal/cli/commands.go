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

func (a *app) addGlobalFlags(root *cobra.Command) {
	f := root.PersistentFlags()
	f.StringVar(&a.flags.apiURL, "api-url", "", "db9 API URL (default http://127.0.0.1:8080) [DB9_API_URL]")
	f.BoolVar(&a.flags.asJSON, "json", false, "print the API's JSON instead of tables (same as --output json)")
	f.StringVar(&a.flags.output, "output", "", "output format: table or json")
	f.StringVarP(&a.flags.database, "database", "d", "", "database to use when none is named [DB9_DATABASE]")
	f.BoolVar(&a.flags.quiet, "quiet", false, "print only results: no notes or progress")
}

// addClientCommands adds every client command to root.
func (a *app) addClientCommands(root *cobra.Command) {
	for _, c := range []*cobra.Command{
		a.newCreateCmd(), a.newListCmd(), a.newDeleteCmd(), a.newUseCmd(),
		a.newDBCmd(), a.newSQLCmd("sql"), a.newBranchCmd(), a.newMigrationCmd(),
		// fs shortcuts; not rm, which deletes a database
		a.newFSCmd(), a.newFSCatCmd("cat"), a.newFSMvCmd("mv"), a.newFunctionsCmd(),
	} {
		c.GroupID = groupDatabases
		root.AddCommand(c)
	}
	for _, c := range []*cobra.Command{
		a.newStatusCmd(), a.newLoginCmd(), a.newLogoutCmd(), a.newClaimCmd(), a.newTokenCmd(),
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
