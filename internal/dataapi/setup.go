package dataapi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/db9/db9/internal/dataapi/schema"
	"github.com/db9/db9/internal/dataapi/sqlgen"
)

// setupStmt sets the role, claims and request settings for the
// transaction, and fails with DB9SC when the schema cache is stale. Its
// text depends only on the number of per-claim settings and readOnly
// (setupSQL), so it is one prepared statement per shape.
func setupStmt(req *request, s *scope, readOnly bool, cc *claimCache) stmt {
	claims := req.p.Claims
	if len(claims) == 0 {
		claims = json.RawMessage("{}")
	}
	var version []byte
	if s.sc.Version != schema.Unversioned {
		version = strconv.AppendInt(nil, s.sc.Version, 10)
	}
	per := cc.settings(claims)
	args := make([][]byte, 0, 7+len(per))
	args = append(args, version, []byte(req.p.Role), claims, []byte(req.method), []byte(req.path),
		headersJSON(req.headers), []byte(sqlgen.Ident(s.profile)))
	args = append(args, per...)
	return stmt{sql: setupSQL(len(per)/2, readOnly), args: args}
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
func setupSQL(n int, readOnly bool) string {
	if n < len(setupTexts[0]) {
		return setupTexts[b2i(readOnly)][n]
	}
	return renderSetupSQL(n, readOnly)
}

// setupTexts holds the setup statements of up to 15 per-claim settings,
// rendered once: they are sent with every request.
var setupTexts = func() (t [2][16]string) {
	for ro := range 2 {
		for n := range t[ro] {
			t[ro][n] = renderSetupSQL(n, ro == 1)
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

func renderSetupSQL(n int, readOnly bool) string {
	i8 := sqlgen.Ident("pg_catalog") + "." + sqlgen.Ident("int8")
	seq := "'" + sqlgen.Ident("_db9") + "." + sqlgen.Ident("dataapi_schema_seq") + "'"
	var sb strings.Builder
	sb.WriteString(SetupMarker + " SELECT CASE WHEN CAST($1 AS " + i8 + ") IS NULL OR CAST($1 AS " + i8 + ") OPERATOR(pg_catalog.=) " +
		"COALESCE(pg_catalog.pg_sequence_last_value(CAST(" + seq + " AS pg_catalog.regclass)), 0)" +
		" THEN true ELSE " + sqlgen.Ident("_db9") + "." + sqlgen.Ident("dataapi_check_schema") + "(CAST($1 AS " + i8 + ")) END")
	calls := []string{
		"pg_catalog.set_config('role', $2, true)",
		"pg_catalog.set_config('request.jwt.claims', $3, true)",
		"pg_catalog.set_config('request.method', $4, true)",
		"pg_catalog.set_config('request.path', $5, true)",
		"pg_catalog.set_config('request.headers', $6, true)",
		"pg_catalog.set_config('search_path', $7, true)",
	}
	if readOnly {
		calls = append(calls, "pg_catalog.set_config('transaction_read_only', 'on', true)")
	}
	for i := range n {
		calls = append(calls, fmt.Sprintf("pg_catalog.set_config($%d, $%d, true)", 8+2*i, 9+2*i))
	}
	for len(calls) > 0 {
		k := min(len(calls), maxSetupArgs)
		sb.WriteString(", pg_catalog.num_nulls(" + strings.Join(calls[:k], ", ") + ")")
		calls = calls[k:]
	}
	return sb.String()
}

// headersJSON renders the request headers as PostgREST's request.headers:
// one JSON object, names lower-cased, repeated headers joined by commas.
// (Written out rather than through a map and encoding/json: it runs on
// every request.)
func headersJSON(h http.Header) []byte {
	var sb bytes.Buffer
	sb.Grow(64 * len(h))
	sb.WriteByte('{')
	first := true
	for k, v := range h {
		if !first {
			sb.WriteByte(',')
		}
		first = false
		appendJSONString(&sb, strings.ToLower(k))
		sb.WriteByte(':')
		if len(v) == 1 {
			appendJSONString(&sb, v[0])
		} else {
			appendJSONString(&sb, strings.Join(v, ","))
		}
	}
	sb.WriteByte('}')
	return sb.Bytes()
}

// appendJSONString writes s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(sb *bytes.Buffer, s string) {
	const hex = "0123456789abcdef"
	s = strings.ToValidUTF8(s, "\ufffd")
	sb.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			sb.WriteByte('\\')
			sb.WriteByte(c)
		case c < 0x20:
			sb.WriteString("\\u00")
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0xf])
		default:
			sb.WriteByte(c)
		}
	}
	sb.WriteByte('"')
}
