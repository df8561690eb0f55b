package sqlexec_test

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/db9/db9/internal/sqlexec"
)

func TestRequest_Validate(t *testing.T) {
	q, f := "select 1", "select 2"
	tests := []struct {
		name  string
		req   sqlexec.Request
		field string // "" for valid
	}{
		{"query", sqlexec.Request{Query: &q}, ""},
		{"empty query", sqlexec.Request{Query: ptr("")}, ""},
		{"file", sqlexec.Request{FileContent: &f}, ""},
		{"query with params", sqlexec.Request{Query: &q, Params: []json.RawMessage{json.RawMessage(`1`)}}, ""},
		{"neither", sqlexec.Request{}, "query"},
		{"both", sqlexec.Request{Query: &q, FileContent: &f}, "file_content"},
		{"file with params", sqlexec.Request{FileContent: &f, Params: []json.RawMessage{}}, "params"},
		{"bad param", sqlexec.Request{Query: &q, Params: []json.RawMessage{json.RawMessage(`{`)}}, "params"},
		{"too many params", sqlexec.Request{Query: &q, Params: make([]json.RawMessage, 70000)}, "params"},
		{"NUL in query", sqlexec.Request{Query: ptr("select 1\x00")}, "query"},
		{"NUL in file", sqlexec.Request{FileContent: ptr("\x00")}, "file_content"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.req.Validate()
			var rerr *sqlexec.RequestError
			switch {
			case tt.field == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tt.field != "" && (!errors.As(err, &rerr) || rerr.Field != tt.field):
				t.Fatalf("Validate = %v, want a RequestError on %s", err, tt.field)
			}
		})
	}
}

func TestRequest_DecodesFromBody(t *testing.T) {
	var r sqlexec.Request
	if err := json.Unmarshal([]byte(`{"query":"select $1","params":[1,"a",null,[1]]}`), &r); err != nil {
		t.Fatal(err)
	}
	if r.Query == nil || *r.Query != "select $1" || r.FileContent != nil || len(r.Params) != 4 {
		t.Fatalf("decoded %+v", r)
	}
}
