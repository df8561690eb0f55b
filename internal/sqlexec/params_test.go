package sqlexec

import (
	"bytes"
	"encoding/json"
	"testing"
)

var (
	textPlan     = stringPlan
	int4Array    = &plan{kind: kindArray, elem: &plan{kind: kindInt}, delim: ','}
	textArray    = &plan{kind: kindArray, elem: stringPlan, delim: ','}
	jsonbArray   = &plan{kind: kindArray, elem: &plan{kind: kindJSON}, delim: ','}
	boxArray     = &plan{kind: kindArray, elem: stringPlan, delim: ';'}
	nullSentinel = "<NULL>"
)

func TestParamText(t *testing.T) {
	tests := []struct {
		raw  string
		p    *plan
		want string
	}{
		{`null`, nil, nullSentinel},
		{`true`, nil, `true`},
		{` false `, nil, `false`},
		{`-1.5e3`, nil, `-1.5e3`},
		{`"h\u00e9\"llo"`, nil, `hé"llo`},
		{`{"a": [1, 2]}`, nil, `{"a": [1, 2]}`},
		{`[1, "a"]`, nil, `[1, "a"]`},
		{`[1, "a"]`, textPlan, `[1, "a"]`},
		{`[1,2,null]`, int4Array, `{"1","2",NULL}`},
		{`[[1,2],[3,4]]`, int4Array, `{{"1","2"},{"3","4"}}`},
		{`[]`, int4Array, `{}`},
		{`["a\"b","c,d",null,"NULL","","\\",true,{"x":1}]`, textArray, `{"a\"b","c,d",NULL,"NULL","","\\","true","{\"x\":1}"}`},
		{`[{"a":1},[1,2],null]`, jsonbArray, `{"{\"a\":1}","[1,2]",NULL}`},
		{`["(1,1),(0,0)","(2,2),(1,1)"]`, boxArray, `{"(1,1),(0,0)";"(2,2),(1,1)"}`},
	}
	for _, tt := range tests {
		got, err := paramText(json.RawMessage(tt.raw), tt.p)
		if err != nil {
			t.Errorf("paramText(%s): %v", tt.raw, err)
			continue
		}
		gs := string(got)
		if got == nil {
			gs = nullSentinel
		}
		if gs != tt.want {
			t.Errorf("paramText(%s) = %s, want %s", tt.raw, gs, tt.want)
		}
	}
}

func FuzzParamText(f *testing.F) {
	for _, seed := range []string{
		`null`, `true`, `1.5`, `"x"`, `{"a":1}`, `[1,2,null]`, `[[1,2],[3,4]]`, `["a\"b","c,d","NULL",""]`,
		`[{"a":1},[1,[2]]]`, `[1,[2]]`, `[[[[[[[1]]]]]]]`, `[[],[]]`, `["\u0000"]`,
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		if !json.Valid([]byte(raw)) {
			return
		}
		for _, p := range []*plan{nil, textPlan, int4Array, textArray, jsonbArray, boxArray} {
			got, err := paramText(json.RawMessage(raw), p)
			if err != nil {
				if p == nil || p.kind != kindArray {
					t.Fatalf("paramText(%s, %v): %v", raw, p, err)
				}
				continue
			}
			trimmed := bytes.TrimSpace([]byte(raw))
			if p == nil || p.kind != kindArray || trimmed[0] != '[' {
				continue
			}
			// An array literal reads back to the JSON array's structure,
			// unless the JSON mixes values and arrays on one level, which
			// PostgreSQL rejects too.
			parsed, err := parseArray(string(got), p.delim)
			var want any
			if err := json.Unmarshal(trimmed, &want); err != nil {
				t.Fatal(err)
			}
			if err != nil {
				if !mixedLevels(want.([]any), p) {
					t.Fatalf("literal %q of %s does not parse: %v", got, raw, err)
				}
				continue
			}
			if !sameStructure(t, want.([]any), parsed, p) {
				t.Fatalf("literal %q does not match %s", got, raw)
			}
		}
	})
}

// nested reports whether a JSON array element is a further dimension for p.
func nested(e any, p *plan) bool {
	_, isArr := e.([]any)
	return isArr && p.elem.kind != kindJSON && p.elem.kind != kindArray
}

func mixedLevels(v []any, p *plan) bool {
	subs, vals := 0, 0
	for _, e := range v {
		if nested(e, p) {
			subs++
			if mixedLevels(e.([]any), p) {
				return true
			}
		} else {
			vals++
		}
	}
	return subs > 0 && vals > 0
}

func sameStructure(t *testing.T, want []any, got []any, p *plan) bool {
	if len(want) != len(got) {
		return false
	}
	for i, w := range want {
		switch g := got[i].(type) {
		case nil:
			if w != nil {
				return false
			}
		case []any:
			if !nested(w, p) || !sameStructure(t, w.([]any), g, p) {
				return false
			}
		case *string:
			if w == nil || nested(w, p) {
				return false
			}
			if s, ok := w.(string); ok {
				if *g != s {
					return false
				}
				continue
			}
			// Non-strings are their JSON text.
			var back any
			if err := json.Unmarshal([]byte(*g), &back); err != nil {
				return false
			}
			a, _ := json.Marshal(back)
			b, _ := json.Marshal(w)
			if !bytes.Equal(a, b) {
				return false
			}
		}
	}
	return true
}
