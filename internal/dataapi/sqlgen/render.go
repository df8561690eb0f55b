package sqlgen

import (
	"fmt"
	"strings"

	"github.com/db9/db9/internal/dataapi/pgrst"
)

// fieldSQL renders a column with its JSON path on a relation alias.
func (b *Builder) fieldSQL(alias string, f pgrst.Field) string {
	expr := Ident(alias) + "." + Ident(f.Name)
	for _, st := range f.Path {
		op := "->"
		if st.Text {
			op = "->>"
		}
		if st.Index {
			expr += op + "CAST(" + b.P(st.Key) + " AS " + Ident("pg_catalog") + "." + Ident("int4") + ")"
		} else {
			expr += op + "CAST(" + b.P(st.Key) + " AS " + Ident("pg_catalog") + "." + Ident("text") + ")"
		}
	}
	return expr
}

// Select is one rendered relation level:
// SELECT cols FROM from laterals WHERE conds [GROUP BY] [ORDER BY] [LIMIT/OFFSET].
type Select struct {
	cols     []string
	laterals []string
	where    []string
	groupBy  []string
	orderBy  []string
	limit    string
	offset   string
	// innerLaterals are the laterals that filter the relation (for counts).
	innerLaterals []string
}

// SQL renders the level over from; withPaging adds its ORDER BY, LIMIT and
// OFFSET.
func (sp *Select) SQL(from string, withPaging bool) string {
	var sb strings.Builder
	sb.WriteString("SELECT ")
	if len(sp.cols) == 0 {
		sb.WriteString("NULL")
	}
	sb.WriteString(strings.Join(sp.cols, ", "))
	sb.WriteString(" FROM ")
	sb.WriteString(from)
	for _, l := range sp.laterals {
		sb.WriteString(" ")
		sb.WriteString(l)
	}
	if len(sp.where) > 0 {
		sb.WriteString(" WHERE ")
		sb.WriteString(strings.Join(sp.where, " AND "))
	}
	if len(sp.groupBy) > 0 {
		sb.WriteString(" GROUP BY ")
		sb.WriteString(strings.Join(sp.groupBy, ", "))
	}
	if withPaging {
		if len(sp.orderBy) > 0 {
			sb.WriteString(" ORDER BY ")
			sb.WriteString(strings.Join(sp.orderBy, ", "))
		}
		if sp.limit != "" {
			sb.WriteString(" LIMIT " + sp.limit)
		}
		if sp.offset != "" {
			sb.WriteString(" OFFSET " + sp.offset)
		}
	}
	return sb.String()
}

// CountSQL counts the rows of the relation before paging.
func (sp *Select) CountSQL(from string) string {
	c := Select{cols: []string{"1"}, laterals: sp.innerLaterals, where: sp.where, groupBy: sp.groupBy}
	return "SELECT pg_catalog.count(*) FROM (" + c.SQL(from, false) + ") AS pgrst_count"
}

// Render renders the root level of a plan; limit/offset override the
// root's own (the Range header).
func (b *Builder) Render(n *Node, limit, offset *int64) (*Select, error) {
	return b.render(n, nil, limit, offset)
}

// CappedCountSQL counts the rows of the relation before paging, but no
// more than limit (a placeholder) of them: count=estimated.
func (sp *Select) CappedCountSQL(from, limit string) string {
	capped := Select{cols: []string{"1"}, laterals: sp.innerLaterals, where: sp.where, groupBy: sp.groupBy, limit: limit}
	return "SELECT pg_catalog.count(*) FROM (" + capped.SQL(from, true) + ") AS pgrst_count"
}

// render renders a relation level; joinConds are the conditions tying it to
// its parent. limit/offset override the node's own (root Range header).
func (b *Builder) render(n *Node, joinConds []string, limit, offset *int64) (*Select, error) {
	sp := &Select{where: joinConds}
	hasAgg := false
	var plain []string
	for _, it := range n.items {
		if it.Aggregate != "" {
			hasAgg = true
		}
	}
	if n.items == nil {
		sp.cols = append(sp.cols, Ident(n.alias)+".*")
	}
	for _, it := range n.items {
		switch {
		case it.Star:
			sp.cols = append(sp.cols, Ident(n.alias)+".*")
			if hasAgg && n.table != nil {
				for _, c := range n.table.Columns {
					plain = append(plain, Ident(n.alias)+"."+Ident(c.Name))
				}
			}
		case it.Embed != nil:
		case it.Aggregate != "":
			arg := "*"
			if it.Field.Name != "" {
				arg = b.fieldSQL(n.alias, it.Field)
				if it.Cast != "" {
					arg = castSQL(arg, it.Cast)
				}
			}
			expr := "pg_catalog." + it.Aggregate + "(" + arg + ")"
			if it.AggCast != "" {
				expr = castSQL(expr, it.AggCast)
			}
			name := it.Alias
			if name == "" {
				name = it.Aggregate
			}
			sp.cols = append(sp.cols, expr+" AS "+Ident(name))
		default:
			expr := b.fieldSQL(n.alias, it.Field)
			plain = append(plain, expr)
			if it.Cast != "" {
				expr = castSQL(expr, it.Cast)
			}
			name := it.Alias
			if name == "" {
				name = it.Field.DefaultAlias()
			}
			sp.cols = append(sp.cols, expr+" AS "+Ident(name))
		}
	}
	if hasAgg {
		sp.groupBy = plain
	}
	for _, en := range n.embeds {
		if err := b.renderEmbed(n, en, sp); err != nil {
			return nil, err
		}
	}
	conds, err := b.conditions(n)
	if err != nil {
		return nil, err
	}
	sp.where = append(sp.where, conds...)
	if sp.orderBy, err = b.orderBy(n); err != nil {
		return nil, err
	}
	if limit == nil {
		limit = n.Params.Limit
	}
	if offset == nil {
		offset = n.Params.Offset
	}
	if limit != nil {
		sp.limit = b.P(fmt.Sprint(*limit))
	}
	if offset != nil && *offset > 0 {
		sp.offset = b.P(fmt.Sprint(*offset))
	}
	return sp, nil
}

// orderBy renders the node's order terms.
func (b *Builder) orderBy(n *Node) ([]string, error) {
	var out []string
	for _, o := range n.Params.Order {
		expr, err := b.orderExpr(n, o)
		if err != nil {
			return nil, err
		}
		if o.Desc {
			expr += " DESC"
		} else {
			expr += " ASC"
		}
		switch o.Nulls {
		case "first":
			expr += " NULLS FIRST"
		case "last":
			expr += " NULLS LAST"
		}
		out = append(out, expr)
	}
	return out, nil
}

func (b *Builder) orderExpr(n *Node, o pgrst.OrderTerm) (string, error) {
	if o.Relation == "" {
		if _, err := n.column(o.Field.Name); err != nil {
			return "", err
		}
		return b.fieldSQL(n.alias, o.Field), nil
	}
	en := n.embedByName(o.Relation)
	if en == nil || !en.rel.Card.ToOne() {
		return "", &pgrst.Error{Status: 400, Code: "PGRST118",
			Message: fmt.Sprintf("A related order on '%s' is not possible", o.Relation),
			Details: fmt.Sprintf("'%s' is not an embedded to-one resource of '%s'", o.Relation, n.tableName())}
	}
	if _, err := en.child.column(o.Field.Name); err != nil {
		return "", err
	}
	return b.fieldSQL(en.lat, o.Field), nil
}

// renderEmbed adds a LATERAL join for an embedded resource and its output.
func (b *Builder) renderEmbed(parent *Node, en *embedNode, sp *Select) error {
	rel, child := en.rel, en.child
	from := QualifiedName(rel.Foreign) + " AS " + Ident(child.alias)
	var join []string
	if rel.Junction != nil {
		jalias := b.alias()
		var on []string
		for i, c := range rel.Junction.JFCols {
			on = append(on, Ident(jalias)+"."+Ident(c)+" = "+Ident(child.alias)+"."+Ident(rel.FCols[i]))
		}
		from += " INNER JOIN " + QualifiedName(rel.Junction.Table) + " AS " + Ident(jalias) + " ON " + strings.Join(on, " AND ")
		for i, c := range rel.Junction.JCols {
			join = append(join, Ident(jalias)+"."+Ident(c)+" = "+Ident(parent.alias)+"."+Ident(rel.Cols[i]))
		}
	} else {
		for i, c := range rel.FCols {
			join = append(join, Ident(child.alias)+"."+Ident(c)+" = "+Ident(parent.alias)+"."+Ident(rel.Cols[i]))
		}
	}
	csp, err := b.render(child, join, nil, nil)
	if err != nil {
		return err
	}
	kind := "LEFT JOIN LATERAL"
	if en.inner {
		kind = "INNER JOIN LATERAL"
	}
	var lat string
	out := en.e.OutName()
	// An empty embed `rel()` only filters (with !inner or rel=not.is.null)
	// and does not appear in the output.
	hidden := len(en.e.Select) == 0
	if hidden && !en.inner && en.isNull == "" {
		return nil
	}
	if rel.Card.ToOne() {
		lat = kind + " (" + csp.SQL(from, false) + ") AS " + Ident(en.lat) + " ON TRUE"
		if hidden {
		} else if en.e.Spread {
			sp.cols = append(sp.cols, Ident(en.lat)+".*")
		} else {
			sp.cols = append(sp.cols, "row_to_json("+Ident(en.lat)+".*) AS "+Ident(out))
		}
		if en.isNull == "null" {
			sp.where = append(sp.where, "row_to_json("+Ident(en.lat)+".*) IS NULL")
		}
	} else {
		inner := b.alias()
		having := ""
		if en.inner {
			having = " HAVING pg_catalog.count(*) > 0"
		}
		lat = kind + " (SELECT coalesce(json_agg(" + Ident(inner) + "), '[]') AS " + Ident("body") +
			" FROM (" + csp.SQL(from, true) + ") AS " + Ident(inner) + having + ") AS " + Ident(en.lat) + " ON TRUE"
		if !hidden {
			sp.cols = append(sp.cols, Ident(en.lat)+"."+Ident("body")+" AS "+Ident(out))
		}
		if en.isNull == "null" {
			sp.where = append(sp.where, "json_array_length("+Ident(en.lat)+"."+Ident("body")+") = 0")
		}
	}
	sp.laterals = append(sp.laterals, lat)
	if en.inner || en.isNull != "" {
		sp.innerLaterals = append(sp.innerLaterals, lat)
	}
	return nil
}

// conditions renders the node's filters and logic trees.
func (b *Builder) conditions(n *Node) ([]string, error) {
	var out []string
	for i := range n.Params.Filters {
		c, err := b.filterSQL(n, &n.Params.Filters[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for i := range n.Params.Logic {
		c, err := b.logicSQL(n, &n.Params.Logic[i])
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func (b *Builder) logicSQL(n *Node, l *pgrst.Logic) (string, error) {
	var parts []string
	for _, c := range l.Children {
		var s string
		var err error
		if c.Logic != nil {
			s, err = b.logicSQL(n, c.Logic)
		} else {
			s, err = b.filterSQL(n, c.Filter)
		}
		if err != nil {
			return "", err
		}
		parts = append(parts, s)
	}
	sep := " AND "
	if l.Or {
		sep = " OR "
	}
	s := "(" + strings.Join(parts, sep) + ")"
	if l.Negate {
		s = "NOT " + s
	}
	return s, nil
}

var simpleOps = map[string]string{
	"eq": "=", "neq": "<>", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
	"like": "LIKE", "ilike": "ILIKE", "match": "~", "imatch": "~*",
	"cs": "@>", "cd": "<@", "ov": "&&", "sl": "<<", "sr": ">>", "nxr": "&<", "nxl": "&>", "adj": "-|-",
}

var ftsFuncs = map[string]string{"fts": "to_tsquery", "plfts": "plainto_tsquery", "phfts": "phraseto_tsquery", "wfts": "websearch_to_tsquery"}

func likePattern(op, v string) string {
	if op == "like" || op == "ilike" {
		return strings.ReplaceAll(v, "*", "%")
	}
	return v
}

func (b *Builder) filterSQL(n *Node, f *pgrst.Filter) (string, error) {
	col, err := n.column(f.Field.Name)
	if err != nil {
		return "", err
	}
	lhs := b.fieldSQL(n.alias, f.Field)
	var s string
	switch {
	case f.Op == "in":
		s = lhs + " = ANY(" + b.P(arrayLiteral(f.List)) + ")"
	case f.Op == "is":
		s = lhs + " IS " + map[string]string{"null": "NULL", "not_null": "NOT NULL", "true": "TRUE", "false": "FALSE", "unknown": "UNKNOWN"}[f.Value]
	case f.Op == "isdistinct":
		s = lhs + " IS DISTINCT FROM " + b.P(f.Value)
	case ftsFuncs[f.Op] != "":
		fn := ftsFuncs[f.Op]
		var query string
		vec := lhs
		if f.Lang == "" {
			query = fn + "(" + b.P(f.Value) + ")"
		}
		if f.Lang != "" {
			lang := "CAST(" + b.P(f.Lang) + " AS " + Ident("pg_catalog") + "." + Ident("regconfig") + ")"
			query = fn + "(" + lang + ", " + b.P(f.Value) + ")"
			if col == nil || col.Type.Name != "tsvector" {
				vec = "to_tsvector(" + lang + ", " + lhs + ")"
			}
		} else if col == nil || col.Type.Name != "tsvector" || len(f.Field.Path) > 0 {
			vec = "to_tsvector(" + lhs + ")"
		}
		s = vec + " @@ " + query
	case f.Quant != "":
		items := make([]string, len(f.List))
		for i, it := range f.List {
			items[i] = likePattern(f.Op, it)
		}
		s = lhs + " " + simpleOps[f.Op] + " " + strings.ToUpper(f.Quant) + "(" + b.P(arrayLiteral(items)) + ")"
	default:
		op, ok := simpleOps[f.Op]
		if !ok {
			return "", pgrst.ParseError("filter", f.Op, "unknown operator")
		}
		s = lhs + " " + op + " " + b.P(likePattern(f.Op, f.Value))
	}
	if f.Negate {
		s = "NOT (" + s + ")"
	}
	return s, nil
}

// FilterParts renders only what restricts the relation (its conditions and
// the laterals of inner embeds), so that every parameter of this builder is
// referenced: a statement made of it (the EXPLAIN of planned counts) binds
// exactly its own parameters.
func (b *Builder) FilterParts(n *Node) (*Select, error) {
	sp := &Select{cols: []string{"1"}}
	conds, err := b.conditions(n)
	if err != nil {
		return nil, err
	}
	for _, en := range n.embeds {
		if en.inner || en.isNull != "" {
			tmp := &Select{}
			if err := b.renderEmbed(n, en, tmp); err != nil {
				return nil, err
			}
			sp.laterals = append(sp.laterals, tmp.laterals...)
			sp.where = append(sp.where, tmp.where...)
		}
	}
	sp.where = append(sp.where, conds...)
	return sp, nil
}
