package sqlexec

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// referenceJSON is the response body as encoding/json wrote it before
// AppendJSON: the Result through reflection, columns and rows never null.
func referenceJSON(t testing.TB, r *Result, html bool) []byte {
	t.Helper()
	var v any
	if r.Error != nil {
		v = struct {
			Error *SQLError `json:"error"`
		}{r.Error}
	} else {
		type plain Result
		p := plain(*r)
		if p.Columns == nil {
			p.Columns = []Column{}
		}
		if p.Rows == nil {
			p.Rows = [][]json.RawMessage{}
		}
		v = p
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(html)
	if err := enc.Encode(v); err != nil {
		t.Fatalf("reference encoding: %v", err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n"))
}

// checkSameAsReference compares AppendJSON and MarshalJSON (through an
// encoder, as the tests and clients use it) with encoding/json.
func checkSameAsReference(t testing.TB, r *Result) {
	t.Helper()
	if diff := cmp.Diff(string(referenceJSON(t, r, true)), string(r.AppendJSON(nil))); diff != "" {
		t.Errorf("AppendJSON differs from encoding/json (-want +got):\n%s", diff)
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		t.Fatalf("MarshalJSON output rejected by encoding/json: %v", err)
	}
	if diff := cmp.Diff(string(referenceJSON(t, r, false)), string(bytes.TrimSuffix(b.Bytes(), []byte("\n")))); diff != "" {
		t.Errorf("MarshalJSON differs from encoding/json (-want +got):\n%s", diff)
	}
}

// resultOf builds a one-row result whose strings are all s and whose values
// are s converted by every kind of plan, as build produces them.
func resultOf(s string, truncated bool) *Result {
	plans := []*plan{stringPlan, {kind: kindJSON}, {kind: kindInt}, {kind: kindArray, elem: &plan{kind: kindJSON}, delim: ','}, {kind: kindArray, elem: stringPlan, delim: ','}}
	r := &Result{Command: s, RowCount: 1, Truncated: truncated}
	var row []json.RawMessage
	for _, p := range plans {
		r.Columns = append(r.Columns, Column{Name: s, Type: s})
		row = append(row, appendValue(nil, []byte(s), p))
	}
	row = append(row, appendValue(nil, nil, stringPlan))
	r.Columns = append(r.Columns, Column{Name: "null", Type: "text"})
	r.Rows = [][]json.RawMessage{row}
	return r
}

var encodeSeeds = []string{
	"", "plain", `a "quoted" \ back\slash`, "<script>&amp;</script>", "tab\tnl\ncr\rbs\bff\f\x00\x1f\x7f",
	"line\u2028para\u2029", "invalid \xff\xfe utf-8 \xe2\x80", "ünïcødé ✓ 日本",
	`{"a": "x", "b" : [1, 2, {"c": "<&>"}]}`, `{"s": "in string:  spaces\t and \" quote \\"}`, ` [ 1 , 2 ] `,
	`{"{\"a\": 1}","[1, \"x\"]",null}`, `{a,"b c",NULL,"<d>"}`, "42", "-1.5e3", `"\u2028"`,
}

func TestResult_AppendJSON_SameAsEncodingJSON(t *testing.T) {
	for _, s := range encodeSeeds {
		for _, truncated := range []bool{false, true} {
			checkSameAsReference(t, resultOf(s, truncated))
		}
		checkSameAsReference(t, &Result{Error: &SQLError{Message: s, Code: "42P01", Detail: s, Hint: s, Position: 7}})
	}
	checkSameAsReference(t, &Result{})
	checkSameAsReference(t, &Result{Columns: []Column{}, Rows: [][]json.RawMessage{}, Command: "CREATE TABLE"})
	checkSameAsReference(t, &Result{Columns: []Column{{Name: "n", Type: "int4"}}, Rows: [][]json.RawMessage{{json.RawMessage("1")}, {json.RawMessage("2")}}, RowCount: 2, Command: "SELECT"})
}

func FuzzResult_AppendJSON(f *testing.F) {
	for _, s := range encodeSeeds {
		f.Add(s, false)
	}
	f.Fuzz(func(t *testing.T, s string, truncated bool) {
		checkSameAsReference(t, resultOf(s, truncated))
		checkSameAsReference(t, &Result{Error: &SQLError{Message: s, Code: s, Detail: s, Hint: s, Position: len(s)}})
	})
}

var tagSeeds = []string{"", "SELECT 1", "INSERT 0 3", "CREATE TABLE", "SHOW", "UPDATE 12", "COPY 5", "FETCH 0", "MOVE 2",
	"DISCARD ALL", "  SELECT   1  ", "a\tb 1", "1", "1 2 3", "X -1", "X +2", "X 99999999999999999999", "X 1a", "SELECT 1 ", " x", "\u00a0 1"}

func FuzzParseTag(f *testing.F) {
	for _, s := range tagSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, tag string) {
		w1, n1 := parseTagFields(tag)
		w2, n2 := parseTag(tag)
		if w1 != w2 || n1 != n2 {
			t.Fatalf("parseTag(%q) = %q, %d; want %q, %d", tag, w2, n2, w1, n1)
		}
	})
}

func TestParseTag_SameAsFields(t *testing.T) {
	for _, tag := range tagSeeds {
		w1, n1 := parseTagFields(tag)
		if w2, n2 := parseTag(tag); w1 != w2 || n1 != n2 {
			t.Errorf("parseTag(%q) = %q, %d; want %q, %d", tag, w2, n2, w1, n1)
		}
	}
}
