package sqlexec

import (
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/web"
)

func s(v string) *string { return &v }

func TestParseArray(t *testing.T) {
	tests := []struct {
		in    string
		delim byte
		want  []any
	}{
		{`{}`, ',', []any{}},
		{`{1,2,3}`, ',', []any{s("1"), s("2"), s("3")}},
		{`{NULL,null,"NULL",\NULL}`, ',', []any{nil, nil, s("NULL"), s("NULL")}},
		{`{"a\"b","c,d","{e}","",\\}`, ',', []any{s(`a"b`), s("c,d"), s("{e}"), s(""), s(`\`)}},
		{`{{1,2},{3,4}}`, ',', []any{[]any{s("1"), s("2")}, []any{s("3"), s("4")}}},
		{`[0:1]={1,2}`, ',', []any{s("1"), s("2")}},
		{`[-2:-1][1:2]={{1,2},{3,4}}`, ',', []any{[]any{s("1"), s("2")}, []any{s("3"), s("4")}}},
		{` { a b , "c" } `, ',', []any{s("a b"), s("c")}},
		{`{a\ }`, ',', []any{s("a ")}},
		{`{(1,1),(0,0);(2,2),(1,1)}`, ';', []any{s("(1,1),(0,0)"), s("(2,2),(1,1)")}},
		{`{"{\"a\": 1}"}`, ',', []any{s(`{"a": 1}`)}},
		{`{{},{}}`, ',', []any{[]any{}, []any{}}},
	}
	for _, tt := range tests {
		got, err := parseArray(tt.in, tt.delim)
		if err != nil {
			t.Errorf("parseArray(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseArray(%q) (-want +got):\n%s", tt.in, diff)
		}
	}
}

func TestParseArray_Malformed(t *testing.T) {
	for _, in := range []string{
		``, `{`, `}`, `{1,2`, `{1,}`, `{,1}`, `{1}}`, `{1} x`, `{"a}`, `{a"b}`, `{1,{2}}`, `{{1},2}`,
		`[1:2]{1,2}`, `[a]={1}`, `{a\`, `{{{{{{{1}}}}}}}`, `[1][1][1][1][1][1][1]={1}`,
	} {
		if got, err := parseArray(in, ','); !errors.Is(err, errMalformedArray) {
			t.Errorf("parseArray(%q) = %v, %v; want errMalformedArray", in, got, err)
		}
	}
}

func TestAppendValue(t *testing.T) {
	ints := &plan{kind: kindArray, elem: &plan{kind: kindInt}, delim: ','}
	tests := []struct {
		v    []byte
		p    *plan
		want string
	}{
		{nil, stringPlan, `null`},
		{[]byte("t"), &plan{kind: kindBool}, `true`},
		{[]byte("x"), &plan{kind: kindBool}, `"x"`},
		{[]byte("-12"), &plan{kind: kindInt}, `-12`},
		{[]byte("9007199254740992"), &plan{kind: kindInt8}, `9007199254740992`},
		{[]byte("-9007199254740993"), &plan{kind: kindInt8}, `"-9007199254740993"`},
		{[]byte("00000000"), &plan{kind: kindInt8}, `"00000000"`}, // found by FuzzParseArray
		{[]byte("1e+100"), &plan{kind: kindFloat}, `1e+100`},
		{[]byte("-Infinity"), &plan{kind: kindFloat}, `"-Infinity"`},
		{[]byte(`{"a": [1]}`), &plan{kind: kindJSON}, `{"a": [1]}`},
		{[]byte(`{"a": `), &plan{kind: kindJSON}, `"{\"a\": "`},
		{[]byte(`{1,NULL}`), ints, `[1,null]`},
		{[]byte(`{1,x}`), ints, `[1,"x"]`},
		{[]byte(`1 2`), ints, `"1 2"`},
		{[]byte("a\"\\\n\x01\xff<é"), stringPlan, `"a\"\\\n\u0001\ufffd<é"`},
	}
	for _, tt := range tests {
		got := string(appendValue(nil, tt.v, tt.p))
		if got != tt.want {
			t.Errorf("appendValue(%q) = %s, want %s", tt.v, got, tt.want)
		}
	}
}

func TestIsJSONNumber(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "-0": true, "12": true, "1.5": true, "1e5": true, "1E+5": true, "-1.5e-3": true,
		"": false, "-": false, "01": false, "1.": false, ".5": false, "1e": false, "NaN": false, "+1": false, "1 ": false,
	} {
		if got := isJSONNumber([]byte(in)); got != want {
			t.Errorf("isJSONNumber(%q) = %v, want %v", in, got, want)
		}
		if want && !json.Valid([]byte(in)) {
			t.Errorf("%q accepted but not valid JSON", in)
		}
	}
}

func FuzzParseArray(f *testing.F) {
	for _, seed := range []string{
		`{}`, `{1,2,3}`, `{NULL,"NULL",""}`, `{"a\"b","c,d","{e}",\\}`, `{{1,2},{3,4}}`,
		`[0:1]={1,2}`, `[1:1][-3:-2]={{a,b}}`, ` { a b , "c" } `, `{a\ }`, `{{},{}}`,
		`{(1,1),(0,0);(2,2),(1,1)}`, `{"{\"a\": 1}"}`, `{{{{{{1}}}}}}`, "{\x00}", `{"\`,
	} {
		f.Add(seed, true)
		f.Add(seed, false)
	}
	f.Fuzz(func(t *testing.T, in string, semicolon bool) {
		delim := byte(',')
		if semicolon {
			delim = ';'
		}
		got, err := parseArray(in, delim)
		if err != nil {
			return
		}
		// Writing the parsed structure back as a literal and reading it
		// again gives the same structure.
		lit := appendArrayLiteral(nil, got, delim)
		again, err := parseArray(string(lit), delim)
		if err != nil {
			t.Fatalf("re-parse of %q (from %q): %v", lit, in, err)
		}
		if diff := cmp.Diff(got, again); diff != "" {
			t.Fatalf("round trip of %q via %q (-first +second):\n%s", in, lit, diff)
		}
		// Conversion to JSON always yields valid JSON with the same shape.
		for _, elem := range []*plan{stringPlan, {kind: kindInt}, {kind: kindJSON}, {kind: kindBool}, {kind: kindFloat}, {kind: kindInt8}} {
			out := appendJSONArray(nil, got, elem)
			if !json.Valid(out) {
				t.Fatalf("invalid JSON %q from %q", out, in)
			}
			if elem == stringPlan && utf8.ValidString(in) {
				var back any
				if err := json.Unmarshal(out, &back); err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(toPlain(got), back); diff != "" {
					t.Fatalf("JSON of %q (-parsed +json):\n%s", in, diff)
				}
			}
		}
	})
}

// toPlain turns parseArray's result into what encoding/json decodes from
// its string-plan JSON.
func toPlain(v []any) []any {
	out := make([]any, len(v))
	for i, e := range v {
		switch e := e.(type) {
		case *string:
			out[i] = *e
		case []any:
			out[i] = toPlain(e)
		}
	}
	return out
}

func FuzzAppendString(f *testing.F) {
	for _, seed := range []string{"", "a\"b\\c", "\x00\x1f\x7f", "é☃\U0001F600", "\xff\xfe", "\u2028<&>"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out := web.AppendJSONString(nil, []byte(in), false)
		var back string
		if err := json.Unmarshal(out, &back); err != nil {
			t.Fatalf("invalid JSON %q from %q: %v", out, in, err)
		}
		// Same string as encoding/json makes of it (one U+FFFD per bad byte).
		ref, _ := json.Marshal(in)
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Fatalf("%q decodes to %q, want %q", out, back, want)
		}
	})
}
