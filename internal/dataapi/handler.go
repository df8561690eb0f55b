package dataapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
	"github.com/db9/db9/internal/dataapi/sqlgen"
	"github.com/db9/db9/internal/logkey"
)

// Handler serves the data API of every database through one Backend.
type Handler struct {
	backend Backend
	log     *slog.Logger
	cache   *schemaCache
	shapes  *shapeCache
	claims  *claimCache
}

// NewHandler returns a Handler; it does no I/O.
func NewHandler(backend Backend, log *slog.Logger) *Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Handler{backend: backend, log: log.With(logkey.Component, "dataapi"), cache: newSchemaCache(),
		shapes: newShapeCache(), claims: newClaimCache()}
}

// Serve answers one request for database db. path is what follows
// /rest/v1 ("/", "/posts", "/rpc/fn"); p is who the auth layer said the
// caller is.
func (h *Handler) Serve(w http.ResponseWriter, r *http.Request, db, path string, p *Principal) {
	if err := h.serve(w, r, db, path, p); err != nil {
		pe := toPgrst(err, p.Anonymous)
		if pe.Status >= 500 && pe.Code == "PGRST000" {
			h.log.Error("data api request failed", logkey.DB, db, logkey.Err, err)
		}
		writeError(w, pe)
	}
}

func writeError(w http.ResponseWriter, pe *pgrst.Error) {
	for k, v := range pe.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(pe.Status)
	b, _ := json.Marshal(pe)
	_, _ = w.Write(b)
}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, db, path string, p *Principal) error {
	if path == "" {
		path = "/"
	}
	req, err := parseRequest(r, path, p)
	if err != nil {
		return err
	}
	profile, err := chooseProfile(p, req.profile)
	if err != nil {
		return err
	}
	ctx := r.Context()
	conn, err := h.backend.Acquire(ctx, db)
	if err != nil {
		return err
	}
	defer conn.Release()
	pc := conn.PgConn()
	for attempt := 0; ; attempt++ {
		sc, err := h.cache.get(ctx, db, pc)
		if err != nil {
			return err
		}
		s := &scope{sc: sc, p: p, profile: profile}
		bt, err := h.shapes.build(s, req)
		if err != nil {
			// An answer that depends on what the cache lacks (unknown table,
			// column, relationship, function) is only given from a fresh one.
			if attempt == 0 && cacheDependent(err) && h.stale(ctx, pc, sc) {
				h.cache.invalidate(db, sc)
				continue
			}
			return err
		}
		if bt == nil { // answered without SQL (OPTIONS)
			w.WriteHeader(http.StatusOK)
			return nil
		}
		if bt.static != nil {
			w.Header().Set("Content-Type", contentType(outOpenAPI))
			w.WriteHeader(bt.status)
			if req.method != http.MethodHead {
				_, _ = w.Write(bt.static)
			}
			return nil
		}
		res, err := h.execute(ctx, pc, req, s, bt)
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == staleSQLState && attempt == 0 {
			h.cache.invalidate(db, sc)
			continue
		}
		if errors.As(err, &pg) && lostStatement(pg) && attempt == 0 {
			// The session lost its prepared statements (a tenant's
			// function ran DEALLOCATE ALL): the transaction rolled back
			// at the Bind that failed, prepare again.
			if err := forgetPrepared(ctx, pc); err != nil {
				return err
			}
			continue
		}
		if err != nil {
			return err
		}
		return respond(w, req, bt, res)
	}
}

var rpcPath = regexp.MustCompile(`^/rpc/([^/]+)$`)
var tablePath = regexp.MustCompile(`^/([^/]+)$`)

// build dispatches on the path and method.
func (s *scope) build(req *request) (*built, error) {
	if req.method == http.MethodOptions {
		return nil, nil
	}
	if req.path == "/" {
		if req.method != http.MethodGet && req.method != http.MethodHead {
			return nil, &pgrst.Error{Status: 405, Code: "PGRST117", Message: "Unsupported HTTP method: " + req.method}
		}
		return s.buildOpenAPI(req)
	}
	if m := rpcPath.FindStringSubmatch(req.path); m != nil {
		if req.method != http.MethodGet && req.method != http.MethodHead && req.method != http.MethodPost {
			return nil, &pgrst.Error{Status: 405, Code: "PGRST101", Message: "For functions, only GET and POST verbs are allowed"}
		}
		return s.buildRPC(req, m[1])
	}
	m := tablePath.FindStringSubmatch(req.path)
	if m == nil {
		return nil, &pgrst.Error{Status: 404, Code: "PGRST125", Message: "Invalid path specified in request URL"}
	}
	t, err := s.table(m[1])
	if err != nil {
		return nil, err
	}
	switch req.method {
	case http.MethodGet, http.MethodHead:
		return s.buildRead(req, t)
	case http.MethodPost, http.MethodPatch, http.MethodPut, http.MethodDelete:
		return s.buildMutation(req, t)
	}
	return nil, &pgrst.Error{Status: 405, Code: "PGRST117", Message: "Unsupported HTTP method: " + req.method}
}

// result is the row of the final SELECT.
type result struct {
	total     *int64
	pageTotal int64
	body      []byte
	extra     []byte
	planned   *int64
}

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
// The sequence is read with the authenticator's privilege: the executor
// checks it before set_config('role') runs.
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

func renderSetupSQL(n int, readOnly bool) string {
	i8 := sqlgen.Ident("pg_catalog") + "." + sqlgen.Ident("int8")
	var sb strings.Builder
	sb.WriteString(SetupMarker + " SELECT CASE WHEN CAST($1 AS " + i8 + ") IS NULL OR CAST($1 AS " + i8 + ") OPERATOR(pg_catalog.=) " +
		"(SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM " + sqlgen.Ident("_db9") + "." + sqlgen.Ident("dataapi_schema_seq") + ")" +
		" THEN true ELSE " + sqlgen.Ident("_db9") + "." + sqlgen.Ident("dataapi_check_schema") + "(CAST($1 AS " + i8 + ")) END" +
		", pg_catalog.set_config('role', $2, true)" +
		", pg_catalog.set_config('request.jwt.claims', $3, true)" +
		", pg_catalog.set_config('request.method', $4, true)" +
		", pg_catalog.set_config('request.path', $5, true)" +
		", pg_catalog.set_config('request.headers', $6, true)" +
		", pg_catalog.set_config('search_path', $7, true)")
	if readOnly {
		sb.WriteString(", pg_catalog.set_config('transaction_read_only', 'on', true)")
	}
	for i := range n {
		fmt.Fprintf(&sb, ", pg_catalog.set_config($%d, $%d, true)", 8+2*i, 9+2*i)
	}
	return sb.String()
}

// execute runs the request as one pipelined round trip: [BEGIN;] setup;
// [EXPLAIN;] main [; COMMIT|ROLLBACK]. Without BEGIN the pipeline is one
// implicit transaction that commits at Sync, or rolls back on any error.
func (h *Handler) execute(ctx context.Context, pc *pgconn.PgConn, req *request, s *scope, bt *built) (*result, error) {
	batch := &pgconn.Batch{}
	n := 0
	if bt.explicitTx {
		if bt.readOnly {
			batch.ExecParams("BEGIN READ ONLY", nil, nil, nil, nil)
		} else {
			batch.ExecParams("BEGIN", nil, nil, nil, nil)
		}
		n++
	}
	ps := preparedOf(pc)
	send := func(st stmt, prepare bool) error {
		var sd *pgconn.StatementDescription
		if prepare {
			var err error
			if sd, err = ps.statement(ctx, pc, s.sc.Version, st.sql); err != nil {
				return err
			}
		}
		if sd != nil {
			batch.ExecStatement(sd, st.args, nil, nil)
		} else {
			batch.ExecParams(st.sql, st.args, nil, nil, nil)
		}
		return nil
	}
	if err := send(setupStmt(req, s, bt.readOnly, h.claims), true); err != nil {
		return nil, err
	}
	n++
	preAt := -1
	if bt.pre != nil {
		if err := send(*bt.pre, false); err != nil {
			return nil, err
		}
		preAt = n
		n++
	}
	// EXPLAIN output is rare and of another shape: sent as is.
	if err := send(bt.main, req.out != outPlanJSON && req.out != outPlanText); err != nil {
		return nil, err
	}
	mainAt := n
	results, err := pc.ExecBatch(ctx, batch).ReadAll()
	if err == nil {
		for _, r := range results {
			if r.Err != nil {
				err = r.Err
				break
			}
		}
	}
	if err != nil {
		if pc.TxStatus() != 'I' && !pc.IsClosed() {
			_ = pc.Exec(ctx, "ROLLBACK").Close()
		}
		return nil, err
	}
	if len(results) <= mainAt {
		return nil, errors.New("run statement: missing result")
	}
	res := &result{}
	rows := results[mainAt].Rows
	if req.out == outPlanJSON || req.out == outPlanText {
		var sb strings.Builder
		for _, r := range rows {
			sb.Write(r[0])
			sb.WriteByte('\n')
		}
		res.body = []byte(strings.TrimSuffix(sb.String(), "\n"))
	} else if len(rows) == 1 && len(rows[0]) == 4 {
		if rows[0][0] != nil {
			v, _ := strconv.ParseInt(string(rows[0][0]), 10, 64)
			res.total = &v
		}
		res.pageTotal, _ = strconv.ParseInt(string(rows[0][1]), 10, 64)
		res.body = rows[0][2]
		res.extra = rows[0][3]
	} else {
		return nil, errors.New("run statement: unexpected result shape")
	}
	if preAt >= 0 && len(results[preAt].Rows) == 1 {
		res.planned = plannedRows(results[preAt].Rows[0][0])
	}
	if bt.explicitTx {
		end := "COMMIT"
		if perr := postCheck(req, bt, res); perr != nil || req.prefer.Tx == "rollback" {
			end = "ROLLBACK"
			err = perr
		}
		if cerr := pc.Exec(ctx, end).Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			return nil, err
		}
	}
	return res, nil
}

// postCheck decides, before COMMIT, whether the result may stand.
func postCheck(req *request, bt *built, res *result) error {
	if mx := req.prefer.MaxAffected; mx != nil && req.prefer.Handling == "strict" && res.pageTotal > *mx {
		return &pgrst.Error{Status: 400, Code: "PGRST124", Message: "Query result exceeds max-affected preference constraint",
			Details: "The query affects " + strconv.FormatInt(res.pageTotal, 10) + " rows"}
	}
	if req.out == outObject && res.pageTotal != 1 {
		return singularError(res.pageTotal)
	}
	return nil
}

func singularError(n int64) error {
	return &pgrst.Error{Status: 406, Code: "PGRST116", Message: "JSON object requested, multiple (or no) rows returned",
		Details: "The result contains " + strconv.FormatInt(n, 10) + " rows"}
}

func plannedRows(plan []byte) *int64 {
	var doc []struct {
		Plan struct {
			Rows float64 `json:"Plan Rows"`
		} `json:"Plan"`
	}
	if json.Unmarshal(plan, &doc) != nil || len(doc) == 0 {
		return nil
	}
	v := int64(doc[0].Plan.Rows)
	return &v
}

func cacheDependent(err error) bool {
	var pe *pgrst.Error
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "PGRST200", "PGRST201", "PGRST202", "PGRST203", "PGRST204", "PGRST205", "42703", "PGRST105", "PGRST118", "PGRST119":
		return true
	}
	return false
}

// stale asks the database whether sc is out of date (one round trip).
func (h *Handler) stale(ctx context.Context, pc *pgconn.PgConn, sc *schema.Schema) bool {
	if sc.Version == schema.Unversioned {
		return true
	}
	rows, err := pc.Exec(ctx, schema.VersionSQL).ReadAll()
	if err != nil || len(rows) != 1 || len(rows[0].Rows) != 1 {
		return true
	}
	return string(rows[0].Rows[0][0]) != strconv.FormatInt(sc.Version, 10)
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
