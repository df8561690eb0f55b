package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"golang.org/x/text/width"

	"github.com/db9/db9/internal/client"
)

// textWidth is the number of terminal cells s takes.
func textWidth(s string) int {
	n := 0
	for _, r := range s {
		switch width.LookupRune(r).Kind() {
		case width.EastAsianWide, width.EastAsianFullwidth:
			n += 2
		default:
			n++
		}
	}
	return n
}

func pad(s string, w int, right bool) string {
	fill := strings.Repeat(" ", max(0, w-textWidth(s)))
	if right {
		return fill + s
	}
	return s + fill
}

// cell makes a value printable on one line.
func cell(s string) string {
	return strings.NewReplacer("\r\n", `\n`, "\n", `\n`, "\r", `\r`, "\t", `\t`).Replace(s)
}

// printList is the output of a listing command: with --json the items
// (an empty array, never null), else a note when there are none (empty
// "": the bare table) or a table of row(item) under headers.
func printList[T any](a *app, items []T, empty string, headers []string, row func(T) []string) error {
	if a.jsonOut() {
		if items == nil {
			items = []T{}
		}
		return a.printJSON(items)
	}
	if len(items) == 0 && empty != "" {
		a.note("%s", empty)
		return nil
	}
	rows := make([][]string, len(items))
	for i, it := range items {
		rows[i] = row(it)
	}
	writeList(a.stdout(), headers, rows)
	return nil
}

// writeList prints rows under upper-case headers, columns aligned by two
// spaces (the kubectl/neonctl look for resource lists).
func writeList(w io.Writer, headers []string, rows [][]string) {
	widths := make([]int, len(headers))
	for i, h := range headers {
		widths[i] = textWidth(h)
	}
	for _, r := range rows {
		for i, c := range r {
			widths[i] = max(widths[i], textWidth(cell(c)))
		}
	}
	line := func(cells []string) {
		var b strings.Builder
		for i, c := range cells {
			if i == len(cells)-1 {
				b.WriteString(cell(c))
			} else {
				b.WriteString(pad(cell(c), widths[i], false) + "  ")
			}
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	up := make([]string, len(headers))
	for i, h := range headers {
		up[i] = strings.ToUpper(h)
	}
	line(up)
	for _, r := range rows {
		line(r)
	}
}

// writeFields prints label: value pairs with the values aligned.
func writeFields(w io.Writer, fields [][2]string) {
	n := 0
	for _, f := range fields {
		n = max(n, textWidth(f[0]))
	}
	for _, f := range fields {
		fmt.Fprintf(w, "%s %s\n", pad(f[0]+":", n+1, false), cell(f[1]))
	}
}

// numericTypes are right-aligned in SQL results, as psql does.
var numericTypes = map[string]bool{"int2": true, "int4": true, "int8": true, "float4": true, "float8": true,
	"numeric": true, "oid": true, "money": true}

// writeResult prints an SQL result the way psql does: an aligned table
// with a header rule and a row count, or the command tag.
func writeResult(w io.Writer, r client.SQLResult) {
	if len(r.Columns) == 0 {
		fmt.Fprintln(w, commandTag(r))
		return
	}
	headers := make([]string, len(r.Columns))
	widths := make([]int, len(r.Columns))
	for i, c := range r.Columns {
		headers[i] = c.Name
		widths[i] = textWidth(c.Name)
	}
	rows := make([][]string, len(r.Rows))
	for i, row := range r.Rows {
		rows[i] = make([]string, len(r.Columns))
		for j := range r.Columns {
			if j < len(row) {
				rows[i][j] = cell(valueText(row[j]))
			}
			widths[j] = max(widths[j], textWidth(rows[i][j]))
		}
	}
	var b strings.Builder
	for i, h := range headers {
		if i > 0 {
			b.WriteString("|")
		}
		// psql centres headers.
		left := (widths[i] - textWidth(h)) / 2
		b.WriteString(" " + pad(strings.Repeat(" ", left)+h, widths[i], false) + " ")
	}
	fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	b.Reset()
	for i := range headers {
		if i > 0 {
			b.WriteString("+")
		}
		b.WriteString(strings.Repeat("-", widths[i]+2))
	}
	fmt.Fprintln(w, b.String())
	for _, row := range rows {
		b.Reset()
		for j, v := range row {
			if j > 0 {
				b.WriteString("|")
			}
			b.WriteString(" " + pad(v, widths[j], numericTypes[r.Columns[j].Type]) + " ")
		}
		fmt.Fprintln(w, strings.TrimRight(b.String(), " "))
	}
	if len(r.Rows) == 1 {
		fmt.Fprintln(w, "(1 row)")
	} else {
		fmt.Fprintf(w, "(%d rows)\n", len(r.Rows))
	}
}

// commandTag is psql's line for a statement without a result set.
func commandTag(r client.SQLResult) string {
	switch {
	case r.Command == "":
		return "OK"
	case r.Command == "INSERT" && r.RowCount >= 0:
		return fmt.Sprintf("INSERT 0 %d", r.RowCount)
	case r.RowCount >= 0 && (r.Command == "UPDATE" || r.Command == "DELETE" || r.Command == "MERGE" ||
		r.Command == "SELECT" || r.Command == "COPY" || r.Command == "MOVE" || r.Command == "FETCH"):
		return fmt.Sprintf("%s %d", r.Command, r.RowCount)
	}
	return r.Command
}

// valueText is how a JSON value of a result shows in a table: strings
// without quotes, NULL as empty (as psql shows it), the rest as JSON.
func valueText(v json.RawMessage) string {
	s := strings.TrimSpace(string(v))
	if s == "null" || s == "" {
		return ""
	}
	if strings.HasPrefix(s, `"`) {
		var str string
		if json.Unmarshal(v, &str) == nil {
			return str
		}
	}
	return s
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05Z")
}

func fmtTimePtr(t *time.Time) string {
	if t == nil {
		return ""
	}
	return fmtTime(*t)
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
