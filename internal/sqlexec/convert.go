package sqlexec

import (
	"encoding/json"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/db9/db9/internal/web"
)

// kind is how the text form of a value becomes JSON.
type kind uint8

const (
	kindString kind = iota // PostgreSQL's text output as a JSON string
	kindBool               // t/f → true/false
	kindInt                // int2, int4, oid → number
	kindInt8               // number within ±2^53, else string
	kindFloat              // number; NaN and ±Infinity as strings
	kindJSON               // json, jsonb → embedded as is
	kindArray              // JSON array, elements by plan.elem
)

// plan converts the values of one type.
type plan struct {
	kind  kind
	elem  *plan // kindArray: how to convert the elements
	delim byte  // kindArray: element separator of the text form
}

var stringPlan = &plan{kind: kindString}

// scalarKind is the conversion of a non-array, non-domain type.
func scalarKind(oid uint32) kind {
	switch oid {
	case pgtype.BoolOID:
		return kindBool
	case pgtype.Int2OID, pgtype.Int4OID, pgtype.OIDOID:
		return kindInt
	case pgtype.Int8OID:
		return kindInt8
	case pgtype.Float4OID, pgtype.Float8OID:
		return kindFloat
	case pgtype.JSONOID, pgtype.JSONBOID:
		return kindJSON
	}
	return kindString
}

const maxSafeInt = 1 << 53 // JavaScript's Number.MAX_SAFE_INTEGER + 1

// appendValue appends the JSON form of one text-format value; v == nil is
// SQL NULL. Text the plan does not expect (it should not happen) falls back
// to a JSON string, so the output is always valid JSON.
func appendValue(dst, v []byte, p *plan) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	switch p.kind {
	case kindBool:
		switch string(v) {
		case "t":
			return append(dst, "true"...)
		case "f":
			return append(dst, "false"...)
		}
	case kindInt:
		if isJSONNumber(v) {
			return append(dst, v...)
		}
	case kindInt8:
		n, err := strconv.ParseInt(string(v), 10, 64)
		if err == nil && n >= -maxSafeInt && n <= maxSafeInt && isJSONNumber(v) {
			return append(dst, v...)
		}
	case kindFloat:
		if isJSONNumber(v) {
			return append(dst, v...)
		}
	case kindJSON:
		if json.Valid(v) {
			return append(dst, v...)
		}
	case kindArray:
		if elems, err := parseArray(string(v), p.delim); err == nil {
			return appendJSONArray(dst, elems, p.elem)
		}
	}
	return web.AppendJSONString(dst, v, false)
}

func appendJSONArray(dst []byte, elems []any, elem *plan) []byte {
	dst = append(dst, '[')
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch e := e.(type) {
		case nil:
			dst = append(dst, "null"...)
		case *string:
			dst = appendValue(dst, []byte(*e), elem)
		case []any:
			dst = appendJSONArray(dst, e, elem)
		}
	}
	return append(dst, ']')
}

// isJSONNumber reports whether b matches JSON's number grammar.
func isJSONNumber(b []byte) bool {
	i := 0
	digits := func() int {
		start := i
		for i < len(b) && b[i] >= '0' && b[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < len(b) && b[i] == '-' {
		i++
	}
	if i < len(b) && b[i] == '0' {
		i++
	} else if i >= len(b) || b[i] < '1' || b[i] > '9' || digits() == 0 {
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == len(b)
}

const hexDigits = "0123456789abcdef"
