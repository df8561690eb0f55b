package e2e

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/db9/db9/internal/pgtest"
)

// endpoint kinds of the authorization matrix.
const (
	kAccount  = iota // about the caller's account; any valid token
	kUnscoped        // account-wide changes: unscoped tokens only
	kDBRead          // reads one database: any token that sees it
	kDBWrite         // changes one database or hands out its logins: rw access
)

type matrixEndpoint struct {
	method, path string // {db} is replaced by the database reference
	body         any
	kind         int
}

func matrixEndpoints(sql string) []matrixEndpoint {
	ck := func(s string) string { return checksum(s) }
	mig := "CREATE TABLE matrix_mig (v int)"
	return []matrixEndpoint{
		{"GET", "/customer/me", nil, kAccount},
		{"GET", "/customer/databases", nil, kAccount},
		{"POST", "/customer/tokens", map[string]any{"name": "m"}, kUnscoped},
		{"GET", "/customer/tokens", nil, kUnscoped},
		{"DELETE", "/customer/tokens/zzzzzzzzzzzzzzzz", nil, kUnscoped},
		{"POST", "/customer/claim", map[string]any{"id_token": "a.b.c"}, kUnscoped},
		{"POST", "/customer/adopt-anonymous-databases/preflight", map[string]any{"anonymous_customer_id": "x", "anonymous_secret": "y"}, kUnscoped},
		{"POST", "/customer/adopt-anonymous-databases", map[string]any{"anonymous_customer_id": "x", "anonymous_secret": "y", "database_ids": []string{"zzzzzzzzzzzz"}, "idempotency_key": "k"}, kUnscoped},
		{"POST", "/customer/databases", map[string]any{"name": "matrix-new"}, kUnscoped},
		{"DELETE", "/customer/databases/{db}", nil, kUnscoped},
		{"GET", "/customer/databases/{db}", nil, kDBRead},
		{"POST", "/customer/databases/{db}/sql", map[string]any{"query": sql}, kDBRead},
		{"GET", "/customer/databases/{db}/schema", nil, kDBRead},
		{"POST", "/customer/databases/{db}/dump", map[string]any{"ddl_only": true}, kDBRead},
		{"GET", "/customer/databases/{db}/users", nil, kDBRead},
		{"GET", "/customer/databases/{db}/migrations", nil, kDBRead},
		{"GET", "/customer/databases/{db}/connect-keys", nil, kDBRead},
		{"GET", "/customer/databases/{db}/credentials", nil, kDBWrite},
		{"POST", "/customer/databases/{db}/reset-password", nil, kDBWrite},
		{"POST", "/customer/databases/{db}/users", map[string]any{"username": "matrix_user"}, kDBWrite},
		{"DELETE", "/customer/databases/{db}/users/matrix_user", nil, kDBWrite},
		{"POST", "/customer/databases/{db}/migrations", map[string]any{"name": "m1", "sql": mig, "checksum": ck(mig)}, kDBWrite},
		{"POST", "/customer/databases/{db}/connect-token", map[string]any{}, kDBWrite},
		{"POST", "/customer/databases/{db}/connect-keys", map[string]any{"name": "m"}, kDBWrite},
		{"DELETE", "/customer/databases/{db}/connect-keys/zzzzzzzzzzzzzzzz", nil, kDBWrite},
		{"GET", "/customer/databases/{db}/auth-config", nil, kDBRead},
		{"PUT", "/customer/databases/{db}/auth-config", map[string]any{"auth_mode": "none"}, kDBWrite},
		{"GET", "/customer/databases/{db}/publishable-keys", nil, kDBRead},
		{"POST", "/customer/databases/{db}/publishable-keys", map[string]any{"name": "m"}, kDBWrite},
		{"DELETE", "/customer/databases/{db}/publishable-keys/zzzzzzzzzzzzzzzz", nil, kDBWrite},
		{"GET", "/customer/databases/{db}/service-keys", nil, kDBRead},
		{"POST", "/customer/databases/{db}/service-keys", map[string]any{"name": "m"}, kDBWrite},
		{"DELETE", "/customer/databases/{db}/service-keys/zzzzzzzzzzzzzzzz", nil, kDBWrite},
	}
}

func (e matrixEndpoint) at(db string) string { return strings.ReplaceAll(e.path, "{db}", db) }

// TestAuthz_Matrix sends every authenticated /customer endpoint with every
// kind of bad or limited credential and checks the documented answer, and
// that no answer differs between another customer's database and one that
// does not exist.
func TestAuthz_Matrix(t *testing.T) {
	t.Parallel()
	ext := pgtest.Start(t)
	iss := startIssuer(t)
	s := StartServer(t, "--catalog-url", ext.ConnString(pgtest.Superuser), "--oidc-issuer", iss.URL, "--oidc-audience", testAudience)
	a := s.Anonymous()
	target := a.CreateDB("target")
	otherDB := a.CreateDB("other")
	a.MustSQL(target.ID, "CREATE TABLE t (v int); INSERT INTO t VALUES (1)")
	b := s.Anonymous()
	b.CreateDB("bees")

	revoked := a.newToken("revoked", nil)
	a.MustDo("DELETE", "/customer/tokens/"+revoked.ID, nil, 200, nil)
	expired := a.newToken("expired", nil)
	catalogExec(t, ext, `UPDATE api_tokens SET expires_at = now() - interval '1 second' WHERE id = $1`, expired.ID)
	scopedOther := a.newToken("other-db", scopeOf("rw", otherDB.ID))
	ro := a.newToken("ro", scopeOf("ro", target.ID))
	var pk, sk struct{ Key string }
	a.MustDo("POST", "/customer/databases/"+otherDB.ID+"/publishable-keys", map[string]any{}, 201, &pk)
	a.MustDo("POST", "/customer/databases/"+otherDB.ID+"/service-keys", map[string]any{}, 201, &sk)

	unauth := map[string]string{
		"no token":        "",
		"malformed":       "Bearer not a token",
		"malformed hex":   "Bearer " + strings.Repeat("g", 128),
		"revoked token":   "Bearer " + revoked.Token,
		"expired token":   "Bearer " + expired.Token,
		"basic auth":      "Basic YTpi",
		"token no scheme": a.Token,
		"publishable key": "Bearer " + pk.Key,
		"service key":     "Bearer " + sk.Key,
	}
	const missing = "zzzzzzzzzzzz"
	write := "INSERT INTO t VALUES (2)"
	for _, e := range matrixEndpoints("SELECT count(*) FROM t") {
		name := e.method + " " + e.path
		t.Run(name, func(t *testing.T) {
			body := ""
			if e.body != nil {
				j, _ := json.Marshal(e.body)
				body = string(j)
			}
			call := func(auth, db string) rawResponse {
				t.Helper()
				r, err := rawAPICall(s, e.method, e.at(db), auth, body)
				if err != nil {
					t.Fatal(err)
				}
				return r
			}
			// 1. Missing, malformed, revoked, expired: 401, the same body
			//    for an existing database and a missing one.
			for what, h := range unauth {
				r := call(h, target.ID)
				checkErrorResponse(t, what, r, 401, "unauthorized", "")
				if r2 := call(h, missing); string(r2.Body) != string(r.Body) {
					t.Errorf("%s: 401 body differs for a missing database: %s vs %s", what, r2.Body, r.Body)
				}
			}
			// 2. Another customer's token: A's database answers like a missing one.
			bAuth := "Bearer " + b.Token
			if e.kind == kDBRead || e.kind == kDBWrite || e.path == "/customer/databases/{db}" {
				want := call(bAuth, missing)
				checkErrorResponse(t, "another customer, missing database", want, 404, "not_found", "")
				for _, ref := range []string{target.ID, target.Name} {
					if got := call(bAuth, ref); got.Status != 404 || string(got.Body) != string(want.Body) {
						t.Errorf("another customer's token on %s: %d %s, want %s", ref, got.Status, got.Body, want.Body)
					}
				}
			}
			// 3. A token scoped to another database.
			sAuth := "Bearer " + scopedOther.Token
			switch e.kind {
			case kAccount:
				if r := call(sAuth, target.ID); r.Status != 200 {
					t.Errorf("scoped token: %d %s, want 200", r.Status, r.Body)
				}
			case kUnscoped:
				checkErrorResponse(t, "scoped token", call(sAuth, target.ID), 403, "forbidden", "")
			default:
				want := call(sAuth, missing)
				checkErrorResponse(t, "scoped token, missing database", want, 404, "not_found", "")
				for _, ref := range []string{target.ID, target.Name} {
					if got := call(sAuth, ref); got.Status != 404 || string(got.Body) != string(want.Body) {
						t.Errorf("token scoped to another database, on %s: %d %s, want %s", ref, got.Status, got.Body, want.Body)
					}
				}
			}
			// 4. An ro token on its own database.
			rAuth := "Bearer " + ro.Token
			switch e.kind {
			case kUnscoped:
				checkErrorResponse(t, "ro token", call(rAuth, target.ID), 403, "forbidden", "")
			case kDBWrite:
				checkErrorResponse(t, "ro token", call(rAuth, target.ID), 403, "forbidden", "")
			default:
				if r := call(rAuth, target.ID); r.Status != 200 {
					t.Errorf("ro token on a read endpoint: %d %s, want 200", r.Status, r.Body)
				}
			}
		})
	}

	// The ro token's writes through SQL fail with PostgreSQL's error.
	r := a.as(ro.Token).SQL(target.ID, write)
	if r.Error == nil || (r.Error.Code != "25006" && r.Error.Code != "42501") {
		t.Errorf("ro SQL write: %+v, want a read-only or permission error", r.Error)
	}
	// Nothing above changed anything.
	if n := sqlValue(t, a, target.ID, "SELECT count(*) FROM t"); n != float64(1) {
		t.Errorf("rows in t = %v, want 1", n)
	}
	if users := usernames(listUsers(a, target.ID)); len(users) != 1 {
		t.Errorf("users = %v, want only admin", users)
	}
	var migs []json.RawMessage
	a.MustDo("GET", "/customer/databases/"+target.ID+"/migrations", nil, 200, &migs)
	if len(migs) != 0 {
		t.Errorf("migrations recorded: %s", migs)
	}
	if dbs := a.ListDBs(true); len(dbs) != 2 {
		t.Errorf("A has %d databases, want 2", len(dbs))
	}
	for _, kind := range []string{"publishable-keys", "service-keys"} {
		var keys []json.RawMessage
		a.MustDo("GET", "/customer/databases/"+target.ID+"/"+kind, nil, 200, &keys)
		if len(keys) != 0 {
			t.Errorf("%s made by the matrix: %s", kind, keys)
		}
	}
	// The register token, expired, other-db and ro: none made by the matrix.
	if toks := listTokens(a); len(toks) != 4 {
		t.Errorf("A has %d tokens, want 4", len(toks))
	}
}
