package pgrst

import (
	"net/url"
	"strconv"
	"strings"
)

// SplitQuery splits a raw query string into pairs, keeping their order
// (url.ParseQuery does not).
func SplitQuery(raw string) ([]KV, error) {
	var out []KV
	for raw != "" {
		var part string
		part, raw, _ = strings.Cut(raw, "&")
		if part == "" {
			continue
		}
		k, v, _ := strings.Cut(part, "=")
		ku, err := url.QueryUnescape(k)
		if err != nil {
			return nil, ParseError("query", part, err.Error())
		}
		vu, err := url.QueryUnescape(v)
		if err != nil {
			return nil, ParseError("query", part, err.Error())
		}
		out = append(out, KV{ku, vu})
	}
	return out, nil
}

// ParseQuery parses a request's query pairs. Pairs whose key isArg says is a
// function argument (RPC) are kept in Params unparsed.
func ParseQuery(pairs []KV, isArg func(string) bool) (*Query, error) {
	q := &Query{}
	for _, kv := range pairs {
		k, v := kv.Key, kv.Value
		if err := checkText(k); err != nil {
			return nil, ParseError("query", k, err.Error())
		}
		switch k {
		case "select":
			items, err := ParseSelect(v)
			if err != nil {
				return nil, err
			}
			q.Select = items
			continue
		case "columns":
			cols, err := ParseColumns("columns", v)
			if err != nil {
				return nil, err
			}
			q.Columns = cols
			continue
		case "on_conflict":
			cols, err := ParseColumns("on_conflict", v)
			if err != nil {
				return nil, err
			}
			q.OnConflict = cols
			continue
		}
		if isArg != nil && isArg(k) {
			q.Params = append(q.Params, kv)
			continue
		}
		path, last := splitKey(k)
		switch last {
		case "order":
			terms, err := ParseOrder(v)
			if err != nil {
				return nil, err
			}
			q.Node(path).Order = terms
		case "limit", "offset":
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || n < 0 {
				return nil, ParseError(last, v, "expecting a non-negative integer")
			}
			if last == "limit" {
				q.Node(path).Limit = &n
			} else {
				q.Node(path).Offset = &n
			}
		case "or", "and", "not.or", "not.and":
			l, err := ParseLogic(strings.HasSuffix(last, "or"), strings.HasPrefix(last, "not."), v)
			if err != nil {
				return nil, err
			}
			q.Node(path).Logic = append(q.Node(path).Logic, *l)
		default:
			sc := &scanner{s: last}
			field, err := sc.field()
			if err == nil && !sc.eof() {
				err = sc.errf("unexpected %q", string(sc.peek()))
			}
			if err != nil {
				return nil, ParseError("filter", k, err.Error())
			}
			f, err := ParseFilter(field, v)
			if err != nil {
				return nil, err
			}
			q.Node(path).Filters = append(q.Node(path).Filters, *f)
		}
	}
	return q, nil
}

// splitKey splits `a.b.field` into the embed path "a.b" and "field";
// `a.not.or` into "a" and "not.or".
func splitKey(k string) (path, last string) {
	// JSON paths may not contain dots, but the field part may contain "->".
	parts := strings.Split(k, ".")
	n := len(parts)
	if n >= 2 && parts[n-2] == "not" && (parts[n-1] == "or" || parts[n-1] == "and") {
		return strings.Join(parts[:n-2], "."), "not." + parts[n-1]
	}
	return strings.Join(parts[:n-1], "."), parts[n-1]
}

// Range is a parsed `Range: a-b` header (items).
type Range struct {
	Offset int64
	Limit  *int64 // nil: open ended
}

// ParseRange parses a Range header value ("0-9", "10-"); ok is false when
// the header is absent or not an item range (PostgREST then ignores it).
func ParseRange(h string) (Range, bool) {
	h = strings.TrimSpace(h)
	h = strings.TrimPrefix(h, "items=")
	a, b, found := strings.Cut(h, "-")
	if !found {
		return Range{}, false
	}
	from, err := strconv.ParseInt(a, 10, 64)
	if err != nil || from < 0 {
		return Range{}, false
	}
	r := Range{Offset: from}
	if b != "" {
		to, err := strconv.ParseInt(b, 10, 64)
		if err != nil {
			return Range{}, false
		}
		n := to - from + 1
		if n < 0 {
			n = 0
		}
		r.Limit = &n
	}
	return r, true
}
