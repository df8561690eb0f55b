package neon

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParamText_AsNeonProxy(t *testing.T) {
	for _, c := range []struct {
		in   string
		want *string
	}{
		{`null`, nil},
		{`"it's"`, ptr("it's")},
		{`42`, ptr("42")},
		{`true`, ptr("true")},
		{`{"a": [1, 2]}`, ptr(`{"a":[1,2]}`)},
		{`[1, null, "x y", "q\"b\\", [true]]`, ptr(`{1,NULL,"x y","q\"b\\",{true}}`)},
		{`[{"k": 1}]`, ptr(`{"{\"k\":1}"}`)},
	} {
		got, err := paramText(json.RawMessage(c.in))
		if err != nil {
			t.Errorf("%s: %v", c.in, err)
			continue
		}
		if (got == nil) != (c.want == nil) || got != nil && string(got) != *c.want {
			t.Errorf("paramText(%s) = %q, want %v", c.in, got, c.want)
		}
	}
}

func ptr(s string) *string { return &s }

func TestParseTag(t *testing.T) {
	for tag, want := range map[string]struct {
		name string
		n    int64
	}{
		"SELECT 3": {"SELECT", 3}, "INSERT 0 2": {"INSERT", 2}, "UPDATE 0": {"UPDATE", 0},
		"CREATE TABLE": {"CREATE", -1}, "BEGIN": {"BEGIN", -1}, "": {"", -1},
	} {
		name, n := parseTag(tag)
		if name != want.name || n != want.n {
			t.Errorf("parseTag(%q) = %q, %d; want %q, %d", tag, name, n, want.name, want.n)
		}
	}
}

func TestAppendTyped_Arrays(t *testing.T) {
	for _, c := range []struct {
		text string
		oid  uint32
		want string
	}{
		{`{1,2,NULL}`, 1007, `[1,2,null]`},
		{`{{1,2},{3,4}}`, 1007, `[[1,2],[3,4]]`},
		{`[0:1]={7,8}`, 1007, `[7,8]`},
		{`{"a b","q\"x",NULL,"NULL"}`, 1009, `["a b","q\"x",null,"NULL"]`},
		{`{t,f}`, 1000, `[true,false]`},
		{`{NaN,1.5}`, 1022, `["NaN",1.5]`},
		{`{"{\"a\": 1}"}`, 3807, `[{"a": 1}]`},
		{`{1,2`, 1007, `"{1,2"`},
		{`12345678901`, 20, `"12345678901"`},
	} {
		if got := string(appendTyped(nil, c.text, c.oid, 0)); got != c.want {
			t.Errorf("appendTyped(%q, %d) = %s, want %s", c.text, c.oid, got, c.want)
		}
	}
}

func TestDecodePayload(t *testing.T) {
	p, err := decodePayload([]byte(`{"queries":[{"query":"SELECT $1","params":[1]},{"query":"SELECT 2","arrayMode":false}]}`))
	if err != nil || p.single != nil || len(p.batch) != 2 || string(p.batch[0].params[0]) != "1" || *p.batch[1].arrayMode {
		t.Fatalf("batch: %+v, %v", p, err)
	}
	for _, bad := range []string{``, `[]`, `{}`, `{"queries":[{}]}`, `{"query":1}`, `{"query":"x","params":[{]}`} {
		if _, err := decodePayload([]byte(bad)); err == nil {
			t.Errorf("decodePayload(%q) succeeded", bad)
		}
	}
}

func TestParseHeaders(t *testing.T) {
	h := http.Header{}
	h.Set("Neon-Batch-Isolation-Level", "RepeatableRead")
	h.Set("Neon-Batch-Read-Only", "true")
	h.Set("Neon-Batch-Deferrable", "TRUE") // only exactly "true" counts
	o, err := parseHeaders(h)
	if err != nil || o.begin != "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY" {
		t.Fatalf("begin = %q, %v", o.begin, err)
	}
	h.Set("Neon-Batch-Isolation-Level", "Chaos")
	if _, err := parseHeaders(h); err == nil {
		t.Fatal("an unknown isolation level was accepted")
	}
}

func TestParseConnString(t *testing.T) {
	ci, err := parseConnString("postgresql://role%40x:p%24ss@db1.example.com:5433/postgres?options=endpoint%3Dabc&application_name=x")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(connInfo{user: "role@x", password: "p$ss", host: "db1.example.com", database: "postgres", options: "endpoint=abc"}, ci, cmp.AllowUnexported(connInfo{})); d != "" {
		t.Error(d)
	}
	for _, bad := range []string{"", "http://a@b/c", "postgresql://host/db", "::"} {
		if _, err := parseConnString(bad); err == nil {
			t.Errorf("parseConnString(%q) succeeded", bad)
		}
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range []string{`{"query":"SELECT 1","params":[null,"a",[1,[2]],{"k":"v"}]}`, `{"queries":[{"query":"x"}]}`, `{"query":"","params":[[[[[[[[1]]]]]]]]}`} {
		f.Add(s, "{1,{2,\"x\"},NULL}")
	}
	f.Fuzz(func(t *testing.T, body, array string) {
		_, _ = decodePayload([]byte(body))
		out := appendTyped(nil, array, 1009, 0)
		if !json.Valid(out) {
			t.Fatalf("appendTyped(%q) is not JSON: %s", array, out)
		}
	})
}
