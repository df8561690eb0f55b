package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/platform"
)

// Env is what commands need from the outside world.
type Env struct {
	Stdout, Stderr io.Writer
	Getenv         func(string) string
	// Stdin is read by interactive commands; nil means os.Stdin.
	Stdin io.Reader
}

// Run executes the command line and returns the process exit code.
func Run(ctx context.Context, args []string, env Env) int {
	root := NewRoot(env)
	root.SetArgs(args)
	root.SetOut(env.Stdout)
	root.SetErr(env.Stderr)
	var ran bool
	markCommandErrors(root, &ran)
	if err := root.ExecuteContext(ctx); err != nil {
		var es *exitStatus
		if errors.As(err, &es) {
			return es.code
		}
		if !ran {
			err = usage(err, "add --help for usage")
		}
		fmt.Fprintln(env.Stderr, "error: "+describeError(err))
		return exitCode(err)
	}
	return 0
}

func oneLine(err error) string {
	var pe *platform.Error
	msg := err.Error()
	if errors.As(err, &pe) {
		msg = pe.Message
	}
	return strings.ReplaceAll(strings.TrimSpace(msg), "\n", " ")
}

// exitCode is the CLI boundary's table: every failure exits 1; usage errors
// (cobra's) too. Kept as a function so codes can be refined in one place.
func exitCode(err error) int { return 1 }

// NewRoot builds the command tree.
func NewRoot(env Env) *cobra.Command {
	root := &cobra.Command{
		Use:           "db9",
		Short:         "db9: serverless PostgreSQL for AI agents",
		Long:          "db9 runs a serverless PostgreSQL platform (db9 server) and is its command-line client.",
		SilenceUsage:  true,
		SilenceErrors: true,
		Example: `  db9 create --name myapp          # first use registers an anonymous account
  db9 sql myapp -q "select now()"
  db9 server                       # run the platform itself`,
	}
	a := newApp(env)
	addGlobalFlags(root, &a.flags)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usage(err, c.CommandPath()+" --help")
	})
	root.SetHelpCommand(newHelpCmd())
	root.AddGroup(&cobra.Group{ID: groupDatabases, Title: "Databases:"},
		&cobra.Group{ID: groupAccount, Title: "Account:"},
		&cobra.Group{ID: groupPlatform, Title: "Running the platform:"})
	server, admin := newServerCmd(env), newAdminCmd(env)
	server.GroupID, admin.GroupID = groupPlatform, groupPlatform
	// The client's global flags mean nothing to the platform commands.
	server.SetUsageTemplate(withoutGlobalFlags(root.UsageTemplate()))
	admin.SetUsageTemplate(withoutGlobalFlags(root.UsageTemplate()))
	root.AddCommand(server, admin)
	root.AddCommand(newWALArchiveCmd()) // hidden: PostgreSQL's archive_command where basic_archive is unavailable
	addClientCommands(root, a)
	return root
}

func newLogger(w io.Writer, level string) (*slog.Logger, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("log level %q: use debug, info, warn or error", level)
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: l})), nil
}

func getenv(env Env) func(string) string {
	if env.Getenv != nil {
		return env.Getenv
	}
	return os.Getenv
}
