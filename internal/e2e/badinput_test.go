package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/db9/db9/internal/layout"
)

// rawResponse is an HTTP answer with its headers.
type rawResponse struct {
	Status int
	Header http.Header
	Body   []byte
}

// rawAPICall sends body (raw bytes, none when empty) with the given
// Authorization header (none when empty). It never fails the test, so
// goroutines may use it.
func rawAPICall(s *Server, method, path, authorization, body string) (rawResponse, error) {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.Addr+path, r)
	if err != nil {
		return rawResponse{}, err
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return rawResponse{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return rawResponse{Status: resp.StatusCode, Header: resp.Header, Body: b}, err
}

// checkErrorResponse checks an error answer: the wanted status, JSON
// content type, a body {message, code} with the wanted code, and a message
// containing msgHas.
func checkErrorResponse(t testing.TB, what string, r rawResponse, status int, code, msgHas string) {
	t.Helper()
	if r.Status >= 500 {
		t.Errorf("%s: status %d (server error): %s", what, r.Status, r.Body)
		return
	}
	if r.Status != status {
		t.Errorf("%s: status %d, want %d: %s", what, r.Status, status, r.Body)
		return
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		t.Errorf("%s: Content-Type %q, want application/json", what, ct)
	}
	var e struct {
		Message *string `json:"message"`
		Code    *string `json:"code"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Message == nil || e.Code == nil || *e.Message == "" {
		t.Errorf("%s: body %q is not a JSON error {message, code}", what, r.Body)
		return
	}
	if *e.Code != code {
		t.Errorf("%s: code %q, want %q (message %q)", what, *e.Code, code, *e.Message)
	}
	if !strings.Contains(*e.Message, msgHas) {
		t.Errorf("%s: message %q does not mention %q", what, *e.Message, msgHas)
	}
}

// badCase is one request that must be refused.
type badCase struct {
	name   string
	method string
	path   string
	body   string
	auth   bool   // send the customer's token
	status int    // wanted status
	code   string // wanted error code
	msg    string // the message must contain this (the field's name)
}

// TestBadInput_API sends malformed, oversized, unknown and conflicting
// requests to a running server: each is refused with the right status and a
// JSON error, none is a 500, and the server keeps working.
func TestBadInput_API(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous()
	main := c.CreateDB("main")
	sqlPath := "/customer/databases/" + main.ID + "/sql"
	const inv, notFound = "invalid_request", "not_found"

	long := strings.Repeat("a", 64)
	cases := []badCase{
		// POST /customer/databases: wrong types, missing fields, bad names.
		{"CreateNameNumber", "POST", "/customer/databases", `{"name":1}`, true, 400, inv, "name"},
		{"CreateNameBool", "POST", "/customer/databases", `{"name":true}`, true, 400, inv, "name"},
		{"CreateNameArray", "POST", "/customer/databases", `{"name":["x"]}`, true, 400, inv, "name"},
		{"CreateNameObject", "POST", "/customer/databases", `{"name":{"x":1}}`, true, 400, inv, "name"},
		{"CreateRegionNumber", "POST", "/customer/databases", `{"name":"ok-1","region":5}`, true, 400, inv, "region"},
		{"CreateRegionUnknown", "POST", "/customer/databases", `{"name":"ok-1","region":"mars"}`, true, 400, inv, "region"},
		{"CreatePasswordNumber", "POST", "/customer/databases", `{"name":"ok-1","admin_password":12345678}`, true, 400, inv, "admin_password"},
		{"CreatePasswordShort", "POST", "/customer/databases", `{"name":"ok-1","admin_password":"short"}`, true, 400, inv, "admin_password"},
		{"CreateNameMissing", "POST", "/customer/databases", `{}`, true, 400, inv, "name"},
		{"CreateNameNull", "POST", "/customer/databases", `{"name":null}`, true, 400, inv, "name"},
		{"CreateOnlyOtherFields", "POST", "/customer/databases", `{"region":"local"}`, true, 400, inv, "name"},
		{"CreateNameEmpty", "POST", "/customer/databases", `{"name":""}`, true, 400, inv, "name"},
		{"CreateNameUppercase", "POST", "/customer/databases", `{"name":"Upper"}`, true, 400, inv, "name"},
		{"CreateNameLeadingDash", "POST", "/customer/databases", `{"name":"-lead"}`, true, 400, inv, "name"},
		{"CreateName64", "POST", "/customer/databases", `{"name":"` + long + `"}`, true, 400, inv, "name"},
		{"CreateNameUnicode", "POST", "/customer/databases", `{"name":"d\u00fcb"}`, true, 400, inv, "name"},
		{"CreateNameSpace", "POST", "/customer/databases", `{"name":"has space"}`, true, 400, inv, "name"},
		{"CreateNameUnderscore", "POST", "/customer/databases", `{"name":"a_b"}`, true, 400, inv, "name"},
		{"CreateNameDot", "POST", "/customer/databases", `{"name":"a.b"}`, true, 400, inv, "name"},
		{"CreateNameNewline", "POST", "/customer/databases", `{"name":"ok-1\n"}`, true, 400, inv, "name"},
		{"CreateNameSlash", "POST", "/customer/databases", `{"name":"a/b"}`, true, 400, inv, "name"},
		{"CreateDuplicateName", "POST", "/customer/databases", `{"name":"main"}`, true, 409, "conflict", "main"},
		{"CreateEmptyBody", "POST", "/customer/databases", ``, true, 400, inv, ""},
		{"CreateWhitespaceBody", "POST", "/customer/databases", " \n", true, 400, inv, ""},
		{"CreateArray", "POST", "/customer/databases", `[{"name":"ok-1"}]`, true, 400, inv, ""},
		{"CreateString", "POST", "/customer/databases", `"ok-1"`, true, 400, inv, ""},
		{"CreateNull", "POST", "/customer/databases", `null`, true, 400, inv, ""},
		{"CreateTruncated", "POST", "/customer/databases", `{"name":"ok-1"`, true, 400, inv, ""},
		{"CreateTrailingWord", "POST", "/customer/databases", `{"name":"ok-1"} garbage`, true, 400, inv, ""},
		{"CreateTrailingObject", "POST", "/customer/databases", `{"name":"ok-1"}{}`, true, 400, inv, ""},
		{"CreateTrailingBrace", "POST", "/customer/databases", `{"name":"ok-1"}}`, true, 400, inv, ""},
		{"CreateTrailingBracket", "POST", "/customer/databases", `{"name":"ok-1"}]`, true, 400, inv, ""},
		{"CreateLeadingNBSP", "POST", "/customer/databases", "\u00a0{\"name\":\"ok-1\"}", true, 400, inv, ""},
		{"CreateInvalidUTF8", "POST", "/customer/databases", "{\"name\":\"ok-\xff\"}", true, 400, inv, "UTF-8"},

		// POST .../sql.
		{"SQLQueryNumber", "POST", sqlPath, `{"query":1}`, true, 400, inv, "query"},
		{"SQLQueryBool", "POST", sqlPath, `{"query":false}`, true, 400, inv, "query"},
		{"SQLQueryArray", "POST", sqlPath, `{"query":["select 1"]}`, true, 400, inv, "query"},
		{"SQLQueryObject", "POST", sqlPath, `{"query":{}}`, true, 400, inv, "query"},
		{"SQLFileContentNumber", "POST", sqlPath, `{"file_content":1}`, true, 400, inv, "file_content"},
		{"SQLFileContentArray", "POST", sqlPath, `{"file_content":["select 1"]}`, true, 400, inv, "file_content"},
		{"SQLParamsString", "POST", sqlPath, `{"query":"select $1","params":"1"}`, true, 400, inv, "params"},
		{"SQLParamsObject", "POST", sqlPath, `{"query":"select $1","params":{"0":1}}`, true, 400, inv, "params"},
		{"SQLParamsNumber", "POST", sqlPath, `{"query":"select $1","params":1}`, true, 400, inv, "params"},
		{"SQLNeither", "POST", sqlPath, `{}`, true, 400, inv, "query"},
		{"SQLBothNull", "POST", sqlPath, `{"query":null,"file_content":null}`, true, 400, inv, "query"},
		{"SQLOnlyParams", "POST", sqlPath, `{"params":[1]}`, true, 400, inv, "query"},
		{"SQLBoth", "POST", sqlPath, `{"query":"select 1","file_content":"select 2"}`, true, 400, inv, "file_content"},
		{"SQLParamsWithFileContent", "POST", sqlPath, `{"file_content":"select 1","params":[1]}`, true, 400, inv, "params"},
		{"SQLNUL", "POST", sqlPath, `{"query":"select 1\u0000; select 2"}`, true, 400, inv, "query"},
		{"SQLEmptyBody", "POST", sqlPath, ``, true, 400, inv, ""},
		{"SQLArray", "POST", sqlPath, `[{"query":"select 1"}]`, true, 400, inv, ""},
		{"SQLTrailingGarbage", "POST", sqlPath, `{"query":"select 1"} x`, true, 400, inv, ""},
		{"SQLTrailingBrace", "POST", sqlPath, `{"query":"select 1"}}`, true, 400, inv, ""},
		{"SQLInvalidJSON", "POST", sqlPath, `{"query":'select 1'}`, true, 400, inv, ""},
		{"SQLInvalidUTF8", "POST", sqlPath, "{\"query\":\"select '\xc3\x28'\"}", true, 400, inv, "UTF-8"},

		// POST /customer/anonymous-refresh.
		{"RefreshIDNumber", "POST", "/customer/anonymous-refresh", `{"anonymous_id":1,"anonymous_secret":"x"}`, false, 400, inv, "anonymous_id"},
		{"RefreshSecretBool", "POST", "/customer/anonymous-refresh", `{"anonymous_id":"x","anonymous_secret":true}`, false, 400, inv, "anonymous_secret"},
		{"RefreshSecretArray", "POST", "/customer/anonymous-refresh", `{"anonymous_id":"x","anonymous_secret":["x"]}`, false, 400, inv, "anonymous_secret"},
		{"RefreshMissingID", "POST", "/customer/anonymous-refresh", `{"anonymous_secret":"x"}`, false, 400, inv, "anonymous_id"},
		{"RefreshMissingSecret", "POST", "/customer/anonymous-refresh", `{"anonymous_id":"x"}`, false, 400, inv, "anonymous_secret"},
		{"RefreshEmptyObject", "POST", "/customer/anonymous-refresh", `{}`, false, 400, inv, "anonymous_id"},
		{"RefreshEmptyBody", "POST", "/customer/anonymous-refresh", ``, false, 400, inv, ""},
		{"RefreshArray", "POST", "/customer/anonymous-refresh", `[]`, false, 400, inv, ""},
		{"RefreshTrailing", "POST", "/customer/anonymous-refresh", `{"anonymous_id":"x","anonymous_secret":"y"}]`, false, 400, inv, ""},
		{"RefreshWrongSecret", "POST", "/customer/anonymous-refresh", `{"anonymous_id":"x","anonymous_secret":"y"}`, false, 401, "unauthorized", ""},

		// Unknown databases, by id and by names valid or not.
		{"GetUnknownID", "GET", "/customer/databases/zzzzzzzzzzzz", ``, true, 404, notFound, ""},
		{"GetUnknownName", "GET", "/customer/databases/no-such-db", ``, true, 404, notFound, ""},
		{"GetInvalidName", "GET", "/customer/databases/NOPE", ``, true, 404, notFound, ""},
		{"GetLongName", "GET", "/customer/databases/" + strings.Repeat("x", 300), ``, true, 404, notFound, ""},
		{"GetEncodedSlash", "GET", "/customer/databases/a%2Fb", ``, true, 404, notFound, ""},
		{"GetEncodedQuote", "GET", "/customer/databases/%27%3B--", ``, true, 404, notFound, ""},
		{"DeleteUnknown", "DELETE", "/customer/databases/zzzzzzzzzzzz", ``, true, 404, notFound, ""},
		{"SQLUnknown", "POST", "/customer/databases/zzzzzzzzzzzz/sql", `{"query":"select 1"}`, true, 404, notFound, ""},
		{"CredentialsUnknown", "GET", "/customer/databases/zzzzzzzzzzzz/credentials", ``, true, 404, notFound, ""},
		{"ResetUnknown", "POST", "/customer/databases/zzzzzzzzzzzz/reset-password", ``, true, 404, notFound, ""},

		// Unknown paths and wrong methods.
		{"PathRoot", "GET", "/", ``, true, 404, notFound, ""},
		{"PathCustomer", "GET", "/customer", ``, true, 404, notFound, ""},
		{"PathUnknownResource", "GET", "/customer/nope", ``, true, 404, notFound, ""},
		{"PathUnknownSub", "POST", "/customer/databases/" + main.ID + "/nope", `{}`, true, 404, notFound, ""},
		{"PathTooDeep", "POST", sqlPath + "/extra", `{"query":"select 1"}`, true, 404, notFound, ""},
		{"PathNoAuth", "GET", "/customer/nope", ``, false, 404, notFound, ""},
		{"MethodPutDatabases", "PUT", "/customer/databases", `{"name":"x"}`, true, 405, "method_not_allowed", ""},
		{"MethodGetRegister", "GET", "/customer/anonymous-register", ``, false, 405, "method_not_allowed", ""},
		{"MethodPatchDatabase", "PATCH", "/customer/databases/" + main.ID, `{}`, true, 405, "method_not_allowed", ""},
		{"MethodGetSQL", "GET", sqlPath, ``, true, 405, "method_not_allowed", ""},
		{"MethodDeleteMe", "DELETE", "/customer/me", ``, true, 405, "method_not_allowed", ""},
		{"MethodGetReset", "GET", "/customer/databases/" + main.ID + "/reset-password", ``, true, 405, "method_not_allowed", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			auth := ""
			if tc.auth {
				auth = "Bearer " + c.Token
			}
			r, err := rawAPICall(s, tc.method, tc.path, auth, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			checkErrorResponse(t, tc.method+" "+tc.path, r, tc.status, tc.code, tc.msg)
			if tc.status == 405 && r.Header.Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}

	t.Run("BodyTooLarge", func(t *testing.T) {
		const max = 10 << 20
		// A valid request of exactly the limit is accepted...
		pad := max - len(`{"query":"select 1 -- "}`)
		r, err := rawAPICall(s, "POST", sqlPath, "Bearer "+c.Token, `{"query":"select 1 -- `+strings.Repeat("x", pad)+`"}`)
		if err != nil {
			t.Fatal(err)
		}
		if r.Status != 200 || !bytes.Contains(r.Body, []byte(`"rows":[[1]]`)) {
			t.Errorf("body of exactly 10 MiB: %d %.200s", r.Status, r.Body)
		}
		// ...and one byte more is not, on every endpoint that reads a body.
		for _, path := range []string{sqlPath, "/customer/databases", "/customer/anonymous-refresh", "/customer/anonymous-register"} {
			r, err := rawAPICall(s, "POST", path, "Bearer "+c.Token, `{"query":"select 1 -- `+strings.Repeat("x", pad+1)+`"}`)
			if err != nil {
				t.Fatalf("POST %s: %v", path, err)
			}
			checkErrorResponse(t, "POST "+path+" with 10 MiB + 1", r, 413, "payload_too_large", "")
		}
	})

	t.Run("SQLErrorIsAResult", func(t *testing.T) {
		for _, q := range []struct{ sql, code string }{{"SELECT 1/0", "22012"}, {"SELEC 1", "42601"}, {"SELECT * FROM no_such_table", "42P01"}} {
			r, err := rawAPICall(s, "POST", sqlPath, "Bearer "+c.Token, fmt.Sprintf(`{"query":%q}`, q.sql))
			if err != nil {
				t.Fatal(err)
			}
			var body map[string]json.RawMessage
			if r.Status != 200 || json.Unmarshal(r.Body, &body) != nil {
				t.Fatalf("%s: %d %s, want 200 JSON", q.sql, r.Status, r.Body)
			}
			if _, ok := body["rows"]; ok {
				t.Errorf("%s: error result has a rows key: %s", q.sql, r.Body)
			}
			var e struct {
				Message string `json:"message"`
				Code    string `json:"code"`
			}
			if err := json.Unmarshal(body["error"], &e); err != nil || e.Message == "" || e.Code != q.code {
				t.Errorf("%s: error %s, want {message, code: %s}", q.sql, body["error"], q.code)
			}
		}
	})

	t.Run("HugeResultTruncated", func(t *testing.T) {
		r, err := rawAPICall(s, "POST", sqlPath, "Bearer "+c.Token, `{"query":"SELECT g, repeat('x', 10) FROM generate_series(1, 20000) g"}`)
		if err != nil {
			t.Fatal(err)
		}
		var res struct {
			Rows      [][]any `json:"rows"`
			Truncated *bool   `json:"truncated"`
		}
		if r.Status != 200 || json.Unmarshal(r.Body, &res) != nil {
			t.Fatalf("status %d: %.300s", r.Status, r.Body)
		}
		if len(res.Rows) != 10000 || res.Truncated == nil || !*res.Truncated {
			t.Errorf("20000-row result: %d rows, truncated %v; want 10000 rows and truncated true", len(res.Rows), res.Truncated)
		}
		if len(res.Rows) > 0 && (res.Rows[0][0] != float64(1) || res.Rows[len(res.Rows)-1][0] != float64(len(res.Rows))) {
			t.Errorf("truncated rows are not the first ones: first %v last %v", res.Rows[0], res.Rows[len(res.Rows)-1])
		}
	})

	t.Run("AnonymousQuota", func(t *testing.T) {
		q := bindClient(t, s.Anonymous())
		var ids []string
		for i := 1; i <= 5; i++ {
			ids = append(ids, q.CreateDB(fmt.Sprintf("q%d", i)).ID)
		}
		r, err := rawAPICall(s, "POST", "/customer/databases", "Bearer "+q.Token, `{"name":"q6"}`)
		if err != nil {
			t.Fatal(err)
		}
		checkErrorResponse(t, "6th database", r, 403, "quota_exceeded", "")
		var e map[string]any
		_ = json.Unmarshal(r.Body, &e)
		if e["message"] != "anonymous account limit (5 databases)" {
			t.Errorf("6th database: message %q, want %q", e["message"], "anonymous account limit (5 databases)")
		}
		if len(q.ListDBs(true)) != 5 {
			t.Errorf("the refused 6th database was recorded")
		}
		// A deleted database no longer counts.
		q.MustDo("DELETE", "/customer/databases/"+ids[0], nil, 200, nil)
		q.CreateDB("q6")
	})

	t.Run("ConcurrentDeletes", func(t *testing.T) {
		cc := bindClient(t, c)
		doomed := cc.CreateDB("doomed")
		const n = 10
		var wg sync.WaitGroup
		results := make([]rawResponse, n)
		errs := make([]error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				results[i], errs[i] = rawAPICall(s, "DELETE", "/customer/databases/"+doomed.ID, "Bearer "+c.Token, "")
			}()
		}
		wg.Wait()
		ok := 0
		for i, r := range results {
			if errs[i] != nil {
				t.Fatalf("DELETE %d: %v", i, errs[i])
			}
			if r.Status == 200 {
				ok++
				continue
			}
			checkErrorResponse(t, fmt.Sprintf("concurrent DELETE %d", i), r, 404, notFound, "")
		}
		if ok != 1 {
			t.Errorf("%d of %d concurrent DELETEs answered 200, want exactly 1", ok, n)
		}
		if _, err := os.Stat((layout.Layout{DataDir: s.DataDir}).DB(doomed.ID).Dir); !os.IsNotExist(err) {
			t.Errorf("instance directory of the deleted database remains (stat: %v)", err)
		}
		if pid := s.postmasterOf(doomed.ID); pid != 0 {
			t.Errorf("postmaster %d of the deleted database still runs", pid)
		}
		// The server still works.
		code, body := cc.Do("GET", "/customer/databases/"+doomed.ID, nil)
		if code != 404 {
			t.Errorf("GET deleted database: %d %s", code, body)
		}
		again := cc.CreateDB("doomed")
		if got := sqlValue(t, cc, again.ID, "SELECT 7"); got != float64(7) {
			t.Errorf("SQL on the re-created database: %v", got)
		}
	})

	// Nothing that was refused left a database behind, and the server is
	// still serving.
	var list []Database
	bindClient(t, c).MustDo("GET", "/customer/databases", nil, 200, &list)
	var names []string
	for _, d := range list {
		names = append(names, d.Name)
	}
	if strings.Join(names, ",") != "doomed,main" {
		t.Errorf("databases after the bad requests: %v, want [doomed main]", names)
	}
	if got := sqlValue(t, c, main.ID, "SELECT 1"); got != float64(1) {
		t.Errorf("SELECT 1 at the end: %v", got)
	}
}
