package schema

import (
	"strconv"
	"strings"
)

// colOrigin is where a view's output column comes from.
type colOrigin struct {
	view  QName
	table QName
	col   string // the base table's column
	as    string // the view's column
}

// viewColumns maps every base table to the view columns that show one of
// its columns unchanged, from the views' query trees.
func viewColumns(tables []*Table, byOID map[int64]*Table) map[QName][]colOrigin {
	out := map[QName][]colOrigin{}
	for _, v := range tables {
		if v.ViewDef == "" {
			continue
		}
		for _, te := range topTargetList(v.ViewDef) {
			base := byOID[te.origTable]
			if base == nil || te.origCol <= 0 || v.Column(te.name) == nil {
				continue
			}
			for _, c := range base.Columns {
				if c.Num == te.origCol {
					out[base.QName()] = append(out[base.QName()], colOrigin{view: v.QName(), table: base.QName(), col: c.Name, as: te.name})
				}
			}
		}
	}
	return out
}

// relCols is a relation and its columns that stand for some key columns.
type relCols struct {
	rel  QName
	cols []string
}

// viewsShowing returns table t with cols, and every view that shows all of
// cols, with the view's names for them.
func viewsShowing(views map[QName][]colOrigin, t QName, cols []string) []relCols {
	out := []relCols{{rel: t, cols: cols}}
	byView := map[QName]map[string]string{}
	var order []QName
	for _, o := range views[t] {
		m := byView[o.view]
		if m == nil {
			m = map[string]string{}
			byView[o.view] = m
			order = append(order, o.view)
		}
		if _, dup := m[o.col]; !dup { // a column shown twice: its first name
			m[o.col] = o.as
		}
	}
	for _, v := range order {
		m := byView[v]
		vc := make([]string, 0, len(cols))
		for _, c := range cols {
			if as, ok := m[c]; ok {
				vc = append(vc, as)
			}
		}
		if len(vc) == len(cols) {
			out = append(out, relCols{rel: v, cols: vc})
		}
	}
	return out
}

// targetEntry is what is kept of a TARGETENTRY node.
type targetEntry struct {
	name      string
	origTable int64
	origCol   int
	junk      bool
}

// topTargetList reads the target list of the top query of a view's
// pg_rewrite.ev_action (PostgreSQL's node tree text, a list of one QUERY):
// the output columns and, for those that are a base column unchanged,
// resorigtbl/resorigcol. Target lists of subqueries and sublinks are
// skipped by depth. Text that does not parse yields what was read so far.
func topTargetList(tree string) []targetEntry {
	toks := nodeTokens(tree)
	var out []targetEntry
	depth := 0
	inList := false // inside the top QUERY's :targetList
	var cur *targetEntry
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t {
		case "{":
			depth++
			if inList && depth == 2 && i+1 < len(toks) && toks[i+1] == "TARGETENTRY" {
				out = append(out, targetEntry{})
				cur = &out[len(out)-1]
			}
			continue
		case "}":
			if depth == 2 {
				cur = nil
			}
			depth--
			continue
		case ")":
			if inList && depth == 1 {
				return keepColumns(out)
			}
			continue
		}
		if depth == 1 && t == ":targetList" {
			inList = true
			continue
		}
		if cur == nil || depth != 2 || i+1 >= len(toks) {
			continue
		}
		switch t {
		case ":resname":
			cur.name = unescapeToken(toks[i+1])
		case ":resorigtbl":
			cur.origTable, _ = strconv.ParseInt(toks[i+1], 10, 64)
		case ":resorigcol":
			cur.origCol, _ = strconv.Atoi(toks[i+1])
		case ":resjunk":
			cur.junk = toks[i+1] == "true"
		}
	}
	return keepColumns(out)
}

func keepColumns(list []targetEntry) []targetEntry {
	out := list[:0]
	for _, te := range list {
		if !te.junk && te.name != "" && te.name != "<>" {
			out = append(out, te)
		}
	}
	return out
}

// nodeTokens splits node tree text into brackets and words; a backslash
// escapes the next character of a word (outToken's escaping).
func nodeTokens(s string) []string {
	var toks []string
	var sb strings.Builder
	word := false
	flush := func() {
		if word {
			toks = append(toks, sb.String())
			sb.Reset()
			word = false
		}
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			sb.WriteByte(c)
			sb.WriteByte(s[i+1])
			word = true
			i++
		case c == ' ' || c == '\n' || c == '\t' || c == '\r':
			flush()
		case c == '{' || c == '}' || c == '(' || c == ')':
			flush()
			toks = append(toks, string(c))
		default:
			sb.WriteByte(c)
			word = true
		}
	}
	flush()
	return toks
}

func unescapeToken(t string) string {
	if !strings.Contains(t, `\`) {
		return t
	}
	var sb strings.Builder
	for i := 0; i < len(t); i++ {
		if t[i] == '\\' && i+1 < len(t) {
			i++
		}
		sb.WriteByte(t[i])
	}
	return sb.String()
}
