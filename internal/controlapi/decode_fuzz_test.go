package controlapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/platform"
)

// decodeSeeds are bodies for both decoders: valid and invalid shapes, the
// edge cases of the JSON reader (whitespace, trailing data, nesting) and
// wrong types for every field.
var decodeSeeds = []string{
	``,
	` `,
	`{}`,
	`[]`,
	`null`,
	`"query"`,
	`1`,
	`{`,
	`}`,
	`{"query":"select 1"}`,
	` {"query":"select 1"} `,
	"\t{\"query\":\"select 1\"}\r\n",
	"\u00a0{\"query\":\"select 1\"}",
	"\u0085{\"query\":\"select 1\"}\u0085",
	`{"query":"select $1, $2","params":[1,"two",null,true,{"a":[1]},[1,2]]}`,
	`{"query":"select 1","params":[]}`,
	`{"query":"select 1","params":null}`,
	`{"query":"select 1","params":"1"}`,
	`{"query":"select 1","params":{}}`,
	`{"query":"select 1","params":1}`,
	`{"file_content":"select 1; select 2;"}`,
	`{"file_content":"select 1","params":[1]}`,
	`{"file_content":"select 1","params":[]}`,
	`{"file_content":"select 1","params":null}`,
	`{"query":"select 1","file_content":"select 2"}`,
	`{"query":null,"file_content":null}`,
	`{"query":"select 1","query":null}`,
	`{"QUERY":"select 1"}`,
	`{"query":1}`,
	`{"query":true}`,
	`{"query":["select 1"]}`,
	`{"query":{"a":1}}`,
	`{"file_content":5}`,
	`{"query":"select 1\u0000"}`,
	`{"query":"\ud800"}`,
	"{\"query\":\"\xff\xfe\"}",
	`{"query":"select 1"} garbage`,
	`{"query":"select 1"}{}`,
	`{"query":"select 1"}}`,
	`{"query":"select 1"}]`,
	`{"query":"select 1"},`,
	`{"query":"select 1",}`,
	`{"name":"db-1"}`,
	`{"name":"db-1","region":"local","admin_password":"correct horse battery"}`,
	`{"name":"db-1","region":null,"admin_password":null}`,
	`{"name":null}`,
	`{"name":1}`,
	`{"name":true}`,
	`{"name":[]}`,
	`{"name":{}}`,
	`{"name":"db-1","region":5}`,
	`{"name":"db-1","admin_password":12345678}`,
	`{"name":"db-1"} x`,
	`{"name":"db-1"}}`,
	`{"name":"db-1","extra":{"deep":[1,2,{"x":null}]}}`,
	`{"name":"` + strings.Repeat("a", 64) + `"}`,
	`{"a":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`,
	`{"name":1e400}`,
	`{"name":"\u00fc"}`,
	` { "query" : "select 'ü', \"x\"" } `,
	`{"query":"a\tb"}`,
	"{\"query\":\"a\tb\"}",
	`{"query":"select '<&>'"}`,
	`{"query":""}`,
	`{"query":"x"`,
	`{"query":"x" , }`,
	`{"query" "x"}`,
	`{"query":"select 1"}` + "\n",
}

func addSeeds(f *testing.F) {
	for _, s := range decodeSeeds {
		f.Add([]byte(s))
	}
}

// checkDecodeError holds for every error of a body decoder: it is a
// *platform.Error with a 400 or 413 code and a message to show.
func checkDecodeError(t *testing.T, body []byte, err error) {
	t.Helper()
	var pe *platform.Error
	if !errors.As(err, &pe) {
		t.Fatalf("body %q: error %v (%T) is not a *platform.Error", body, err, err)
	}
	if pe.Code != platform.CodeInvalid && pe.Code != platform.CodeTooLarge {
		t.Fatalf("body %q: error code %q, want %q or %q", body, pe.Code, platform.CodeInvalid, platform.CodeTooLarge)
	}
	if pe.Message == "" {
		t.Fatalf("body %q: error without a message: %v", body, err)
	}
}

// checkOneJSONObject holds for every accepted body: it is exactly one JSON
// object, with only JSON whitespace around it.
func checkOneJSONObject(t *testing.T, body []byte) {
	t.Helper()
	trimmed := bytes.Trim(body, " \t\r\n")
	if !json.Valid(body) || len(trimmed) == 0 || trimmed[0] != '{' {
		t.Fatalf("accepted body %q is not exactly one JSON object", body)
	}
}

func FuzzDecodeSQLRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeSQLRequest(body)
		if q, ok := plainQuery(body); ok {
			// The fast path answers as encoding/json would.
			slow, slowErr := decodeSQLRequestJSON(body)
			if slowErr != nil {
				t.Fatalf("body %q: plainQuery took %q, encoding/json says %v", body, q, slowErr)
			}
			if diff := cmp.Diff(slow, req); diff != "" {
				t.Fatalf("body %q: plainQuery differs from encoding/json (-json +plain):\n%s", body, diff)
			}
		}
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkOneJSONObject(t, body)
		if (req.Query == nil) == (req.FileContent == nil) {
			t.Fatalf("body %q: accepted with query set %v and file_content set %v; want exactly one", body, req.Query != nil, req.FileContent != nil)
		}
		text := req.Query
		if req.FileContent != nil {
			text = req.FileContent
			if req.Params != nil {
				t.Fatalf("body %q: accepted params with file_content", body)
			}
		}
		if strings.IndexByte(*text, 0) >= 0 {
			t.Fatalf("body %q: accepted SQL text with a NUL byte", body)
		}
		for i, p := range req.Params {
			if !json.Valid(p) {
				t.Fatalf("body %q: params[%d] = %q is not a JSON value", body, i, p)
			}
		}
	})
}

func FuzzDecodeCreateDatabase(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeCreateDatabaseRequest(body)
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		checkOneJSONObject(t, body)
		// The name must have been present as a JSON string: decode the body
		// independently and compare.
		var raw map[string]json.RawMessage
		if err := json.Unmarshal(bytes.Trim(body, " \t\r\n"), &raw); err != nil {
			t.Fatalf("body %q: accepted but not an object: %v", body, err)
		}
		var found bool
		for k, v := range raw {
			if strings.EqualFold(k, "name") && len(v) > 0 && v[0] == '"' {
				found = true
			}
		}
		if !found {
			t.Fatalf("body %q: accepted without a string name (decoded name %q)", body, req.Name)
		}
	})
}

// TestDecode_Seeds runs the decoders over the seeds in plain `go test`, and
// pins the answers for a few bodies whose verdict matters.
func TestDecode_Seeds(t *testing.T) {
	cases := []struct {
		body     string
		sqlOK    bool
		createOK bool
	}{
		{`{"query":"select 1"}`, true, false},
		{`{"file_content":"select 1"}`, true, false},
		{`{"name":"db-1"}`, false, true},
		{`{"query":"select 1"}}`, false, false},
		{`{"query":"select 1"}]`, false, false},
		{`{"name":"db-1"}}`, false, false},
		{"\u00a0{\"name\":\"db-1\"}", false, false},
		{`{"query":"a","file_content":"b"}`, false, false},
		{`{"file_content":"a","params":[]}`, false, false},
	}
	for _, c := range cases {
		_, err := decodeSQLRequest([]byte(c.body))
		if (err == nil) != c.sqlOK {
			t.Errorf("decodeSQLRequest(%q) error = %v, want ok %v", c.body, err, c.sqlOK)
		}
		_, err = decodeCreateDatabaseRequest([]byte(c.body))
		if (err == nil) != c.createOK {
			t.Errorf("decodeCreateDatabaseRequest(%q) error = %v, want ok %v", c.body, err, c.createOK)
		}
	}
}
