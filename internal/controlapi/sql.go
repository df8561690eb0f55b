package controlapi

import (
	"errors"
	"net/http"
	"sync"
	"unicode/utf8"

	"github.com/db9/db9/internal/control/dbadmin"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
	"github.com/db9/db9/internal/web"
)

// sqlHandlers serve what works inside a database: SQL over HTTP, schema
// and dump (schema.go), users (users.go), migrations (migrations.go).
type sqlHandlers struct{ inside *dbadmin.SQL }

// decodeSQLRequest decodes and validates the body of POST .../sql.
func decodeSQLRequest(body []byte) (sqlexec.Request, error) {
	if q, ok := plainQuery(body); ok {
		return sqlexec.Request{Query: &q}, nil
	}
	return decodeSQLRequestJSON(body)
}

// plainQuery reads the most common body, {"query":"..."} alone, without
// reflection: the key spelled exactly so, a string without escapes or
// control characters, only JSON white space around the tokens. Every other
// body (escapes, params, other keys) is left to encoding/json, and so is
// every error; for the bodies it takes the answer is the same
// (FuzzDecodeSQLRequest checks).
func plainQuery(b []byte) (string, bool) {
	i := skipSpace(b, 0)
	if !hasPrefixAt(b, i, `{`) {
		return "", false
	}
	i = skipSpace(b, i+1)
	if !hasPrefixAt(b, i, `"query"`) {
		return "", false
	}
	i = skipSpace(b, i+len(`"query"`))
	if !hasPrefixAt(b, i, `:`) {
		return "", false
	}
	i = skipSpace(b, i+1)
	if !hasPrefixAt(b, i, `"`) {
		return "", false
	}
	start := i + 1
	end := start
	for end < len(b) && b[end] != '"' {
		if b[end] < 0x20 || b[end] == '\\' {
			return "", false
		}
		end++
	}
	if end == len(b) || !utf8.Valid(b[start:end]) {
		return "", false
	}
	i = skipSpace(b, end+1)
	if !hasPrefixAt(b, i, `}`) || skipSpace(b, i+1) != len(b) {
		return "", false
	}
	return string(b[start:end]), true
}

func skipSpace(b []byte, i int) int {
	for i < len(b) && (b[i] == ' ' || b[i] == '\t' || b[i] == '\r' || b[i] == '\n') {
		i++
	}
	return i
}

func hasPrefixAt(b []byte, i int, p string) bool {
	return len(b)-i >= len(p) && string(b[i:i+len(p)]) == p
}

// decodeSQLRequestJSON is decodeSQLRequest with encoding/json, for any body.
func decodeSQLRequestJSON(body []byte) (sqlexec.Request, error) {
	var req sqlexec.Request
	if err := web.Unmarshal(body, &req, false); err != nil {
		return req, err
	}
	if err := req.Validate(); err != nil {
		var re *sqlexec.RequestError
		if errors.As(err, &re) {
			return req, platform.Errorf(platform.CodeInvalid, "%s: %s", re.Field, re.Message)
		}
		return req, platform.Wrap(platform.CodeInvalid, err, "invalid request")
	}
	return req, nil
}

func (h sqlHandlers) sql(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	req, err := decodeSQLRequest(body)
	if err != nil {
		return err
	}
	res, err := h.inside.RunSQL(r.Context(), p, r.PathValue("database_id"), req)
	if err != nil {
		return err
	}
	bp := bodyBufs.Get().(*[]byte)
	b := append(res.AppendJSON((*bp)[:0]), '\n')
	web.WriteJSONBody(w, http.StatusOK, b)
	if cap(b) <= maxPooledBody {
		*bp = b
		bodyBufs.Put(bp)
	}
	return nil
}

// bodyBufs holds response buffers for reuse: Write copies the body into the
// connection's buffer, so it is free again when WriteJSONBody returns.
// Buffers that grew past maxPooledBody are left to the collector.
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 1024); return &b }}

const maxPooledBody = 64 << 10
