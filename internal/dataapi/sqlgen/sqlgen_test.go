package sqlgen

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
)

// The SQL itself is checked against real PostgreSQL by package dataapi's
// tests; these pin what this package promises on its own: values never
// reach SQL text, visibility is enforced while planning, and the errors of
// planning and of limited writes carry PostgREST's codes.

func testSchema() *schema.Schema {
	text := schema.Type{Schema: "pg_catalog", Name: "text"}
	int8 := schema.Type{Schema: "pg_catalog", Name: "int8"}
	authors := &schema.Table{Schema: "public", Name: "authors", Kind: "r", PK: []string{"id"},
		Columns: []*schema.Column{{Name: "id", Type: int8}, {Name: "name", Type: text}}}
	posts := &schema.Table{Schema: "public", Name: "posts", Kind: "r", PK: []string{"id"},
		Columns: []*schema.Column{{Name: "id", Type: int8}, {Name: "author_id", Type: int8}, {Name: "editor_id", Type: int8}, {Name: "title", Type: text}}}
	secrets := &schema.Table{Schema: "public", Name: "secrets", Kind: "r", PK: []string{"id"},
		Columns: []*schema.Column{{Name: "id", Type: int8}, {Name: "post_id", Type: int8}}}
	view := &schema.Table{Schema: "public", Name: "titles", Kind: "v", Columns: []*schema.Column{{Name: "title", Type: text}}}
	sc := &schema.Schema{Tables: map[schema.QName]*schema.Table{}, Rels: map[schema.QName][]*schema.Relationship{}}
	for _, t := range []*schema.Table{authors, posts, secrets, view} {
		sc.Tables[t.QName()] = t
	}
	rel := func(from, to *schema.Table, card schema.Cardinality, con string, cols, fcols []string) {
		sc.Rels[from.QName()] = append(sc.Rels[from.QName()], &schema.Relationship{Table: from.QName(), Foreign: to.QName(),
			Card: card, Constraint: con, Cols: cols, FCols: fcols})
	}
	// Two foreign keys from posts to authors make `authors` ambiguous.
	rel(posts, authors, schema.ManyToOne, "posts_author_id_fkey", []string{"author_id"}, []string{"id"})
	rel(posts, authors, schema.ManyToOne, "posts_editor_id_fkey", []string{"editor_id"}, []string{"id"})
	rel(authors, posts, schema.OneToMany, "posts_author_id_fkey", []string{"id"}, []string{"author_id"})
	rel(posts, secrets, schema.OneToMany, "secrets_post_id_fkey", []string{"id"}, []string{"post_id"})
	return sc
}

// visibleExceptSecrets is a request that may not reach public.secrets.
func visibleExceptSecrets(q schema.QName) bool { return q.Name != "secrets" }

func plan(t *testing.T, sc *schema.Schema, table, query string) (*Builder, *Node, error) {
	t.Helper()
	pairs, err := pgrst.SplitQuery(query)
	if err != nil {
		t.Fatalf("split %q: %v", query, err)
	}
	q, err := pgrst.ParseQuery(pairs, nil)
	if err != nil {
		t.Fatalf("parse %q: %v", query, err)
	}
	b := &Builder{}
	tb := sc.Table(schema.QName{Schema: "public", Name: table})
	n, err := Plan(b, sc, visibleExceptSecrets, tb, table, q)
	return b, n, err
}

func code(err error) string {
	var pe *pgrst.Error
	if errors.As(err, &pe) {
		return pe.Code
	}
	return ""
}

func TestRenderKeepsValuesOutOfSQL(t *testing.T) {
	sc := testSchema()
	evil := `x'); DROP TABLE authors; --`
	b, n, err := plan(t, sc, "authors", "select=name,posts(title)&name=eq."+evil+"&posts.title=in.(a,b)&order=name.desc&limit=5")
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	sp, err := b.Render(n, nil, nil)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	sql := sp.SQL(QualifiedName(schema.QName{Schema: "public", Name: "authors"})+" AS "+Ident("authors"), true)
	if strings.Contains(sql, "DROP") {
		t.Fatalf("a filter value reached the SQL text: %s", sql)
	}
	args := b.Args()
	var got []string
	for _, a := range args {
		got = append(got, string(a))
	}
	for _, want := range []string{evil, `{"a","b"}`, "5"} {
		if !slices.Contains(got, want) {
			t.Errorf("parameters %q lack %q", got, want)
		}
	}
	if !strings.Contains(sql, "$"+strconv.Itoa(len(args))) || strings.Contains(sql, "$"+strconv.Itoa(len(args)+1)) {
		t.Errorf("placeholders do not match the %d parameters: %s", len(args), sql)
	}
}

func TestPlanEmbedding(t *testing.T) {
	sc := testSchema()
	if _, _, err := plan(t, sc, "posts", "select=*,secrets(*)"); code(err) != "PGRST200" {
		t.Errorf("embedding an invisible table: got %v (%s), want PGRST200", err, code(err))
	}
	if _, _, err := plan(t, sc, "posts", "select=*,authors(*)"); code(err) != "PGRST201" {
		t.Errorf("ambiguous embed: got %v (%s), want PGRST201", err, code(err))
	}
	if _, _, err := plan(t, sc, "posts", "select=*,authors!posts_editor_id_fkey(name)"); err != nil {
		t.Errorf("embed with a hint: %v", err)
	}
	if _, _, err := plan(t, sc, "authors", "select=nope"); code(err) != "42703" {
		t.Errorf("unknown column: got %v (%s), want 42703", err, code(err))
	}
}

func TestMutationWhereLimits(t *testing.T) {
	sc := testSchema()
	for _, tc := range []struct{ table, query, code string }{
		{"authors", "name=eq.x&limit=1", "PGRST109"},
		{"titles", "limit=1&order=title", "PGRST100"},
		{"authors", "name=eq.x&limit=1&order=name", ""},
	} {
		b, n, err := plan(t, sc, tc.table, tc.query)
		if err != nil {
			t.Fatalf("plan %s?%s: %v", tc.table, tc.query, err)
		}
		where, err := b.MutationWhere(n, sc.Table(schema.QName{Schema: "public", Name: tc.table}))
		if code(err) != tc.code || (tc.code == "" && err != nil) {
			t.Errorf("%s?%s: got %v (%q), want code %q", tc.table, tc.query, err, code(err), tc.code)
		}
		if tc.code == "" && !strings.Contains(where, ".ctid) IN (SELECT") {
			t.Errorf("%s?%s: a limited write picks rows by ctid, got %q", tc.table, tc.query, where)
		}
	}
}
