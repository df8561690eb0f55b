package cli

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// db9 functions: deploy, invoke and read the runs of a database's
// functions (API.md "Functions, secrets, cron"). The database is -d/--database
// or the default one; the positional arguments name functions and runs.

// functionsCommands are `db9 functions`: deploys (here), invocations and
// runs (functions_runs.go).
type functionsCommands struct{ *app }

func (a functionsCommands) newFunctionsCmd() *cobra.Command {
	cmd := newGroupCmd("functions", "Deploy and run JavaScript/TypeScript functions next to a database",
		`  db9 functions create hello --file ./hello      # a directory with index.ts or index.js
  db9 functions invoke hello --input '{"name":"ada"}'
  db9 functions history hello
  db9 functions logs hello <run id>
  db9 functions secrets set API_TOKEN < token.txt`)
	cmd.Aliases = []string{"fn"}
	cmd.AddCommand(a.newFnCreateCmd(), a.newFnUpdateCmd(), a.newFnListCmd(), a.newFnInvokeCmd(),
		a.newFnHistoryCmd(), a.newFnLogsCmd(), a.newFnDeleteCmd(), secretsCommands(a).newSecretsCmd())
	return cmd
}

// deployFlags are the flags of create and update.
type deployFlags struct {
	file, entrypoint, runAs, cron string
	bypassRLS, noBundle           bool
	timeoutMS, memoryMB           int
	allowNet, fsRead, fsWrite     []string
	secrets                       []string
}

func (d *deployFlags) add(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVarP(&d.file, "file", "f", "", "source: index.js or index.ts, a directory holding one, or - for stdin (bundled with its imports before the upload)")
	f.BoolVar(&d.noBundle, "no-bundle", false, "upload the source as it is (a directory zipped without node_modules); the server bundles it")
	f.StringVar(&d.entrypoint, "entrypoint", "index.handler", "<module>.<export> to call")
	f.StringVar(&d.runAs, "run-as", "", "database role ctx.db.query runs as (default: the admin role)")
	f.BoolVar(&d.bypassRLS, "bypass-rls", false, "run queries bypassing row-level security")
	f.IntVar(&d.timeoutMS, "timeout-ms", 0, "wall-clock limit of a run in milliseconds (default: the server's, 10000)")
	f.IntVar(&d.memoryMB, "memory-mb", 0, "memory limit of a run in MiB (default: the server's, 128)")
	f.StringSliceVar(&d.allowNet, "allow-net", nil, "origin fetch may reach, e.g. https://api.example.com (repeatable)")
	f.StringSliceVar(&d.fsRead, "fs9-read", nil, "fs9 path prefix ctx.fs9 may read (repeatable)")
	f.StringSliceVar(&d.fsWrite, "fs9-write", nil, "fs9 path prefix ctx.fs9 may write (repeatable)")
	f.StringSliceVar(&d.secrets, "secret", nil, "secret name ctx.secrets.get may read (repeatable)")
	f.StringVar(&d.cron, "cron", "", "five-field UTC schedule ('*/5 * * * *'); on update, '' removes it")
}

// request builds the deploy body: on update (cur != nil) only flags given
// are sent, and a limit or scope given alone keeps its sibling's value.
func (d *deployFlags) request(cmd *cobra.Command, b client.Bundle, cur *client.Function) client.FunctionRequest {
	changed := func(n string) bool { return cur == nil || cmd.Flags().Changed(n) }
	req := client.FunctionRequest{BundleRef: b.BundleRef, BundleDigest: &b.BundleDigest}
	if changed("entrypoint") {
		req.Entrypoint = &d.entrypoint
	}
	if d.runAs != "" && changed("run-as") {
		req.RunAs = &d.runAs
	}
	if cmd.Flags().Changed("bypass-rls") {
		req.BypassRLS = &d.bypassRLS
	}
	if cmd.Flags().Changed("timeout-ms") || cmd.Flags().Changed("memory-mb") {
		l := client.FunctionLimits{TimeoutMS: d.timeoutMS, MemoryMB: d.memoryMB}
		if cur != nil && !cmd.Flags().Changed("timeout-ms") {
			l.TimeoutMS = cur.Limits.TimeoutMS
		}
		if cur != nil && !cmd.Flags().Changed("memory-mb") {
			l.MemoryMB = cur.Limits.MemoryMB
		}
		req.Limits = &l
	}
	if cmd.Flags().Changed("allow-net") {
		req.NetworkAllowlist = &d.allowNet
	}
	if cmd.Flags().Changed("fs9-read") || cmd.Flags().Changed("fs9-write") {
		s := client.FS9Scope{Read: d.fsRead, Write: d.fsWrite}
		if cur != nil && !cmd.Flags().Changed("fs9-read") {
			s.Read = cur.FS9Scope.Read
		}
		if cur != nil && !cmd.Flags().Changed("fs9-write") {
			s.Write = cur.FS9Scope.Write
		}
		req.FS9Scope = &s
	}
	if cmd.Flags().Changed("secret") {
		req.SecretBindings = &d.secrets
	}
	if cmd.Flags().Changed("cron") {
		req.CronSchedule = &d.cron
	}
	return req
}

func (a functionsCommands) newFnCreateCmd() *cobra.Command {
	var d deployFlags
	cmd := &cobra.Command{
		Use:   "create <name> --file <index.js|index.ts|dir|->",
		Short: "Deploy a new function",
		Long: "Bundles the source with its imports (npm packages from node_modules included) into one\n" +
			"script, uploads it, then deploys it. The server transpiles TypeScript and ESM and fails with a\n" +
			"clear error when the bundle does not parse or lacks the entrypoint's export.",
		Example: `  db9 functions create hello --file ./hello
  db9 functions create report --file report.ts --cron '0 * * * *' --secret SMTP_PASSWORD
  cat index.js | db9 functions create hello --file - -d myapp`,
		Args: exactArgs(1, "the function's name"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			return a.deploy(cmd, args[0], &d, false)
		}),
	}
	d.add(cmd)
	return cmd
}

func (a functionsCommands) newFnUpdateCmd() *cobra.Command {
	var d deployFlags
	cmd := &cobra.Command{
		Use:   "update <function> --file <index.js|index.ts|dir|->",
		Short: "Deploy a new version of a function",
		Long: "Uploads the source and makes it the function's active version. Flags not given keep\n" +
			"their current values.",
		Example: `  db9 functions update hello --file ./hello
  db9 functions update hello --file ./hello --timeout-ms 30000 --cron ''`,
		Args: exactArgs(1, "a function (name or id)"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			return a.deploy(cmd, args[0], &d, true)
		}),
	}
	d.add(cmd)
	return cmd
}

func (a functionsCommands) deploy(cmd *cobra.Command, name string, d *deployFlags, update bool) error {
	ctx := cmd.Context()
	if d.file == "" {
		return usage(errors.New("--file is required (a file, a directory, or - for stdin)"), cmd.CommandPath()+" --help")
	}
	src, err := sourceToUpload(d, a.stdin(), a.note)
	if err != nil {
		return err
	}
	db, s, err := a.databaseSession(ctx, nil)
	if err != nil {
		return err
	}
	var cur *client.Function
	if update {
		f, err := s.c.Functions.Get(ctx, db, name)
		if err != nil {
			return a.fnNotFound(ctx, s, db, name, err)
		}
		cur = &f
	}
	b, err := s.c.Functions.UploadBundle(ctx, db, src)
	if err != nil {
		return a.notFoundDB(ctx, s, db, "functions", err)
	}
	req := d.request(cmd, b, cur)
	var f client.Function
	if update {
		f, err = s.c.Functions.Update(ctx, db, name, req)
	} else {
		req.Name = &name
		f, err = s.c.Functions.Create(ctx, db, req)
	}
	if err != nil {
		if client.IsNotFound(err) {
			return a.fnNotFound(ctx, s, db, name, err)
		}
		return err
	}
	if a.jsonOut() {
		return a.printJSON(f)
	}
	writeFields(a.stdout(), functionFields(f))
	return nil
}

func functionFields(f client.Function) [][2]string {
	fields := [][2]string{
		{"Name", f.Name}, {"ID", f.ID}, {"Version", strconv.Itoa(f.Version)}, {"Entrypoint", f.Entrypoint},
		{"Bundle", f.BundleDigest}, {"Run as", f.RunAs}, {"Bypass RLS", strconv.FormatBool(f.BypassRLS)},
		{"Limits", fmt.Sprintf("%d ms, %d MiB", f.Limits.TimeoutMS, f.Limits.MemoryMB)},
	}
	if len(f.NetworkAllowlist) > 0 {
		fields = append(fields, [2]string{"Network", strings.Join(f.NetworkAllowlist, ", ")})
	}
	if len(f.FS9Scope.Read)+len(f.FS9Scope.Write) > 0 {
		fields = append(fields, [2]string{"fs9", "read " + strings.Join(f.FS9Scope.Read, ",") + "; write " + strings.Join(f.FS9Scope.Write, ",")})
	}
	if len(f.SecretBindings) > 0 {
		fields = append(fields, [2]string{"Secrets", strings.Join(f.SecretBindings, ", ")})
	}
	if f.CronSchedule != nil {
		fields = append(fields, [2]string{"Cron", *f.CronSchedule + " (next " + fmtTimePtr(f.NextRunAt) + ")"})
	}
	return append(fields, [2]string{"Updated", fmtTime(f.UpdatedAt)})
}

func (a functionsCommands) newFnListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list [<db>]",
		Aliases: []string{"ls"},
		Short:   "List a database's functions",
		Example: "  db9 functions list myapp\n  db9 functions list --json",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			fs, err := s.c.Functions.List(ctx, db)
			if err != nil {
				return a.notFoundDB(ctx, s, db, "functions", err)
			}
			return printList(a.app, fs, "No functions. Deploy one with `db9 functions create <name> --file <dir>`.",
				[]string{"name", "version", "entrypoint", "cron", "updated", "id"}, func(f client.Function) []string {
					return []string{f.Name, strconv.Itoa(f.Version), f.Entrypoint, deref(f.CronSchedule), fmtTime(f.UpdatedAt), f.ID}
				})
		}),
	}
}

func (a functionsCommands) newFnDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete <function>",
		Aliases: []string{"rm"},
		Short:   "Delete a function, its schedule and its run history",
		Example: "  db9 functions delete hello",
		Args:    exactArgs(1, "a function (name or id)"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, nil)
			if err != nil {
				return err
			}
			m, err := s.c.Functions.Delete(ctx, db, args[0])
			if err != nil {
				return a.fnNotFound(ctx, s, db, args[0], err)
			}
			if a.jsonOut() {
				return a.printJSON(m)
			}
			a.note("Deleted function %s.", args[0])
			return nil
		}),
	}
}

// fnNotFound explains a 404 about function fn of database db.
func (a functionsCommands) fnNotFound(ctx context.Context, s *session, db, fn string, err error) error {
	if !client.IsNotFound(err) {
		return err
	}
	if derr := a.notFoundDB(ctx, s, db, "", err); derr != err {
		return derr
	}
	if _, lerr := s.c.Functions.List(ctx, db); client.IsNotFound(lerr) {
		return errUnsupported(a.app, "functions")
	}
	return hint(fmt.Errorf("function %q not found in database %s", fn, db), "`db9 functions list "+db+"` shows them")
}
