package dataapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/dataapi/pgpipe"
	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
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
	lost := false // the session lost its prepared statements once
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
		res, err := h.execute(ctx, pc, req, s, bt, lost)
		if err == nil {
			return respond(w, req, bt, res)
		}
		var pg *pgconn.PgError // declared here: errors.As makes it escape
		if errors.As(err, &pg) && pg.Code == staleSQLState && attempt == 0 {
			h.cache.invalidate(db, sc)
			continue
		}
		if errors.As(err, &pg) && lostStatement(pg) && !lost {
			// The session lost its prepared statements (a tenant's
			// function ran DEALLOCATE ALL): the transaction rolled back
			// at the Bind that failed, prepare again.
			if err := forgetPrepared(ctx, pc); err != nil {
				return err
			}
			lost = true
			continue
		}
		return err
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

// execute runs the request as one pipelined round trip: [BEGIN; or SET
// TRANSACTION READ WRITE;] setup; [EXPLAIN;] main; RESET ALL [;
// COMMIT|ROLLBACK]. Without BEGIN the
// pipeline is one implicit transaction that commits at Sync, or rolls
// back on any error. lost is set when the request runs again because its
// session lost its prepared statements.
func (h *Handler) execute(ctx context.Context, pc *pgconn.PgConn, req *request, s *scope, bt *built, lost bool) (*result, error) {
	var buf [5]pgpipe.Stmt // BEGIN or SET TRANSACTION, setup, EXPLAIN, main, RESET ALL
	stmts := buf[:0]
	sess, err := sessionOf(ctx, pc)
	if err != nil {
		return nil, err
	}
	// On a session that is read-only by default (PlatformSQL), a read
	// needs no setting to be read-only, and a write says so first.
	if bt.explicitTx {
		switch {
		case bt.readOnly:
			stmts = append(stmts, pgpipe.Stmt{SQL: "BEGIN READ ONLY"})
		case sess.readOnly:
			stmts = append(stmts, pgpipe.Stmt{SQL: "BEGIN READ WRITE"})
		default:
			stmts = append(stmts, pgpipe.Stmt{SQL: "BEGIN"})
		}
	}
	prepared := preparedOf(pc)
	send := func(st stmt, prepare bool) error {
		ps := pgpipe.Stmt{SQL: st.sql, Args: st.args}
		if prepare {
			sd, err := prepared.statement(ctx, pc, s.sc.Version, st.sql)
			if err != nil {
				return err
			}
			if sd != nil {
				ps.Name = sd.Name
			}
		}
		stmts = append(stmts, ps)
		return nil
	}
	if !bt.explicitTx && !bt.readOnly && sess.readOnly {
		if err := send(stmt{sql: readWriteSQL}, true); err != nil {
			return nil, err
		}
	}
	if err := send(setupStmt(req, s, bt.readOnly && !sess.readOnly, h.claims, sess), true); err != nil {
		return nil, err
	}
	preAt := -1
	if bt.pre != nil {
		preAt = len(stmts)
		if err := send(*bt.pre, false); err != nil {
			return nil, err
		}
	}
	// EXPLAIN output is rare and of another shape: sent as is.
	mainAt := len(stmts)
	if err := send(bt.main, req.out != outPlanJSON && req.out != outPlanText); err != nil {
		return nil, err
	}
	// A tenant's function may have set settings for the session
	// (set_config(..., false), SET without LOCAL): a request.jwt.claim.sub
	// planted so would be the next request's auth.uid() on this pooled
	// connection. RESET ALL, in the request's own transaction, takes the
	// session back to the authenticator's settings when it commits (and a
	// rollback undoes the function's changes anyway). It carries the
	// setup's marker: statistics file it under the tenant's role, and it is
	// not the tenant's statement.
	//
	// It is prepared like the other statements: parsed and sent with
	// Parse/Describe every time it cost PostgreSQL ~21 k instructions a
	// request, prepared ~13 k (docs/BENCHMARKS.md, 2026-12-03). Being bound
	// after the tenant's SQL ran, it is the one statement a function that
	// ran DEALLOCATE ALL takes from under its own request: the retry then
	// sends it unprepared, so such a request runs at most twice (in a
	// transaction rolled back the first time), as a lost setup statement
	// makes the next request do.
	if err := send(stmt{sql: resetSQL}, !lost); err != nil {
		return nil, err
	}
	mainRows, preRows, err := pgpipe.Exchange(ctx, pc, stmts, mainAt, preAt)
	if err != nil {
		if pc.TxStatus() != 'I' && !pc.IsClosed() {
			_ = pc.Exec(ctx, "ROLLBACK").Close()
		}
		return nil, err
	}
	if mainRows == nil {
		return nil, errors.New("run statement: missing result")
	}
	res := &result{}
	rows := *mainRows
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
		if bt.countBody {
			res.pageTotal = jsonArrayLen(res.body)
		}
	} else {
		return nil, errors.New("run statement: unexpected result shape")
	}
	if preRows != nil && len(*preRows) == 1 {
		res.planned = plannedRows((*preRows)[0][0])
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

// jsonArrayLen counts the elements of a JSON array as json_agg writes it
// (valid JSON: json values are checked on input): the commas at depth one
// outside strings, plus one unless it is empty.
func jsonArrayLen(b []byte) int64 {
	commas, depth, inString, empty := int64(0), 0, false, true
	for i := 0; i < len(b); i++ {
		c := b[i]
		if inString {
			if c == '\\' {
				i++
			}
			inString = c != '"'
			continue
		}
		if depth == 1 && c > ' ' && c != ']' {
			empty = false
		}
		switch c {
		case '"':
			inString = true
		case '[', '{':
			depth++
		case ']', '}':
			depth--
		case ',':
			if depth == 1 {
				commas++
			}
		}
	}
	if empty {
		return 0
	}
	return commas + 1
}

// readWriteSQL starts a writing request on a session that is read-only
// by default; a utility statement takes no snapshot, so it may.
const readWriteSQL = SetupMarker + " SET TRANSACTION READ WRITE"

// resetSQL ends every request (see execute).
const resetSQL = SetupMarker + " RESET ALL"

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
