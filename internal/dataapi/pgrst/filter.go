package pgrst

import (
	"strings"
)

var ftsOps = map[string]bool{"fts": true, "plfts": true, "phfts": true, "wfts": true}
var rangeOps = map[string]bool{"sl": true, "sr": true, "nxr": true, "nxl": true, "adj": true, "ov": true}

// ParseFilter parses the value of a filter parameter for field.
func ParseFilter(field Field, v string) (*Filter, error) {
	if err := checkText(v); err != nil {
		return nil, ParseError("filter", v, err.Error())
	}
	sc := &scanner{s: v}
	f, err := sc.filterOp(field)
	if err == nil {
		err = f.setValue(sc.s[sc.pos:])
	}
	if err != nil {
		return nil, ParseError("filter", v, err.Error())
	}
	return f, nil
}

// filterOp reads `[not.]op[(mod)].` leaving the scanner at the value.
func (sc *scanner) filterOp(field Field) (*Filter, error) {
	f := &Filter{Field: field}
	if sc.accept("not.") {
		f.Negate = true
	}
	start := sc.pos
	for !sc.eof() && sc.peek() >= 'a' && sc.peek() <= 'z' {
		sc.pos++
	}
	f.Op = sc.s[start:sc.pos]
	if !Operators[f.Op] {
		return nil, sc.errf("unknown operator %q", f.Op)
	}
	if sc.accept("(") {
		end := strings.IndexByte(sc.s[sc.pos:], ')')
		if end < 0 {
			return nil, sc.errf("unterminated modifier")
		}
		mod := sc.s[sc.pos : sc.pos+end]
		sc.pos += end + 1
		switch {
		case (mod == "any" || mod == "all") && quantifiable[f.Op]:
			f.Quant = mod
		case ftsOps[f.Op] && mod != "":
			f.Lang = mod
		default:
			return nil, sc.errf("modifier %q not allowed with %s", mod, f.Op)
		}
	}
	if err := sc.expect("."); err != nil {
		return nil, err
	}
	return f, nil
}

// setValue interprets the raw value text after the operator.
func (f *Filter) setValue(v string) error {
	switch {
	case f.Op == "in":
		items, err := parseList(v, '(', ')')
		if err != nil {
			return err
		}
		f.List = items
	case f.Quant != "":
		items, err := parseList(v, '{', '}')
		if err != nil {
			return err
		}
		f.List = items
	case f.Op == "is":
		switch strings.ToLower(v) {
		case "null", "not_null", "true", "false", "unknown":
			f.Value = strings.ToLower(v)
		default:
			return errorsNew("is accepts null, not_null, true, false or unknown")
		}
	default:
		f.Value = v
	}
	return nil
}

// parseList parses `(a,"b,c",d)`: elements separated by commas, double
// quotes protecting commas and parentheses.
func parseList(v string, open, close byte) ([]string, error) {
	if len(v) < 2 || v[0] != open || v[len(v)-1] != close {
		return nil, errorsNew("expecting a list in " + string(open) + string(close))
	}
	body := v[1 : len(v)-1]
	items := []string{}
	if body == "" {
		return items, nil
	}
	sc := &scanner{s: body}
	for {
		var item string
		if sc.peek() == '"' {
			q, err := sc.quoted()
			if err != nil {
				return nil, err
			}
			item = q
		} else {
			start := sc.pos
			for !sc.eof() && sc.peek() != ',' {
				sc.pos++
			}
			item = sc.s[start:sc.pos]
		}
		items = append(items, item)
		if sc.eof() {
			return items, nil
		}
		if err := sc.expect(","); err != nil {
			return nil, err
		}
	}
}

type strErr string

func (e strErr) Error() string { return string(e) }

func errorsNew(s string) error { return strErr(s) }

// ParseLogic parses the value of an `or`/`and` parameter, e.g.
// `(a.eq.1,and(b.gt.2,c.is.null))`.
func ParseLogic(or, negate bool, v string) (*Logic, error) {
	if err := checkText(v); err != nil {
		return nil, ParseError("logic tree", v, err.Error())
	}
	sc := &scanner{s: v}
	l := &Logic{Or: or, Negate: negate}
	err := sc.logicBody(l, 0)
	if err == nil && !sc.eof() {
		err = sc.errf("unexpected %q", string(sc.peek()))
	}
	if err != nil {
		return nil, ParseError("logic tree", v, err.Error())
	}
	return l, nil
}

func (sc *scanner) logicBody(l *Logic, depth int) error {
	if depth > 32 {
		return sc.errf("logic tree nested too deep")
	}
	if err := sc.expect("("); err != nil {
		return err
	}
	for {
		c, err := sc.cond(depth)
		if err != nil {
			return err
		}
		l.Children = append(l.Children, c)
		if sc.accept(")") {
			return nil
		}
		if err := sc.expect(","); err != nil {
			return err
		}
	}
}

func (sc *scanner) cond(depth int) (Cond, error) {
	save := sc.pos
	neg := sc.accept("not.")
	for _, op := range []string{"and", "or"} {
		if sc.has(op + "(") {
			sc.pos += len(op)
			l := &Logic{Or: op == "or", Negate: neg}
			if err := sc.logicBody(l, depth+1); err != nil {
				return Cond{}, err
			}
			return Cond{Logic: l}, nil
		}
	}
	sc.pos = save
	field, err := sc.field()
	if err != nil {
		return Cond{}, err
	}
	if err := sc.expect("."); err != nil {
		return Cond{}, err
	}
	f, err := sc.filterOp(field)
	if err != nil {
		return Cond{}, err
	}
	raw, err := sc.logicValue(f)
	if err != nil {
		return Cond{}, err
	}
	if err := f.setValue(raw); err != nil {
		return Cond{}, err
	}
	return Cond{Filter: f}, nil
}

// logicValue reads a value inside a logic tree, which ends at a top-level
// ',' or ')'. Quoted values are unquoted; lists keep their delimiters.
func (sc *scanner) logicValue(f *Filter) (string, error) {
	if sc.peek() == '"' && f.Op != "in" {
		return sc.quoted()
	}
	start := sc.pos
	var closing byte
	switch c := sc.peek(); {
	case f.Op == "in" && c == '(':
		closing = ')'
	case c == '{':
		closing = '}'
	case rangeOps[f.Op] && (c == '[' || c == '('):
		// A range literal ends with ] or ).
		for !sc.eof() && sc.peek() != ']' && sc.peek() != ')' {
			sc.pos++
		}
		if sc.eof() {
			return "", sc.errf("unterminated range")
		}
		sc.pos++
		return sc.s[start:sc.pos], nil
	}
	if closing != 0 {
		inQuote := false
		for sc.pos++; !sc.eof(); sc.pos++ {
			c := sc.peek()
			switch {
			case c == '\\' && inQuote:
				sc.pos++
			case c == '"':
				inQuote = !inQuote
			case c == closing && !inQuote:
				sc.pos++
				return sc.s[start:sc.pos], nil
			}
		}
		return "", sc.errf("unterminated list")
	}
	for !sc.eof() && sc.peek() != ',' && sc.peek() != ')' {
		sc.pos++
	}
	return sc.s[start:sc.pos], nil
}

// ParseOrder parses an `order` parameter value.
func ParseOrder(v string) ([]OrderTerm, error) {
	if err := checkText(v); err != nil {
		return nil, ParseError("order", v, err.Error())
	}
	sc := &scanner{s: v}
	var terms []OrderTerm
	for {
		t, err := sc.orderTerm()
		if err != nil {
			return nil, ParseError("order", v, err.Error())
		}
		terms = append(terms, t)
		if sc.eof() {
			return terms, nil
		}
		if err := sc.expect(","); err != nil {
			return nil, ParseError("order", v, err.Error())
		}
	}
}

func (sc *scanner) orderTerm() (OrderTerm, error) {
	var t OrderTerm
	n, err := sc.name()
	if err != nil {
		return t, err
	}
	if sc.accept("(") {
		t.Relation = n
		if t.Field, err = sc.field(); err != nil {
			return t, err
		}
		if err := sc.expect(")"); err != nil {
			return t, err
		}
	} else if t.Field, err = sc.fieldTail(n); err != nil {
		return t, err
	}
	for sc.accept(".") {
		w, err := sc.name()
		if err != nil {
			return t, err
		}
		switch w {
		case "asc":
			t.Desc = false
		case "desc":
			t.Desc = true
		case "nullsfirst":
			t.Nulls = "first"
		case "nullslast":
			t.Nulls = "last"
		default:
			return t, sc.errf("unexpected %q, expecting asc, desc, nullsfirst or nullslast", w)
		}
	}
	return t, nil
}

// ParseColumns parses a comma-separated list of column names (`columns`,
// `on_conflict`).
func ParseColumns(param, v string) ([]string, error) {
	if err := checkText(v); err != nil {
		return nil, ParseError(param, v, err.Error())
	}
	sc := &scanner{s: v}
	var cols []string
	for {
		n, err := sc.name()
		if err != nil {
			return nil, ParseError(param, v, err.Error())
		}
		cols = append(cols, n)
		if sc.eof() {
			return cols, nil
		}
		if err := sc.expect(","); err != nil {
			return nil, ParseError(param, v, err.Error())
		}
	}
}
