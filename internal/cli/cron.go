package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// The cron commands work through POST .../sql with the cron schema's own
// functions (API.md "Scheduled SQL"), as the database's admin: what they
// do, an agent's SQL can do too.

// cronCommands are `db9 db cron`.
type cronCommands struct{ *app }

func (a cronCommands) newCronCmd() *cobra.Command {
	cmd := newGroupCmd("cron", "Schedule SQL inside a database (pg_cron's cron.schedule)",
		`  db9 db cron myapp list
  db9 db cron myapp create --name nightly --schedule '0 3 * * *' --command 'vacuum analyze'
  db9 db cron myapp history nightly
  db9 db cron myapp disable nightly
  db9 db cron myapp delete nightly`)
	subs := []*cobra.Command{a.newCronListCmd(), a.newCronCreateCmd(), a.newCronDeleteCmd(), a.newCronHistoryCmd(),
		a.newCronActiveCmd("enable", true), a.newCronActiveCmd("disable", false)}
	cmd.AddCommand(subs...)
	// `db9 db cron <db> <action> ...` (API.md's order) as well as
	// `db9 db cron <action> [<db>] ...`.
	cmd.DisableFlagParsing = true
	group := cmd.RunE
	cmd.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) >= 2 {
			for _, sub := range subs {
				if sub.Name() != args[1] {
					continue
				}
				if err := sub.ParseFlags(args[2:]); err != nil {
					return usage(err, sub.CommandPath()+" --help")
				}
				rest := append([]string{args[0]}, sub.Flags().Args()...)
				if err := sub.ValidateArgs(rest); err != nil {
					return err
				}
				sub.SetContext(cmd.Context())
				return sub.RunE(sub, rest)
			}
		}
		if len(args) == 1 && (args[0] == "--help" || args[0] == "-h") {
			return cmd.Help()
		}
		return group(cmd, args)
	}
	return cmd
}

// cronSQL runs one query on the database and fails on an SQL error.
func (a cronCommands) cronSQL(ctx context.Context, s *session, db, query string, params ...any) (client.SQLResult, error) {
	r, err := s.c.Databases.SQL(ctx, db, client.SQLRequest{Query: query, Params: params})
	if err != nil {
		return r, a.notFoundDB(ctx, s, db, "", err)
	}
	if r.Error != nil {
		h := "see db9 db cron --help"
		if r.Error.Hint != "" {
			h = r.Error.Hint
		}
		return r, hint(r.Error, h)
	}
	return r, nil
}

// jobAndDB splits `[<db>] <job>`.
func (a cronCommands) jobAndDB(args []string) (db, job string, err error) {
	if len(args) == 2 {
		return args[0], args[1], nil
	}
	db, err = a.database(nil, 0)
	return db, args[0], err
}

// jobWhere selects a job by id (digits) or name.
const jobWhere = `(jobid::text = $1 OR jobname = $1)`

// CronJob is a row of cron.job as the CLI shows it.
type CronJob struct {
	JobID    int64  `json:"jobid"`
	JobName  string `json:"jobname"`
	Schedule string `json:"schedule"`
	Command  string `json:"command"`
	Username string `json:"username"`
	Active   bool   `json:"active"`
}

// CronRun is a row of cron.job_run_details as the CLI shows it.
type CronRun struct {
	RunID         int64   `json:"runid"`
	JobID         int64   `json:"jobid"`
	Status        string  `json:"status"`
	ReturnMessage string  `json:"return_message"`
	StartTime     string  `json:"start_time"`
	EndTime       *string `json:"end_time"`
}

// rowsAs decodes a result whose query built one JSON object per row.
func rowsAs[T any](r client.SQLResult) ([]T, error) {
	out := make([]T, 0, len(r.Rows))
	for _, row := range r.Rows {
		var v T
		var raw string
		if err := json.Unmarshal(row[0], &raw); err != nil {
			return nil, err
		}
		if err := json.Unmarshal([]byte(raw), &v); err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, nil
}

func (a cronCommands) newCronListCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "list [<db>]",
		Aliases: []string{"ls"},
		Short:   "List the scheduled jobs (cron.job)",
		Example: "  db9 db cron myapp list\n  db9 db cron list myapp --json",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			r, err := a.cronSQL(ctx, s, db, `SELECT json_build_object('jobid', jobid, 'jobname', coalesce(jobname, ''), 'schedule', schedule,
				'command', command, 'username', username, 'active', active)::text FROM cron.job ORDER BY jobid`)
			if err != nil {
				return err
			}
			jobs, err := rowsAs[CronJob](r)
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(jobs)
			}
			rows := make([][]string, len(jobs))
			for i, j := range jobs {
				rows[i] = []string{strconv.FormatInt(j.JobID, 10), j.JobName, j.Schedule, j.Command, j.Username, strconv.FormatBool(j.Active)}
			}
			writeList(a.stdout(), []string{"jobid", "name", "schedule", "command", "username", "active"}, rows)
			return nil
		}),
	}
}

func (a cronCommands) newCronCreateCmd() *cobra.Command {
	var name, schedule, command string
	cmd := &cobra.Command{
		Use:   "create [<db>] --name <job> --schedule <cron> --command <sql>",
		Short: "Schedule SQL (cron.schedule: replaces the job of the same name)",
		Long: "Schedules SQL to run as the database's admin on a five-field UTC schedule (or @hourly, @daily, ...).\n" +
			"A job of the same name is replaced. Jobs fire while the database is stopped for idleness.",
		Example: `  db9 db cron myapp create --name nightly --schedule '0 3 * * *' --command 'vacuum analyze'`,
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if name == "" || schedule == "" || command == "" {
				return usage(errors.New("--name, --schedule and --command are required"), "db9 db cron create --help")
			}
			db, s, err := a.databaseSession(ctx, args)
			if err != nil {
				return err
			}
			r, err := a.cronSQL(ctx, s, db, `SELECT cron.schedule($1, $2, $3)`, name, schedule, command)
			if err != nil {
				return err
			}
			id := valueText(r.Rows[0][0])
			if a.jsonOut() {
				return a.printJSON(map[string]any{"jobid": json.RawMessage(r.Rows[0][0]), "jobname": name})
			}
			fmt.Fprintf(a.stdout(), "Scheduled job %s (%s): %s\n", name, id, schedule)
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "job name (unique per role)")
	cmd.Flags().StringVar(&schedule, "schedule", "", "five-field cron schedule, UTC ('*/5 * * * *'), or @hourly, @daily, @weekly, @monthly, @yearly")
	cmd.Flags().StringVar(&command, "command", "", "the SQL to run")
	return cmd
}

func (a cronCommands) newCronDeleteCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "delete [<db>] <job name or id>",
		Aliases: []string{"rm"},
		Short:   "Unschedule a job (cron.unschedule)",
		Example: "  db9 db cron myapp delete nightly",
		Args:    rangeArgs(1, 2, "a job, optionally after the database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, job, err := a.jobAndDB(args)
			if err != nil {
				return err
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			r, err := a.cronSQL(ctx, s, db, `SELECT cron.unschedule(jobid) FROM cron.job WHERE `+jobWhere, job)
			if err != nil {
				return err
			}
			if len(r.Rows) == 0 {
				return hint(fmt.Errorf("no job %q in database %s", job, db), "db9 db cron "+db+" list shows its jobs")
			}
			if a.jsonOut() {
				return a.printJSON(map[string]string{"message": "unscheduled " + job})
			}
			fmt.Fprintf(a.stdout(), "Unscheduled job %s\n", job)
			return nil
		}),
	}
}

func (a cronCommands) newCronActiveCmd(verb string, active bool) *cobra.Command {
	return &cobra.Command{
		Use:     verb + " [<db>] <job name or id>",
		Short:   fmt.Sprintf("Turn a job %s (cron.alter_job active => %v)", map[bool]string{true: "on", false: "off"}[active], active),
		Example: fmt.Sprintf("  db9 db cron myapp %s nightly", verb),
		Args:    rangeArgs(1, 2, "a job, optionally after the database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, job, err := a.jobAndDB(args)
			if err != nil {
				return err
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			r, err := a.cronSQL(ctx, s, db, `SELECT cron.alter_job(jobid, active => $2) FROM cron.job WHERE `+jobWhere, job, active)
			if err != nil {
				return err
			}
			if len(r.Rows) == 0 {
				return hint(fmt.Errorf("no job %q in database %s", job, db), "db9 db cron "+db+" list shows its jobs")
			}
			if a.jsonOut() {
				return a.printJSON(map[string]any{"job": job, "active": active})
			}
			fmt.Fprintf(a.stdout(), "Job %s %sd\n", job, verb)
			return nil
		}),
	}
}

func (a cronCommands) newCronHistoryCmd() *cobra.Command {
	var limit int
	cmd := &cobra.Command{
		Use:     "history [<db>] [<job name or id>]",
		Short:   "Show recent runs (cron.job_run_details), newest first",
		Example: "  db9 db cron myapp history\n  db9 db cron myapp history nightly --limit 5 --json",
		Args:    maxArgs(2, "a database and a job"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			var db, job string
			var err error
			if len(args) == 2 {
				db, job = args[0], args[1]
			} else if db, err = a.database(args, 0); err != nil {
				return err
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			if limit < 1 || limit > 1000 {
				return usage(errors.New("--limit must be between 1 and 1000"), "db9 db cron history --help")
			}
			r, err := a.cronSQL(ctx, s, db, `SELECT json_build_object('runid', d.runid, 'jobid', d.jobid, 'status', d.status,
				'return_message', coalesce(d.return_message, ''), 'start_time', d.start_time, 'end_time', d.end_time)::text
				FROM cron.job_run_details d
				WHERE $1 = '' OR d.jobid IN (SELECT jobid FROM cron.job WHERE `+jobWhere+`) OR d.jobid::text = $1
				ORDER BY d.runid DESC LIMIT $2`, job, limit)
			if err != nil {
				return err
			}
			runs, err := rowsAs[CronRun](r)
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(runs)
			}
			rows := make([][]string, len(runs))
			for i, run := range runs {
				rows[i] = []string{strconv.FormatInt(run.RunID, 10), strconv.FormatInt(run.JobID, 10), run.Status, run.StartTime, deref(run.EndTime), run.ReturnMessage}
			}
			writeList(a.stdout(), []string{"runid", "jobid", "status", "started", "ended", "message"}, rows)
			return nil
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 20, "runs to show (1-1000)")
	return cmd
}

func rangeArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if len(args) < lo || len(args) > hi {
			return usage(fmt.Errorf("want %s", what), cmd.CommandPath()+" --help")
		}
		return nil
	}
}
