package sqlgen

import (
	"fmt"
	"slices"
	"strings"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
)

// Node is one level of a read: a relation, what is selected from it and
// the parameters addressed to it, with its embedded children.
type Node struct {
	table *schema.Table // nil for an RPC result of unknown shape
	alias string
	path  string
	items []pgrst.SelectItem
	// Params are the filters, order and paging addressed to this level;
	// a caller may replace them before rendering (a write's representation
	// is read back unfiltered).
	Params *pgrst.Node
	embeds []*embedNode
}

type embedNode struct {
	e     *pgrst.Embed
	rel   *schema.Relationship
	child *Node
	lat   string
	inner bool
	// isNull is "null" or "not_null" for a `rel=is.null` filter.
	isNull string
}

func (n *Node) tableName() string {
	if n.table == nil {
		return n.alias
	}
	return n.table.Name
}

// column checks a column name against the relation.
func (n *Node) column(name string) (*schema.Column, error) {
	if n.table == nil {
		return nil, nil
	}
	if c := n.table.Column(name); c != nil {
		return c, nil
	}
	return nil, &pgrst.Error{Status: 400, Code: "42703",
		Message: fmt.Sprintf("column %s.%s does not exist", n.tableName(), name)}
}

// planner resolves names against what one request may see.
type planner struct {
	sc      *schema.Schema
	visible func(schema.QName) bool
}

// Plan resolves the select tree of q for the relation t (nil for an RPC
// result of unknown shape), named alias in SQL, against the schema cache:
// columns exist, every embedded resource is reachable through one
// relationship and is visible (a relation visible rejects is reported
// exactly as a missing one).
func Plan(b *Builder, sc *schema.Schema, visible func(schema.QName) bool, t *schema.Table, alias string, q *pgrst.Query) (*Node, error) {
	return (&planner{sc: sc, visible: visible}).plan(b, t, alias, "", q.Select, q)
}

// plan resolves one level of the select tree and, recursively, its embeds.
func (s *planner) plan(b *Builder, t *schema.Table, alias, path string, items []pgrst.SelectItem, q *pgrst.Query) (*Node, error) {
	n := &Node{table: t, alias: alias, path: path, items: items, Params: q.Nodes[path]}
	if n.Params == nil {
		n.Params = &pgrst.Node{}
	}
	for _, it := range items {
		switch {
		case it.Embed != nil:
			if t == nil {
				return nil, &pgrst.Error{Status: 400, Code: "PGRST200", Message: "Could not embed into a result of unknown shape"}
			}
			en, err := s.planEmbed(b, n, it.Embed, q)
			if err != nil {
				return nil, err
			}
			n.embeds = append(n.embeds, en)
		case it.Star, it.Aggregate == "count" && it.Field.Name == "":
		default:
			if _, err := n.column(it.Field.Name); err != nil {
				return nil, err
			}
		}
	}
	// Filters naming an embedded resource are null filters on it.
	var keep []pgrst.Filter
	for _, f := range n.Params.Filters {
		if en := n.embedByName(f.Field.Name); en != nil && len(f.Field.Path) == 0 && f.Op == "is" && (f.Value == "null" || f.Value == "not_null") {
			v := f.Value
			if f.Negate {
				v = map[string]string{"null": "not_null", "not_null": "null"}[v]
			}
			en.isNull = v
			if v == "not_null" {
				en.inner = true
			}
			continue
		}
		keep = append(keep, f)
	}
	n.Params.Filters = keep
	return n, nil
}

func (n *Node) embedByName(name string) *embedNode {
	for _, en := range n.embeds {
		if en.e.OutName() == name || (en.e.Alias == "" && en.e.Name == name) {
			return en
		}
	}
	return nil
}

func (s *planner) planEmbed(b *Builder, parent *Node, e *pgrst.Embed, q *pgrst.Query) (*embedNode, error) {
	rel, err := s.findRel(parent.table, e.Name, e.Hint)
	if err != nil {
		return nil, err
	}
	if e.Spread && !rel.Card.ToOne() {
		return nil, &pgrst.Error{Status: 400, Code: "PGRST119",
			Message: fmt.Sprintf("A spread operation on '%s' is not possible", e.Name),
			Details: fmt.Sprintf("'%s' and '%s' do not form a many-to-one or one-to-one relationship", parent.table.Name, e.Name)}
	}
	path := e.OutName()
	if parent.path != "" {
		path = parent.path + "." + path
	}
	child, err := s.plan(b, s.sc.Table(rel.Foreign), b.alias(), path, e.Select, q)
	if err != nil {
		return nil, err
	}
	return &embedNode{e: e, rel: rel, child: child, lat: b.alias(), inner: e.Join == "inner"}, nil
}

// findRel finds the one relationship from t that `name!hint` designates.
func (s *planner) findRel(t *schema.Table, name, hint string) (*schema.Relationship, error) {
	var cands []*schema.Relationship
	for _, r := range s.sc.Rels[t.QName()] {
		if !s.visible(r.Foreign) || (r.Junction != nil && !s.visible(r.Junction.Table)) {
			continue
		}
		byCol := r.Card.ToOne() && len(r.Cols) == 1 && r.Cols[0] == name && r.Card == schema.ManyToOne
		if r.Foreign.Name == name || byCol || (r.Constraint == name && r.Junction == nil) {
			cands = append(cands, r)
		}
	}
	if hint != "" {
		// A hint naming a column of the source side wins over one that only
		// names the target side (self references have both).
		var src, any []*schema.Relationship
		for _, r := range cands {
			switch {
			case slices.Contains(r.Cols, hint) && r.Junction == nil:
				src = append(src, r)
			case r.Constraint == hint || slices.Contains(r.FCols, hint) ||
				(r.Junction != nil && (r.Junction.Table.Name == hint || r.Junction.Constraint1 == hint || r.Junction.Constraint2 == hint)):
				any = append(any, r)
			}
		}
		if len(src) > 0 {
			cands = src
		} else {
			cands = any
		}
	}
	switch len(cands) {
	case 1:
		return cands[0], nil
	case 0:
		msg := fmt.Sprintf("Could not find a relationship between '%s' and '%s' in the schema cache", t.Name, name)
		details := fmt.Sprintf("Searched for a foreign key relationship between '%s' and '%s' in the schema '%s', but no matches were found.", t.Name, name, t.Schema)
		if hint != "" {
			details = fmt.Sprintf("Searched for a foreign key relationship between '%s' and '%s' using the hint '%s' in the schema '%s', but no matches were found.", t.Name, name, hint, t.Schema)
		}
		return nil, &pgrst.Error{Status: 400, Code: "PGRST200", Message: msg, Details: details}
	}
	details := make([]ambiguousRel, len(cands))
	hints := make([]string, len(cands))
	for i, r := range cands {
		details[i], hints[i] = describeRel(r)
	}
	return nil, &pgrst.Error{Status: 300, Code: "PGRST201",
		Message:    fmt.Sprintf("Could not embed because more than one relationship was found for '%s' and '%s'", t.Name, name),
		Hint:       fmt.Sprintf("Try changing '%s' to one of the following: %s. Find the desired relationship in the 'details' key.", name, strings.Join(hints, ", ")),
		DetailList: details}
}

// ambiguousRel is one entry of PGRST201's details, as PostgREST 12 lists
// the candidate relationships.
type ambiguousRel struct {
	Cardinality  string `json:"cardinality"`
	Embedding    string `json:"embedding"`
	Relationship string `json:"relationship"`
}

var cardinalityNames = map[schema.Cardinality]string{
	schema.ManyToOne: "many-to-one", schema.OneToMany: "one-to-many",
	schema.OneToOne: "one-to-one", schema.ManyToMany: "many-to-many",
}

// describeRel renders a candidate relationship and the `target!hint` that
// selects it, in PostgREST 12's words.
func describeRel(r *schema.Relationship) (ambiguousRel, string) {
	cols := func(c []string) string { return "(" + strings.Join(c, ", ") + ")" }
	d := ambiguousRel{Cardinality: cardinalityNames[r.Card], Embedding: r.Table.Name + " with " + r.Foreign.Name}
	hint := r.Constraint
	if j := r.Junction; j != nil {
		d.Relationship = j.Table.Name + " using " + j.Constraint1 + cols(j.JCols) + " and " + j.Constraint2 + cols(j.JFCols)
		hint = j.Table.Name
	} else {
		d.Relationship = r.Constraint + " using " + r.Table.Name + cols(r.Cols) + " and " + r.Foreign.Name + cols(r.FCols)
	}
	return d, "'" + r.Foreign.Name + "!" + hint + "'"
}
