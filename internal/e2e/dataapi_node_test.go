package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// supabaseDir is the npm project of the supabase-js and postgrest-js tests.
func supabaseDir(t *testing.T) string {
	t.Helper()
	return npmProject(t, "supabase", filepath.Join("@supabase", "supabase-js"), "supabase-js")
}

// nodeCase is a case of testdata/supabase/cases.js as `run.js list` prints it.
type nodeCase struct {
	Name     string `json:"name"`
	SQL      string `json:"sql"`
	CountSQL string `json:"countSql"`
	When     string `json:"when"`
}

// nodeResult is what a case returned to the JavaScript client.
type nodeResult struct {
	Name   string          `json:"name"`
	Data   json.RawMessage `json:"data"`
	Count  *int64          `json:"count"`
	Error  json.RawMessage `json:"error"`
	Status int             `json:"status"`
}

// sqlJSON runs a query returning one JSON value through /sql.
func (c *Client) sqlJSON(t *testing.T, db, query string) any {
	t.Helper()
	code, b := c.Do("POST", "/customer/databases/"+db+"/sql", map[string]any{"query": query})
	var r struct {
		Rows  [][]json.RawMessage `json:"rows"`
		Error *struct{ Message string }
	}
	if code != 200 || json.Unmarshal(b, &r) != nil || r.Error != nil || len(r.Rows) != 1 || len(r.Rows[0]) != 1 {
		t.Fatalf("sql %q: %d %s", query, code, b)
	}
	return decodeJSON(t, r.Rows[0][0])
}

func decodeJSON(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	if len(raw) == 0 {
		return nil
	}
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatalf("decode %s: %v", raw, err)
	}
	return v
}

// TestDataAPI_SupabaseJS drives @supabase/supabase-js and
// @supabase/postgrest-js from npm against a running server: every
// query-builder method on a realistic schema (testdata/supabase), each
// result compared with the same query through /sql.
func TestDataAPI_SupabaseJS(t *testing.T) {
	t.Parallel()
	dir := supabaseDir(t)
	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("app")
	schema, err := os.ReadFile(filepath.Join(dir, "schema.sql"))
	if err != nil {
		t.Fatal(err)
	}
	c.MustSQL(db.ID, string(schema))
	pk := c.createKey(db.Name, "publishable-keys", nil)
	sk := c.createKey(db.Name, "service-keys", nil)

	node := func(args ...string) []byte {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", append([]string{"run.js"}, args...)...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "DB9_DATA_URL=http://"+s.Addr+"/data/"+db.ID,
			"DB9_PUBLISHABLE_KEY="+pk.Key, "DB9_SERVICE_KEY="+sk.Key)
		out, err := cmd.Output()
		if err != nil {
			var stderr []byte
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = ee.Stderr
			}
			t.Fatalf("node run.js %v: %v\n%s", args, err, stderr)
		}
		return out
	}
	var cases []nodeCase
	if err := json.Unmarshal(node("list"), &cases); err != nil {
		t.Fatal(err)
	}
	type want struct {
		data  any
		count *int64
	}
	wants := map[string]want{}
	expected := func(when string) {
		for _, tc := range cases {
			if tc.When != when {
				continue
			}
			w := want{data: c.sqlJSON(t, db.ID, tc.SQL)}
			if tc.CountSQL != "" {
				n := int64(c.sqlJSON(t, db.ID, tc.CountSQL).(float64))
				w.count = &n
			}
			wants[tc.Name] = w
		}
	}
	expected("before")
	var results []nodeResult
	if err := json.Unmarshal(node("run"), &results); err != nil {
		t.Fatal(err)
	}
	expected("after")
	if len(results) != len(cases) {
		t.Fatalf("%d results for %d cases", len(results), len(cases))
	}
	for _, r := range results {
		w := wants[r.Name]
		if len(r.Error) > 0 && string(r.Error) != "null" {
			t.Errorf("%s: error %s (status %d)", r.Name, r.Error, r.Status)
			continue
		}
		if d := cmp.Diff(w.data, decodeJSON(t, r.Data)); d != "" {
			t.Errorf("%s: data differs from /sql (-sql +data api):\n%s", r.Name, d)
		}
		if w.count != nil && (r.Count == nil || *r.Count != *w.count) {
			t.Errorf("%s: count %v, want %d", r.Name, r.Count, *w.count)
		}
	}
	t.Logf("%d supabase-js / postgrest-js cases compared with /sql", len(results))
}
