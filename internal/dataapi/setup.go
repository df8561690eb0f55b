package dataapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
	"github.com/db9/db9/internal/dataapi/sqlgen"
)

// setupStmt sets the role, claims and request settings for the
// transaction, and fails with DB9SC when the schema cache is stale. Its
// text depends only on the number of per-claim settings, readOnly (set
// transaction_read_only) and which of request.jwt.claims, request.method
// and search_path are set (setupSQL): not those the connection's session
// (sessionOf) already has the request's values of.
func setupStmt(req *request, s *scope, readOnly bool, cc *claimCache, sess session) stmt {
	claims := req.p.Claims
	if len(claims) == 0 {
		claims = json.RawMessage("{}")
	}
	per := cc.settings(claims)
	profile := sqlgen.Ident(s.profile)
	setPath := !samePath(sess.path, s.profile)
	setMethod := req.method != sess.method
	setClaims := string(claims) != sess.claims
	// The per-request values share one buffer (one allocation, not one
	// per value: this runs on every request); each is a full slice of it.
	buf := make([]byte, 0, 20+len(req.p.Role)+len(req.method)+len(req.path)+64*len(req.headers)+len(profile))
	var version []byte
	if s.sc.Version != schema.Unversioned {
		buf = strconv.AppendInt(buf, s.sc.Version, 10)
		version = buf[0:len(buf):len(buf)]
	}
	piece := func(v string) []byte {
		start := len(buf)
		buf = append(buf, v...)
		return buf[start:len(buf):len(buf)]
	}
	args := make([][]byte, 0, 7+len(per))
	args = append(args, version, piece(req.p.Role), piece(req.path))
	start := len(buf)
	buf = pgrst.AppendHeadersJSON(buf, req.headers)
	args = append(args, buf[start:len(buf):len(buf)])
	if setClaims {
		args = append(args, claims)
	}
	if setMethod {
		args = append(args, piece(req.method))
	}
	if setPath {
		args = append(args, piece(profile))
	}
	args = append(args, per...)
	return stmt{sql: setupSQL(len(per)/2, setupFlags(readOnly, setClaims, setMethod, setPath)), args: args}
}

// samePath reports whether the search_path text path names the one
// schema name: as quoted by sqlgen.Ident, or as PostgreSQL stores a role's
// setting (quote_identifier, which leaves a lower-case name bare unless it
// is a keyword; a bare name in a search_path is never taken for one).
func samePath(path, name string) bool {
	if path == sqlgen.Ident(name) {
		return true
	}
	if path != name || name == "" || name[0] >= '0' && name[0] <= '9' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// session is what every request on a connection starts with: the request
// before it ended with RESET ALL (or rolled back), so the session is at
// its reset values, which the login role's settings decide (PlatformSQL)
// and no tenant can change. Asked once per connection (sessionOf).
type session struct {
	path     string // search_path
	method   string // request.method
	claims   string // request.jwt.claims
	readOnly bool   // default_transaction_read_only
}

// sessionKey is where a connection's session lives in
// pgconn.PgConn.CustomData.
const sessionKey = "db9.dataapi.session"

// sessionOf returns the connection's session. A server error answers the
// zero session (search_path and read-only mode are then set per request
// as before); only a connection failure is an error.
func sessionOf(ctx context.Context, pc *pgconn.PgConn) (session, error) {
	m := pc.CustomData()
	if s, ok := m[sessionKey].(session); ok {
		return s, nil
	}
	var s session
	rows, err := pc.Exec(ctx, "SELECT pg_catalog.current_setting('search_path'), "+
		"pg_catalog.current_setting('default_transaction_read_only'), pg_catalog.current_setting('request.method', true), "+
		"pg_catalog.current_setting('request.jwt.claims', true)").ReadAll()
	var pg *pgconn.PgError
	switch {
	case errors.As(err, &pg) && !pc.IsClosed():
	case err != nil:
		return s, fmt.Errorf("read session settings: %w", err)
	case len(rows) == 1 && len(rows[0].Rows) == 1 && len(rows[0].Rows[0]) == 4:
		r := rows[0].Rows[0]
		s = session{path: string(r[0]), readOnly: string(r[1]) == "on", method: string(r[2]), claims: string(r[3])}
	}
	m[sessionKey] = s
	return s, nil
}

// claimKey reports whether a claim gets its own request.jwt.claim.<name>
// setting (a plain name of at most 39 characters).
func claimKey(k string) bool {
	if k == "" || len(k) >= 40 {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// SetupMarker opens the text of the data API's per-request setup
// statement, so that statistics (pg_stat_statements keeps the text as
// sent) can tell the platform's plumbing from the tenant's statements.
const SetupMarker = "/* db9 data API setup */"

// setupSQL is the setup statement for n per-claim settings. The schema
// version is compared inline; the checking function (which raises DB9SC)
// runs only when it differs, so a current cache costs no function call.
//
// What each part costs PostgreSQL was measured (callgrind, instructions
// per request, docs/BENCHMARKS.md 2026-12-02): the sequence is read with
// pg_sequence_last_value rather than a sub-select (no sub-plan and scan
// node to start per execution), and the settings go through num_nulls,
// which evaluates every argument (it is not strict; all arguments of a
// call are evaluated before it) and answers one integer, rather than ten
// result columns echoing every value back. Both read the same values and
// set the same settings in the same order as one column each did.
//
// The sequence is read with the authenticator's privilege: the first
// result column is evaluated before the second, which sets the role.
func setupSQL(n int, flags int) string {
	if n < len(setupTexts[0]) {
		return setupTexts[flags][n]
	}
	return renderSetupSQL(n, flags)
}

// Setup flags: which settings the statement sets besides role, path and
// headers.
const (
	setReadOnly = 1 << iota
	setClaimsText
	setMethodText
	setSearchPath
	setFlagCount = 1 << iota
)

func setupFlags(readOnly, claims, method, path bool) int {
	return b2i(readOnly)*setReadOnly | b2i(claims)*setClaimsText | b2i(method)*setMethodText | b2i(path)*setSearchPath
}

// setupTexts holds the setup statements of up to 15 per-claim settings,
// rendered once: they are sent with every request.
var setupTexts = func() (t [setFlagCount][16]string) {
	for f := range t {
		for n := range t[f] {
			t[f][n] = renderSetupSQL(n, f)
		}
	}
	return t
}()

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxSetupArgs bounds the arguments of one num_nulls call (PostgreSQL
// allows 100 per function call).
const maxSetupArgs = 90

func renderSetupSQL(n int, flags int) string {
	i8 := sqlgen.Ident("pg_catalog") + "." + sqlgen.Ident("int8")
	seq := "'" + sqlgen.Ident("_db9") + "." + sqlgen.Ident("dataapi_schema_seq") + "'"
	var sb strings.Builder
	sb.WriteString(SetupMarker + " SELECT CASE WHEN CAST($1 AS " + i8 + ") IS NULL OR CAST($1 AS " + i8 + ") OPERATOR(pg_catalog.=) " +
		"COALESCE(pg_catalog.pg_sequence_last_value(CAST(" + seq + " AS pg_catalog.regclass)), 0)" +
		" THEN true ELSE " + sqlgen.Ident("_db9") + "." + sqlgen.Ident("dataapi_check_schema") + "(CAST($1 AS " + i8 + ")) END")
	calls := []string{
		"pg_catalog.set_config('role', $2, true)",
		"pg_catalog.set_config('request.path', $3, true)",
		"pg_catalog.set_config('request.headers', $4, true)",
	}
	next := 5
	for _, o := range []struct {
		flag int
		name string
	}{{setClaimsText, "request.jwt.claims"}, {setMethodText, "request.method"}, {setSearchPath, "search_path"}} {
		if flags&o.flag != 0 {
			calls = append(calls, fmt.Sprintf("pg_catalog.set_config('%s', $%d, true)", o.name, next))
			next++
		}
	}
	if flags&setReadOnly != 0 {
		calls = append(calls, "pg_catalog.set_config('transaction_read_only', 'on', true)")
	}
	for i := range n {
		calls = append(calls, fmt.Sprintf("pg_catalog.set_config($%d, $%d, true)", next+2*i, next+1+2*i))
	}
	for len(calls) > 0 {
		k := min(len(calls), maxSetupArgs)
		sb.WriteString(", pg_catalog.num_nulls(" + strings.Join(calls[:k], ", ") + ")")
		calls = calls[k:]
	}
	return sb.String()
}
