package cli

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/client"
)

func TestSQLCompleter_Do(t *testing.T) {
	c := &sqlCompleter{}
	c.set(client.Schema{
		Tables: []client.Table{
			{Schema: "public", Name: "orders", Columns: []client.Column{{Name: "id"}, {Name: "ordered_at"}}},
			{Schema: "public", Name: "order_lines", Columns: []client.Column{{Name: "order_id"}, {Name: "qty"}}},
			{Schema: "sales", Name: "quotas", Columns: []client.Column{{Name: "quarter"}}},
		},
		Views: []client.View{{Schema: "public", Name: "open_orders", Columns: []client.Column{{Name: "id"}}}},
	})
	tests := []struct {
		name, line string
		want       []string
	}{
		{"table after from", "select * from ord", []string{"order_lines", "orders"}},
		{"table and schema after from, nothing typed", "select * from ", []string{"open_orders", "order_lines", "orders", "quotas", "sales."}},
		{"view after join", "select 1 from orders join op", []string{"open_orders"}},
		{"columns, tables and keywords elsewhere", "select or", []string{"or", "order", "order_id", "order_lines", "ordered_at", "orders"}},
		{"keywords in upper case when typed so", "SEL", []string{"SELECT"}},
		{"keywords keep the typed case of a mixed word", "Sel", []string{"Select"}},
		{"columns of a table", "select orders.", []string{"orders.id", "orders.ordered_at"}},
		{"columns of a qualified table", "select public.order_lines.q", []string{"public.order_lines.qty"}},
		{"tables of a schema", "select * from sales.", []string{"sales.quotas"}},
		{"case of a name folded", "select * from ORD", []string{"ORDer_lines", "ORDers"}},
		{"backslash d", `\d ord`, []string{"order_lines", "orders"}},
		{"nothing typed outside a table context", "select ", nil},
		{"no match", "select zzz", nil},
		{"after a parenthesis", "select count(qt", []string{"qty"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			line := []rune(tt.line)
			ends, n := c.Do(line, len(line))
			var got []string
			for _, e := range ends {
				got = append(got, string(line[len(line)-n:])+string(e))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Do(%q) (-want +got):\n%s", tt.line, diff)
			}
		})
	}
	// The cursor in the middle of the line completes the word before it.
	line := []rune("select * from ord where")
	ends, n := c.Do(line, len("select * from ord"))
	if n != 3 || len(ends) != 2 {
		t.Errorf("Do in the middle: %q, %d", ends, n)
	}
}

func TestSQLCompleter_SetReplacesNames(t *testing.T) {
	c := &sqlCompleter{}
	c.set(client.Schema{Tables: []client.Table{{Schema: "public", Name: "old_table"}}})
	c.set(client.Schema{Tables: []client.Table{{Schema: "public", Name: "new_table"}}})
	if got := c.candidates("", "from"); !cmp.Equal(got, []string{"new_table"}) {
		t.Errorf("after a refresh: %q", got)
	}
}

func TestChangesSchema(t *testing.T) {
	for stmt, want := range map[string]bool{
		"create table t (x int);":             true,
		"  ALTER TABLE t ADD y int;":          true,
		"begin; drop view v; commit;":         true,
		"select 1;":                           false,
		"insert into t values ('create');":    false,
		"import foreign schema s from server": true,
	} {
		if got := changesSchema(stmt); got != want {
			t.Errorf("changesSchema(%q) = %v", stmt, got)
		}
	}
}
