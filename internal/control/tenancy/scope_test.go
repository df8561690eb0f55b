package tenancy

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/db9/db9/internal/platform"
)

func TestParseScopeJSON(t *testing.T) {
	cases := []struct {
		in string
		ok bool
	}{
		{`{"databases":[{"id":"abc","access":"ro"}]}`, true},
		{`{"databases":[{"id":"abc","access":"rw"},{"id":"def","access":"ro"}]}`, true},
		{` {"databases":[{"id":"abc","access":"rw"}]} `, true},
		{`{"databases":[]}`, false},
		{`{}`, false},
		{`{"databases":[{"id":"abc","access":"admin"}]}`, false},
		{`{"databases":[{"id":"","access":"ro"}]}`, false},
		{`{"databases":[{"id":"abc"}]}`, false},
		{`{"database":[{"id":"abc","access":"ro"}]}`, false},
		{`{"databases":[{"id":"abc","access":"ro","extra":1}]}`, false},
		{`{"databases":[{"id":"abc","access":"ro"}]} {}`, false},
		{`"full"`, false},
		{`null`, false},
		{``, false},
	}
	for _, c := range cases {
		s, err := ParseScopeJSON(c.in)
		if (err == nil) != c.ok {
			t.Errorf("ParseScopeJSON(%q) = %v, %v; want ok %v", c.in, s, err, c.ok)
		}
		if err != nil && platform.ErrorCode(err) != platform.CodeInvalid {
			t.Errorf("ParseScopeJSON(%q): code %s, want %s", c.in, platform.ErrorCode(err), platform.CodeInvalid)
		}
	}
}

func TestScope_Access(t *testing.T) {
	var full *Scope
	if full.Access("x") != AccessRW {
		t.Errorf("nil scope is not full access")
	}
	s := &Scope{Databases: []ScopeDatabase{{ID: "a", Access: AccessRO}, {ID: "b", Access: AccessRW}}}
	for id, want := range map[string]string{"a": AccessRO, "b": AccessRW, "c": ""} {
		if got := s.Access(id); got != want {
			t.Errorf("access(%q) = %q, want %q", id, got, want)
		}
	}
	if RequireWrite(Principal{Scope: s}, "a") == nil || RequireWrite(Principal{Scope: s}, "b") != nil || RequireWrite(Principal{}, "a") != nil {
		t.Errorf("RequireWrite disagrees with the scope")
	}
	if RequireUnscoped(Principal{Scope: s}) == nil || RequireUnscoped(Principal{}) != nil {
		t.Errorf("RequireUnscoped disagrees with the scope")
	}
}

// FuzzParseScopeJSON: whatever is accepted names 1-100 databases, each
// with an id and ro or rw, and survives a store/load round trip.
func FuzzParseScopeJSON(f *testing.F) {
	for _, s := range []string{`{"databases":[{"id":"abc","access":"ro"}]}`, `{"databases":[]}`,
		`{"databases":[{"id":"a","access":"rw"}]}x`, `[`, `{"databases":null}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		s, err := ParseScopeJSON(in)
		if err != nil {
			if platform.ErrorCode(err) != platform.CodeInvalid {
				t.Fatalf("error code %s", platform.ErrorCode(err))
			}
			return
		}
		if strings.TrimSpace(in) == "" {
			t.Fatalf("accepted blank input")
		}
		if n := len(s.Databases); n < 1 || n > maxScopeDatabases {
			t.Fatalf("accepted %d databases", n)
		}
		for _, d := range s.Databases {
			if d.ID == "" || (d.Access != AccessRO && d.Access != AccessRW) {
				t.Fatalf("accepted %+v", d)
			}
		}
		raw, _ := json.Marshal(s)
		back, err := ParseStoredScope(raw)
		if err != nil || len(back.Databases) != len(s.Databases) {
			t.Fatalf("round trip of %s: %v", raw, err)
		}
	})
}
