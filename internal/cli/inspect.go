package cli

import (
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/db9/db9/internal/client"
)

// inspectCommands are `db9 db inspect`: a database's schemas and tables,
// its figures and top queries.
type inspectCommands struct{ *app }

func (a inspectCommands) newInspectCmd() *cobra.Command {
	cmd := newGroupCmd("inspect", "Look at a database's schemas, tables, figures and top queries",
		`  db9 db inspect schemas myapp
  db9 db inspect tables myapp --schema public
  db9 db inspect summary myapp --window 24h
  db9 db inspect queries myapp --slow`)
	var schema string
	tables := &cobra.Command{
		Use:   "tables [<db>]",
		Short: "List tables and views with their columns and estimated rows",
		Example: `  db9 db inspect tables myapp
  db9 db inspect tables myapp --schema public --json`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			sc, err := a.fetchSchema(cmd, args)
			if err != nil {
				return err
			}
			var rows [][]string
			var out client.Schema
			for _, t := range sc.Tables {
				if schema == "" || t.Schema == schema {
					out.Tables = append(out.Tables, t)
					rows = append(rows, []string{t.Schema, t.Name, "table", fmt.Sprint(len(t.Columns)),
						strings.Join(t.PrimaryKey, ","), fmt.Sprintf("%.0f", max(t.RowEstimate, 0))})
				}
			}
			for _, v := range sc.Views {
				if schema == "" || v.Schema == schema {
					out.Views = append(out.Views, v)
					kind := "view"
					if v.Materialized {
						kind = "materialized view"
					}
					rows = append(rows, []string{v.Schema, v.Name, kind, fmt.Sprint(len(v.Columns)), "", ""})
				}
			}
			if a.jsonOut() {
				return a.printJSON(out)
			}
			if len(rows) == 0 {
				a.note("No tables.")
				return nil
			}
			writeList(a.stdout(), []string{"schema", "name", "kind", "columns", "primary key", "rows (est.)"}, rows)
			return nil
		}),
	}
	tables.Flags().StringVar(&schema, "schema", "", "only this schema")
	schemas := &cobra.Command{
		Use:     "schemas [<db>]",
		Short:   "List schemas with their numbers of tables and views",
		Example: "  db9 db inspect schemas myapp",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			sc, err := a.fetchSchema(cmd, args)
			if err != nil {
				return err
			}
			type counts struct {
				Name   string `json:"name"`
				Tables int    `json:"tables"`
				Views  int    `json:"views"`
			}
			by := map[string]*counts{}
			get := func(n string) *counts {
				if by[n] == nil {
					by[n] = &counts{Name: n}
				}
				return by[n]
			}
			for _, t := range sc.Tables {
				get(t.Schema).Tables++
			}
			for _, v := range sc.Views {
				get(v.Schema).Views++
			}
			list := make([]counts, 0, len(by))
			for _, c := range by {
				list = append(list, *c)
			}
			sort.Slice(list, func(i, j int) bool { return list[i].Name < list[j].Name })
			if a.jsonOut() {
				return a.printJSON(list)
			}
			rows := make([][]string, len(list))
			for i, c := range list {
				rows[i] = []string{c.Name, fmt.Sprint(c.Tables), fmt.Sprint(c.Views)}
			}
			writeList(a.stdout(), []string{"schema", "tables", "views"}, rows)
			return nil
		}),
	}
	cmd.AddCommand(schemas, tables)
	cmd.AddCommand(a.newInspectFiguresCmds()...)
	return cmd
}

func (a inspectCommands) fetchSchema(cmd *cobra.Command, args []string) (client.Schema, error) {
	ctx := cmd.Context()
	db, err := a.database(args, 0)
	if err != nil {
		return client.Schema{}, err
	}
	s, err := a.authed(ctx, false)
	if err != nil {
		return client.Schema{}, err
	}
	sc, err := s.c.Databases.Schema(ctx, db)
	if err != nil {
		return sc, a.notFoundDB(ctx, s, db, "schema inspection", err)
	}
	return sc, nil
}

// newInspectFiguresCmds are the inspect subcommands over the database's
// observability figures (summary, queries) and its table sizes.
func (a inspectCommands) newInspectFiguresCmds() []*cobra.Command {
	var window time.Duration
	var limit int
	var slow bool
	figures := func(cmd *cobra.Command, args []string) (client.Observability, error) {
		ctx := cmd.Context()
		if window < time.Minute || window > 7*24*time.Hour || window%time.Second != 0 {
			return client.Observability{}, usage(fmt.Errorf("--window %s: must be whole seconds from 1m to 168h", window), "db9 db inspect "+cmd.Name()+" --help")
		}
		db, err := a.database(args, 0)
		if err != nil {
			return client.Observability{}, err
		}
		s, err := a.authed(ctx, false)
		if err != nil {
			return client.Observability{}, err
		}
		o, err := s.c.Observability.Get(ctx, db, int(window.Seconds()))
		if err != nil {
			return o, a.notFoundDB(ctx, s, db, "observability", err)
		}
		return o, nil
	}
	summary := &cobra.Command{
		Use:   "summary [<db>]",
		Short: "Throughput, latency, errors, connections and storage over a window",
		Example: `  db9 db inspect summary myapp
  db9 db inspect summary myapp --window 24h --json`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			o, err := figures(cmd, args)
			if err != nil {
				return err
			}
			if a.jsonOut() {
				return a.printJSON(o.Summary)
			}
			sm := o.Summary
			busiest := "-"
			var peak float64
			for _, s := range o.Samples {
				if s.QPS > peak {
					peak, busiest = s.QPS, s.TS.Local().Format("2006-01-02 15:04")
				}
			}
			rows := [][]string{
				{"window", (time.Duration(sm.WindowSeconds) * time.Second).String()},
				{"statements", fmt.Sprintf("%d (%.2f/s; busiest minute %s, %.2f/s)", sm.StatementCount, sm.QPS, busiest, peak)},
				{"commits", fmt.Sprintf("%d (%.2f/s)", sm.TxnCommitCount, sm.TPS)},
				{"latency", fmt.Sprintf("avg %.3f ms, p99 %.3f ms (estimated)", sm.LatencyAvgMS, sm.LatencyP99MS)},
				{"errors", fmt.Sprint(sm.ErrorCount)},
				{"connections now", fmt.Sprint(sm.ActiveConnections)},
				{"database size", humanBytes(sm.DBStorageBytes)},
				{"files (fs9)", humanBytes(sm.FSLogicalBytes)},
			}
			writeList(a.stdout(), []string{"figure", "value"}, rows)
			return nil
		}),
	}
	queries := &cobra.Command{
		Use:   "queries [<db>]",
		Short: "Top statements by total time over a window (--slow: by mean time)",
		Example: `  db9 db inspect queries myapp
  db9 db inspect queries myapp --slow --limit 5 --window 24h`,
		Args: maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			o, err := figures(cmd, args)
			if err != nil {
				return err
			}
			qs := o.TopQueries
			if slow {
				sort.SliceStable(qs, func(i, j int) bool { return qs[i].MeanMS > qs[j].MeanMS })
			}
			if limit > 0 && len(qs) > limit {
				qs = qs[:limit]
			}
			if a.jsonOut() {
				return a.printJSON(qs)
			}
			if len(qs) == 0 {
				a.note("No statements in this window.")
				return nil
			}
			rows := make([][]string, len(qs))
			for i, q := range qs {
				rows[i] = []string{fmt.Sprint(q.Calls), fmt.Sprintf("%.2f", q.TotalMS), fmt.Sprintf("%.3f", q.MeanMS), fmt.Sprint(q.Rows), foldQuery(q.Query, 80)}
			}
			writeList(a.stdout(), []string{"calls", "total ms", "mean ms", "rows", "query"}, rows)
			return nil
		}),
	}
	for _, c := range []*cobra.Command{summary, queries} {
		c.Flags().DurationVar(&window, "window", time.Hour, "how far back (1m to 168h)")
	}
	queries.Flags().IntVar(&limit, "limit", 20, "at most this many statements")
	queries.Flags().BoolVar(&slow, "slow", false, "order by mean time instead of total time")

	sizes := &cobra.Command{
		Use:     "table-sizes [<db>]",
		Short:   "Tables by total size (table, indexes and TOAST)",
		Example: "  db9 db inspect table-sizes myapp",
		Args:    maxArgs(1, "one database"),
		RunE: a.run(func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			db, err := a.database(args, 0)
			if err != nil {
				return err
			}
			s, err := a.authed(ctx, false)
			if err != nil {
				return err
			}
			res, err := s.c.Databases.SQL(ctx, db, client.SQLRequest{Query: tableSizesSQL})
			if err != nil {
				return a.notFoundDB(ctx, s, db, "table sizes", err)
			}
			if res.Error != nil {
				return fmt.Errorf("table sizes: %s", res.Error.Message)
			}
			type size struct {
				Schema     string `json:"schema"`
				Table      string `json:"table"`
				TotalBytes int64  `json:"total_bytes"`
				TableBytes int64  `json:"table_bytes"`
				IndexBytes int64  `json:"index_bytes"`
			}
			out := make([]size, 0, len(res.Rows))
			rows := make([][]string, 0, len(res.Rows))
			for _, r := range res.Rows {
				var z size
				if len(r) != 5 {
					continue
				}
				z.Schema, z.Table = unquoteJSON(r[0]), unquoteJSON(r[1])
				fmt.Sscan(unquoteJSON(r[2]), &z.TotalBytes)
				fmt.Sscan(unquoteJSON(r[3]), &z.TableBytes)
				fmt.Sscan(unquoteJSON(r[4]), &z.IndexBytes)
				out = append(out, z)
				rows = append(rows, []string{z.Schema, z.Table, humanBytes(z.TotalBytes), humanBytes(z.TableBytes), humanBytes(z.IndexBytes)})
			}
			if a.jsonOut() {
				return a.printJSON(out)
			}
			if len(rows) == 0 {
				a.note("No tables.")
				return nil
			}
			writeList(a.stdout(), []string{"schema", "table", "total", "table", "indexes"}, rows)
			return nil
		}),
	}
	return []*cobra.Command{summary, queries, sizes}
}

// tableSizesSQL lists the customer's tables by total size (the platform's
// own schemas left out).
const tableSizesSQL = `select n.nspname, c.relname, pg_total_relation_size(c.oid)::text, pg_relation_size(c.oid)::text, pg_indexes_size(c.oid)::text
from pg_class c join pg_namespace n on n.oid = c.relnamespace
where c.relkind in ('r', 'p', 'm') and n.nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'auth', 'extensions', 'cron')
  and n.nspname not like '\_db9%' and n.nspname not like 'pg\_temp%'
order by pg_total_relation_size(c.oid) desc, 1, 2 limit 100`

// humanBytes shows a byte count in binary units.
func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// foldQuery folds whitespace and cuts a statement to width runes.
func foldQuery(s string, width int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > width {
		return string(r[:width-1]) + "…"
	}
	return s
}

// unquoteJSON turns a JSON string value into its text (other values as
// they are).
func unquoteJSON(b []byte) string {
	s := string(b)
	if len(s) >= 2 && s[0] == '"' {
		return strings.ReplaceAll(strings.ReplaceAll(s[1:len(s)-1], `\"`, `"`), `\\`, `\`)
	}
	return s
}
