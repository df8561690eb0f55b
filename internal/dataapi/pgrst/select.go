package pgrst

import "strings"

// Aggregates are the aggregate functions of the select language.
var Aggregates = map[string]bool{"count": true, "sum": true, "avg": true, "min": true, "max": true}

// ParseSelect parses a `select` parameter value.
func ParseSelect(v string) ([]SelectItem, error) {
	if err := checkText(v); err != nil {
		return nil, ParseError("select", v, err.Error())
	}
	sc := &scanner{s: v}
	items, err := sc.selectList(0)
	if err == nil && !sc.eof() {
		err = sc.errf("unexpected %q", string(sc.peek()))
	}
	if err != nil {
		return nil, ParseError("select", v, err.Error())
	}
	return items, nil
}

const maxEmbedDepth = 16

func (sc *scanner) selectList(depth int) ([]SelectItem, error) {
	if depth > maxEmbedDepth {
		return nil, sc.errf("embedding nested too deep")
	}
	items := []SelectItem{}
	if sc.eof() || sc.peek() == ')' {
		return items, nil
	}
	for {
		it, err := sc.selectItem(depth)
		if err != nil {
			return nil, err
		}
		items = append(items, it)
		if !sc.accept(",") {
			return items, nil
		}
	}
}

func (sc *scanner) selectItem(depth int) (SelectItem, error) {
	for sc.peek() == ' ' {
		sc.pos++
	}
	if sc.accept("...") {
		e, err := sc.embed(depth, "")
		if err != nil {
			return SelectItem{}, err
		}
		e.Spread = true
		return SelectItem{Embed: e}, nil
	}
	if sc.accept("*") {
		return SelectItem{Star: true}, nil
	}
	n, err := sc.name()
	if err != nil {
		return SelectItem{}, err
	}
	alias := ""
	if sc.has(":") && !sc.has("::") {
		sc.pos++
		alias = n
		if sc.accept("...") {
			return SelectItem{}, sc.errf("a spread cannot have an alias")
		}
		if n, err = sc.name(); err != nil {
			return SelectItem{}, err
		}
	}
	// A bare count inside an embedding is PostgREST's older spelling of
	// count() there (`cities(count)`, as Supabase's docs write it), which
	// PostgREST 12 still answers.
	if n == "count" && (sc.accept("()") || depth > 0 && (sc.eof() || sc.peek() == ',' || sc.peek() == ')')) {
		it := SelectItem{Alias: alias, Aggregate: "count"}
		if sc.accept("::") {
			if it.AggCast, err = sc.castName(); err != nil {
				return SelectItem{}, err
			}
		}
		return it, nil
	}
	if sc.peek() == '!' || sc.peek() == '(' {
		e, err := sc.embedAfterName(depth, n)
		if err != nil {
			return SelectItem{}, err
		}
		e.Alias = alias
		return SelectItem{Embed: e}, nil
	}
	f, err := sc.fieldTail(n)
	if err != nil {
		return SelectItem{}, err
	}
	it := SelectItem{Field: f, Alias: alias}
	if sc.accept("::") {
		if it.Cast, err = sc.castName(); err != nil {
			return SelectItem{}, err
		}
	}
	if sc.peek() == '.' {
		sc.pos++
		agg, err := sc.name()
		if err != nil {
			return SelectItem{}, err
		}
		if !Aggregates[agg] {
			return SelectItem{}, sc.errf("unknown aggregate %q", agg)
		}
		if err := sc.expect("()"); err != nil {
			return SelectItem{}, err
		}
		it.Aggregate = agg
		if sc.accept("::") {
			if it.AggCast, err = sc.castName(); err != nil {
				return SelectItem{}, err
			}
		}
	}
	return it, nil
}

func (sc *scanner) embed(depth int, alias string) (*Embed, error) {
	n, err := sc.name()
	if err != nil {
		return nil, err
	}
	e, err := sc.embedAfterName(depth, n)
	if err != nil {
		return nil, err
	}
	e.Alias = alias
	return e, nil
}

func (sc *scanner) embedAfterName(depth int, n string) (*Embed, error) {
	e := &Embed{Name: n}
	for sc.accept("!") {
		h, err := sc.name()
		if err != nil {
			return nil, err
		}
		switch h {
		case "inner", "left":
			e.Join = h
		default:
			if e.Hint != "" {
				return nil, sc.errf("more than one hint")
			}
			e.Hint = h
		}
	}
	if err := sc.expect("("); err != nil {
		return nil, err
	}
	items, err := sc.selectList(depth + 1)
	if err != nil {
		return nil, err
	}
	if err := sc.expect(")"); err != nil {
		return nil, err
	}
	e.Select = items
	return e, nil
}

// castName reads a type name: words (`double precision`) and an optional [].
func (sc *scanner) castName() (string, error) {
	start := sc.pos
	for !sc.eof() {
		c := sc.peek()
		if c == '_' || c == ' ' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') {
			sc.pos++
			continue
		}
		break
	}
	t := strings.TrimSpace(sc.s[start:sc.pos])
	if t == "" {
		return "", sc.errf("expecting a type name after ::")
	}
	if sc.accept("[]") {
		t += "[]"
	}
	return strings.ToLower(t), nil
}
