package sqlexec

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// paramText converts one JSON param to the text format value sent for it;
// nil means SQL NULL. p is the plan of the parameter type the server
// inferred, or nil when it is not known: only then does a JSON array become
// an array literal instead of its JSON text.
//
//	null → NULL; true/false → "true"/"false"; number → its JSON text;
//	string → the string; object → its JSON text; array → an array literal
//	when p is an array plan, else its JSON text (for json, jsonb, text).
func paramText(raw json.RawMessage, p *plan) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return nil, fmt.Errorf("empty JSON value")
	}
	switch raw[0] {
	case 'n':
		return nil, nil
	case '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case '[':
		if p != nil && p.kind == kindArray {
			return appendParamArray(make([]byte, 0, len(raw)+2), raw, p, 1)
		}
	}
	// true, false, numbers, objects, and arrays for non-array types are
	// their JSON text as written.
	return raw, nil
}

// appendParamArray writes the JSON array raw as an array literal of the
// array plan p. A nested JSON array is a further dimension unless the
// elements are themselves JSON or arrays (a jsonb[] element may be a JSON
// array); the server rejects ragged or mixed nesting with its own error.
func appendParamArray(dst []byte, raw json.RawMessage, p *plan, depth int) ([]byte, error) {
	if depth > maxArrayDims {
		return nil, fmt.Errorf("array nested deeper than %d dimensions", maxArrayDims)
	}
	var elems []json.RawMessage
	if err := json.Unmarshal(raw, &elems); err != nil {
		return nil, err
	}
	dst = append(dst, '{')
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, p.delim)
		}
		e = bytes.TrimSpace(e)
		if len(e) > 0 && e[0] == '[' && p.elem.kind != kindJSON && p.elem.kind != kindArray {
			var err error
			if dst, err = appendParamArray(dst, e, p, depth+1); err != nil {
				return nil, err
			}
			continue
		}
		text, err := paramText(e, p.elem)
		if err != nil {
			return nil, err
		}
		if text == nil {
			dst = append(dst, "NULL"...)
			continue
		}
		dst = appendQuotedElement(dst, string(text))
	}
	return append(dst, '}'), nil
}
