package cli

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

func (a functionsCommands) newFnInvokeCmd() *cobra.Command {
	var input, key string
	cmd := &cobra.Command{
		Use:   "invoke <function> [--input <json>|-] [--idempotency-key <key>]",
		Short: "Run a function and print its run (exits 1 when the run failed or timed out)",
		Long: "Runs the function synchronously with input as its first argument and prints the run:\n" +
			"status, duration and the result. The same --idempotency-key within 24 hours returns the\n" +
			"first run instead of running again.",
		Example: `  db9 functions invoke hello --input '{"name":"ada"}'
  echo '{"name":"ada"}' | db9 functions invoke hello --input -
  db9 functions invoke charge --input @order.json --idempotency-key order-1234`,
		Args: exactArgs(1, "a function (name or id)"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			raw, err := a.invokeInput(input)
			if err != nil {
				return err
			}
			db, s, err := a.databaseSession(ctx, nil)
			if err != nil {
				return err
			}
			run, err := s.c.Functions.Invoke(ctx, db, args[0], raw, key)
			if err != nil {
				return a.fnNotFound(ctx, s, db, args[0], err)
			}
			ended := run.Status == client.RunFailed || run.Status == client.RunTimedOut
			if a.jsonOut() {
				if err := a.printJSON(run); err != nil {
					return err
				}
				if ended {
					return &exitStatus{code: 1}
				}
				return nil
			}
			writeFields(a.stdout(), runFields(run))
			if run.ResultJSON != nil {
				fmt.Fprintln(a.stdout(), "Result:")
				fmt.Fprintln(a.stdout(), prettyJSON(*run.ResultJSON))
			}
			if ended {
				return hint(fmt.Errorf("run %s %s: %s", run.ID, run.Status, deref(run.Error)),
					fmt.Sprintf("`db9 functions logs %s %s` shows what it printed", args[0], run.ID))
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&input, "input", "", "the handler's input: JSON, - to read it from stdin, or @file")
	cmd.Flags().StringVar(&key, "idempotency-key", "", "key making a retried invoke return the first run")
	return cmd
}

// invokeInput reads and checks --input; "" is no input.
func (a functionsCommands) invokeInput(input string) (json.RawMessage, error) {
	var b []byte
	switch {
	case input == "":
		return nil, nil
	case input == "-":
		r, err := io.ReadAll(a.stdin())
		if err != nil {
			return nil, fmt.Errorf("read the input from stdin: %w", err)
		}
		b = r
	case strings.HasPrefix(input, "@"):
		r, err := os.ReadFile(input[1:])
		if err != nil {
			return nil, hint(fmt.Errorf("cannot read the input: %w", err), "--input @file takes a JSON file")
		}
		b = r
	default:
		b = []byte(input)
	}
	b = bytes.TrimSpace(b)
	if !json.Valid(b) {
		return nil, usage(errors.New("--input is not valid JSON"), `quote it for the shell, e.g. --input '{"name":"ada"}'`)
	}
	return b, nil
}

func runFields(r client.Run) [][2]string {
	f := [][2]string{{"Run", r.ID}, {"Status", r.Status}, {"Trigger", r.TriggerType}}
	if r.DurationMS != nil {
		f = append(f, [2]string{"Duration", strconv.FormatInt(*r.DurationMS, 10) + " ms"})
	}
	f = append(f, [2]string{"Started", fmtTimePtr(r.StartedAt)})
	if r.Error != nil {
		f = append(f, [2]string{"Error", *r.Error})
	}
	return f
}

// prettyJSON indents a JSON text; anything else comes back as it is.
func prettyJSON(s string) string {
	var buf bytes.Buffer
	if json.Indent(&buf, []byte(s), "", "  ") != nil {
		return s
	}
	return buf.String()
}

func (a functionsCommands) newFnHistoryCmd() *cobra.Command {
	var limit int
	var status string
	cmd := &cobra.Command{
		Use:     "history <function>",
		Aliases: []string{"runs"},
		Short:   "List a function's runs, newest first",
		Example: "  db9 functions history hello\n  db9 functions history hello --status failed --limit 5 --json",
		Args:    exactArgs(1, "a function (name or id)"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			if limit < 1 || limit > 1000 {
				return usage(errors.New("--limit must be between 1 and 1000"), "db9 functions history --help")
			}
			switch status {
			case "", client.RunQueued, client.RunRunning, client.RunSucceeded, client.RunFailed, client.RunTimedOut:
			default:
				return usage(fmt.Errorf("--status %q: want queued, running, succeeded, failed or timed_out", status), "db9 functions history --help")
			}
			db, s, err := a.databaseSession(ctx, nil)
			if err != nil {
				return err
			}
			runs, err := s.c.Functions.ListRuns(ctx, db, args[0], limit, status)
			if err != nil {
				return a.fnNotFound(ctx, s, db, args[0], err)
			}
			return printList(a.app, runs, "No runs.", []string{"run", "status", "trigger", "ms", "started", "error"}, func(r client.Run) []string {
				d := ""
				if r.DurationMS != nil {
					d = strconv.FormatInt(*r.DurationMS, 10)
				}
				return []string{r.ID, r.Status, r.TriggerType, d, fmtTimePtr(r.StartedAt), deref(r.Error)}
			})
		}),
	}
	cmd.Flags().IntVar(&limit, "limit", 50, "runs to show (1-1000)")
	cmd.Flags().StringVar(&status, "status", "", "only runs in this state: queued, running, succeeded, failed, timed_out")
	return cmd
}

func (a functionsCommands) newFnLogsCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "logs <function> <run id>",
		Short:   "Print what a run logged (console.*), in order",
		Example: "  db9 functions logs hello 7b0c…\n  db9 functions logs hello 7b0c… --json",
		Args:    exactArgs(2, "a function and a run id"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, s, err := a.databaseSession(ctx, nil)
			if err != nil {
				return err
			}
			logs, err := s.c.Functions.RunLogs(ctx, db, args[0], args[1])
			if err != nil {
				if client.IsNotFound(err) {
					if _, ferr := s.c.Functions.Get(ctx, db, args[0]); ferr == nil {
						return hint(fmt.Errorf("run %q of function %s not found", args[1], args[0]),
							"`db9 functions history "+args[0]+"` lists its runs")
					}
				}
				return a.fnNotFound(ctx, s, db, args[0], err)
			}
			if a.jsonOut() {
				if logs == nil {
					logs = []client.RunLog{}
				}
				return a.printJSON(logs)
			}
			for _, l := range logs {
				fmt.Fprintf(a.stdout(), "%s %-5s %s\n", l.TS.UTC().Format("15:04:05.000"), l.Level, l.Message)
			}
			return nil
		}),
	}
}
