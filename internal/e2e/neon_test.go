package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// neonDir is the npm project of the Neon serverless driver tests.
func neonDir(t *testing.T) string {
	t.Helper()
	return npmProject(t, "neon", filepath.Join("@neondatabase", "serverless"), "the Neon driver")
}

// TestNeon_ServerlessDriver runs @neondatabase/serverless in Node against
// a real server, configured only by its documented knobs (docs/NEON.md):
// HTTP queries (tagged template, query(), arrayMode, fullResults, a
// transaction of several and one that fails, types through the driver's
// parsers, SQL and login errors), the WebSocket mode (Pool and Client,
// transactions), and drizzle-orm/neon-http.
func TestNeon_ServerlessDriver(t *testing.T) {
	dir := neonDir(t)
	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("neon")

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "run.mjs")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "DB9_HTTP="+s.Addr, "DATABASE_URL="+db.ConnectionString)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("node run.mjs: %v\n%s\n%s", err, out, stderr.String())
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("decode %s: %v", out, err)
	}
	var want map[string]any
	if err := json.Unmarshal([]byte(`{
		"single": [{"answer": 42, "name": "db9"}],
		"query": [{"s": "ab"}],
		"arrayMode": [[1, 2]],
		"full": {"command": "SELECT", "rowCount": 1, "rows": [{"n": 7}], "rowAsArray": false, "fields": [{"name": "n", "dataTypeID": 23}]},
		"tx": [[], [], [{"name": "apple", "qty": 3}, {"name": "pear", "qty": 5}]],
		"txError": "22012",
		"afterFailedTx": [{"n": 0}],
		"types": {"big": "9007199254740993", "bigType": "string", "num": "12345.678901234567890",
			"doc": {"k": [1, "two", null]}, "at": "2024-05-06T07:08:09.123Z", "bin": "deadbeef",
			"ints": [1, 2, 3], "texts": ["x", "y,z", null], "yes": true, "echoed": "0102ff",
			"echoedAt": "2020-01-02T03:04:05.000Z"},
		"sqlError": {"name": "NeonDbError", "message": "column \"no_such_column\" does not exist", "code": "42703", "position": "8", "severity": "ERROR"},
		"authError": {"message": "password authentication failed for user \"admin\"", "code": "28P01"},
		"wsPool": {"inside": 1, "afterRollback": 0},
		"wsClient": {"user": "admin", "qty": 11},
		"drizzle": {"inserted": [{"name": "drizzle", "qty": 42}], "selected": [{"name": "drizzle", "qty": 42}]}
	}`), &want); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("what the driver saw (-want +got):\n%s", d)
	}
	// The WebSocket session's writes went through the front door into the
	// same database the HTTP queries see.
	r := c.MustSQL(db.ID, "SELECT name FROM neon_items ORDER BY id")
	var names []string
	for _, row := range r.Rows {
		names = append(names, row[0].(string))
	}
	if d := cmp.Diff([]string{"apple", "pear", "ws-client", "drizzle"}, names); d != "" {
		t.Errorf("rows in the database (-want +got):\n%s", d)
	}
}

// TestNeon_SQLOverHTTP_Routing: POST /sql names the database and role as
// the front door does, and refuses what it cannot serve with Neon's shape.
func TestNeon_SQLOverHTTP_Routing(t *testing.T) {
	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("neonroute")
	var creds struct {
		AdminPassword string `json:"admin_password"`
	}
	c.MustDo("GET", "/customer/databases/"+db.ID+"/credentials", nil, 200, &creds)
	post := func(conn string, hdr map[string]string, body string) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequest("POST", "http://"+s.Addr+"/sql", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if conn != "" {
			req.Header.Set("Neon-Connection-String", conn)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
			t.Fatalf("decode: %v", err)
		}
		return resp.StatusCode, out
	}
	pw := url.QueryEscape(creds.AdminPassword)
	host := s.PGAddr
	who := `{"query":"SELECT current_user AS u"}`
	for name, conn := range map[string]string{
		"user":     "postgresql://" + db.ID + ".admin:" + pw + "@" + host + "/postgres",
		"options":  "postgresql://admin:" + pw + "@" + host + "/postgres?options=endpoint%3D" + db.Name,
		"password": "postgresql://admin:" + url.QueryEscape("endpoint="+db.ID+"$"+creds.AdminPassword) + "@" + host + "/postgres",
	} {
		code, out := post(conn, nil, who)
		if code != 200 || fmt.Sprint(out["rows"]) != "[map[u:admin]]" {
			t.Errorf("%s: %d %v", name, code, out)
		}
	}
	good := "postgresql://" + db.ID + ".admin:" + pw + "@" + host + "/postgres"
	for _, c := range []struct {
		name, conn string
		hdr        map[string]string
		body       string
		status     int
		code       string
	}{
		{"no connection string", "", nil, who, 400, ""},
		{"no database named", "postgresql://admin:" + pw + "@" + host + "/postgres", nil, who, 400, "28000"},
		{"unknown database", "postgresql://nosuchdb.admin:x@" + host + "/postgres", nil, who, 400, "3D000"},
		{"other PostgreSQL database", "postgresql://" + db.ID + ".admin:" + pw + "@" + host + "/template1", nil, who, 400, "3D000"},
		{"reserved role", "postgresql://" + db.ID + "._db9_authenticator:x@" + host + "/postgres", nil, who, 400, "28000"},
		{"bad isolation level", good, map[string]string{"Neon-Batch-Isolation-Level": "Chaos"}, `{"queries":[]}`, 400, ""},
		{"not JSON", good, nil, `SELECT 1`, 400, ""},
		{"two statements", good, nil, `{"query":"SELECT 1; SELECT 2"}`, 400, "42601"},
		{"read-only batch", good, map[string]string{"Neon-Batch-Read-Only": "true"}, `{"queries":[{"query":"CREATE TABLE x (a int)"}]}`, 400, "25006"},
	} {
		status, out := post(c.conn, c.hdr, c.body)
		if status != c.status || c.code != "" && out["code"] != c.code || out["message"] == "" {
			t.Errorf("%s: %d %v, want %d %s", c.name, status, out, c.status, c.code)
		}
	}
	// A batch's options are echoed, and an empty batch is an empty answer.
	status, out := post(good, map[string]string{"Neon-Raw-Text-Output": "true"}, `{"queries":[]}`)
	if status != 200 || fmt.Sprint(out["results"]) != "[]" {
		t.Errorf("empty batch: %d %v", status, out)
	}
}
