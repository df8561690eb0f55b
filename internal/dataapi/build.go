package dataapi

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"

	"github.com/db9/db9/internal/dataapi/payload"
	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
	"github.com/db9/db9/internal/dataapi/sqlgen"
)

// stmt is one SQL statement with its text parameters.
type stmt struct {
	sql  string
	args [][]byte
}

// built is what a request turns into: the main statement (and for planned
// counts an EXPLAIN before it) and how to run and answer it.
type built struct {
	pre        *stmt // EXPLAIN for count=planned|estimated
	main       stmt
	readOnly   bool
	explicitTx bool // decide COMMIT/ROLLBACK after reading the result
	mutation   bool
	status     int // success status with a body
	offset     int64
	table      *schema.Table // for Location
	pkCols     []string
	void       bool
	estimateAt int64  // count=estimated: exact up to this many rows
	static     []byte // answered without SQL (OpenAPI)
	// countBody: page_total is not counted by PostgreSQL but from the
	// body, a JSON array json_agg made (jsonArrayLen).
	countBody bool
}

// The final SELECT every statement ends with: total, page_total, body, extra.
const finalAlias = "_postgrest_t"

func bodyExpr(out outKind, scalar bool) string {
	t := sqlgen.Ident(finalAlias)
	if scalar {
		t = sqlgen.Ident(finalAlias) + "." + sqlgen.Ident("pgrst_scalar")
	}
	switch out {
	case outObject:
		return "coalesce((json_agg(" + t + ")->0)::text, 'null')"
	case outCSV:
		row := "row_to_json(" + sqlgen.Ident(finalAlias) + ")"
		return "coalesce((SELECT string_agg(pgrst_k, ',') FROM json_object_keys((pg_catalog.array_agg(" + row + "))[1]) AS pgrst_k), '')" +
			" || chr(10) || coalesce(string_agg(substring(" + sqlgen.Ident(finalAlias) + "::text, 2, length(" + sqlgen.Ident(finalAlias) + "::text) - 2), chr(10)), '')"
	}
	return "coalesce(json_agg(" + t + "), '[]')::text"
}

// finalSQL counts rows with count(*): the rows of a sub-select in FROM are
// never a null whole-row value, so it is PostgREST's count(_postgrest_t)
// without building a row datum for the count.
func finalSQL(with, inner, total, body, extra string) string {
	return finalSQLCounted(with, inner, total, "pg_catalog.count(*)", body, extra)
}

// finalSQLCounted is finalSQL with page_total's expression.
func finalSQLCounted(with, inner, total, count, body, extra string) string {
	if total == "" {
		total = "NULL"
	}
	if extra == "" {
		extra = "NULL"
	}
	s := "SELECT (" + total + ")::int8 AS total, " + count + " AS page_total, " +
		body + " AS body, " + extra + " AS extra FROM (" + inner + ") AS " + sqlgen.Ident(finalAlias)
	if with != "" {
		s = "WITH " + with + " " + s
	}
	return s
}

// explain wraps a statement for application/vnd.pgrst.plan.
func explain(out outKind, opts []string, sql string) (string, error) {
	format := "JSON"
	if out == outPlanText {
		format = "TEXT"
	}
	list := []string{"FORMAT " + format}
	for _, o := range opts {
		switch strings.ToLower(o) {
		case "analyze", "verbose", "settings", "buffers", "wal":
			list = append(list, strings.ToUpper(o))
		case "":
		default:
			return "", &pgrst.Error{Status: 406, Code: "PGRST107", Message: "Unknown plan option: " + o}
		}
	}
	return "EXPLAIN (" + strings.Join(list, ", ") + ") " + sql, nil
}

// buildRead builds GET/HEAD on a table or view.
func (s *scope) buildRead(req *request, t *schema.Table) (*built, error) {
	q, err := pgrst.ParseQuery(req.pairs, nil)
	if err != nil {
		return nil, err
	}
	b := &sqlgen.Builder{}
	root, err := s.plan(b, t, t.Name, q)
	if err != nil {
		return nil, err
	}
	limit, offset := root.Params.Limit, root.Params.Offset
	if req.rng != nil {
		off := req.rng.Offset
		if offset != nil {
			off += *offset
		}
		offset = &off
		l := req.rng.Limit
		if l != nil && limit != nil && *limit < *l {
			l = limit
		} else if l == nil {
			l = limit
		}
		limit = l
	}
	sp, err := b.Render(root, limit, offset)
	if err != nil {
		return nil, err
	}
	from := sqlgen.QualifiedName(t.QName()) + " AS " + sqlgen.Ident(t.Name)
	bt := &built{readOnly: true, status: 200}
	if offset != nil {
		bt.offset = *offset
	}
	total := ""
	switch req.prefer.Count {
	case "exact":
		total = sp.CountSQL(from)
	case "planned", "estimated":
		pb := b.Separate()
		rows, err := pb.FilterParts(root)
		if err != nil {
			return nil, err
		}
		bt.pre = &stmt{sql: "EXPLAIN (FORMAT JSON) " + rows.SQL(from, false), args: pb.Args()}
		if req.prefer.Count == "estimated" {
			bt.estimateAt = 1000
			total = sp.CappedCountSQL(from, b.P("1001"))
		}
	}
	// A JSON array's rows are counted from the array (a read's body is
	// small next to the cost of another aggregate in PostgreSQL).
	count := "pg_catalog.count(*)"
	if req.out == outJSON {
		count, bt.countBody = "NULL::int8", true
	}
	main := finalSQLCounted("", sp.SQL(from, true), total, count, bodyExpr(req.out, false), "")
	if req.out == outPlanJSON || req.out == outPlanText {
		if main, err = explain(req.out, req.planOpts, sp.SQL(from, true)); err != nil {
			return nil, err
		}
	}
	bt.main = stmt{sql: main, args: b.Args()}
	return bt, nil
}

func wantsBody(req *request) bool { return req.prefer.Return == "representation" }

// buildMutation builds POST (insert/upsert), PUT, PATCH and DELETE.
func (s *scope) buildMutation(req *request, t *schema.Table) (*built, error) {
	q, err := pgrst.ParseQuery(req.pairs, nil)
	if err != nil {
		return nil, err
	}
	b := &sqlgen.Builder{}
	root, err := s.plan(b, t, t.Name, q)
	if err != nil {
		return nil, err
	}
	bt := &built{mutation: true, table: t, pkCols: t.PK}
	target := sqlgen.QualifiedName(t.QName()) + " AS " + sqlgen.Ident(t.Name)
	returning := " RETURNING " + sqlgen.Ident(t.Name) + ".*"
	var dml string
	switch req.method {
	case http.MethodPost, http.MethodPut:
		bt.status = 201
		rows, err := payload.DecodeRows(req.body, req.method == http.MethodPut)
		if err != nil {
			return nil, err
		}
		cols := q.Columns
		if cols == nil {
			cols = rows.Keys
			if req.prefer.Missing == "default" {
				cols = rows.AllKeys()
			}
		}
		for _, c := range cols {
			if t.Column(c) == nil {
				return nil, &pgrst.Error{Status: 400, Code: "PGRST204",
					Message: fmt.Sprintf("Could not find the '%s' column of '%s' in the schema cache", c, t.Name)}
			}
		}
		if q.Columns == nil && !rows.SameKeys && req.prefer.Missing != "default" {
			return nil, &pgrst.Error{Status: 400, Code: "PGRST102", Message: "All object keys must match"}
		}
		conflict := q.OnConflict
		resolution := req.prefer.Resolution
		if req.method == http.MethodPut {
			bt.status = 200
			if err := checkPut(t, root.Params, rows); err != nil {
				return nil, err
			}
			root.Params.Filters = nil
			conflict, resolution = t.PK, "merge-duplicates"
		}
		if conflict == nil {
			conflict = t.PK
		}
		for _, c := range conflict {
			if t.Column(c) == nil {
				return nil, &pgrst.Error{Status: 400, Code: "PGRST204",
					Message: fmt.Sprintf("Could not find the '%s' column of '%s' in the schema cache", c, t.Name)}
			}
		}
		groups := [][]string{cols}
		var payloads []string
		if req.prefer.Missing == "default" {
			groups, payloads = rows.GroupByKeys(cols)
		} else {
			payloads = []string{rows.Raw}
		}
		var inserts []string
		for i, g := range groups {
			ins := "INSERT INTO " + target
			if len(g) > 0 {
				qc := quoteAll(g)
				ins += " (" + strings.Join(qc, ", ") + ") SELECT " + strings.Join(qc, ", ")
			} else {
				ins += " SELECT"
			}
			ins += " FROM json_populate_recordset(CAST(NULL AS " + sqlgen.QualifiedName(t.QName()) + "), " + b.P(payloads[i]) + ") AS " + sqlgen.Ident("pgrst_body")
			if len(g) == 0 {
				// Rows with no keys at all: every column takes its default.
				ins = "INSERT INTO " + target + " SELECT FROM json_populate_recordset(CAST(NULL AS " + sqlgen.QualifiedName(t.QName()) + "), " + b.P(payloads[i]) + ") AS " + sqlgen.Ident("pgrst_body")
			}
			if resolution != "" && len(conflict) > 0 {
				ins += " ON CONFLICT (" + strings.Join(quoteAll(conflict), ", ") + ")"
				var set []string
				for _, c := range g {
					set = append(set, sqlgen.Ident(c)+" = EXCLUDED."+sqlgen.Ident(c))
				}
				if resolution == "ignore-duplicates" || len(set) == 0 {
					ins += " DO NOTHING"
				} else {
					ins += " DO UPDATE SET " + strings.Join(set, ", ")
				}
			}
			inserts = append(inserts, ins+returning)
		}
		if len(inserts) == 1 {
			dml = inserts[0]
		} else {
			// missing=default with rows of different keys: one INSERT per
			// key set, unioned.
			var ctes, unions []string
			for i, ins := range inserts {
				n := fmt.Sprintf("pgrst_ins_%d", i)
				ctes = append(ctes, sqlgen.Ident(n)+" AS ("+ins+")")
				unions = append(unions, "SELECT * FROM "+sqlgen.Ident(n))
			}
			dml = "" // assembled below
			bt.main.sql = strings.Join(ctes, ", ") + ", " + sqlgen.Ident("pgrst_source") + " AS (" + strings.Join(unions, " UNION ALL ") + ")"
		}
	case http.MethodPatch:
		bt.status = 200
		body := req.body
		if req.csvBody {
			// A CSV payload of one record is the object to set.
			rows, err := payload.DecodeRows(body, false)
			if err != nil {
				return nil, err
			}
			if rows.N != 1 {
				return nil, payload.InvalidBody("a CSV body of PATCH must hold exactly one record")
			}
			body, _ = json.Marshal(rows.Rows[0])
		}
		obj, keys, err := payload.DecodeObject(body)
		if err != nil {
			return nil, err
		}
		cols := q.Columns
		if cols == nil {
			cols = keys
		}
		for _, c := range cols {
			if t.Column(c) == nil {
				return nil, &pgrst.Error{Status: 400, Code: "PGRST204",
					Message: fmt.Sprintf("Could not find the '%s' column of '%s' in the schema cache", c, t.Name)}
			}
		}
		where, err := b.MutationWhere(root, t)
		if err != nil {
			return nil, err
		}
		if len(cols) == 0 {
			dml = "SELECT " + sqlgen.Ident(t.Name) + ".* FROM " + target + " WHERE false"
		} else {
			var set []string
			for _, c := range cols {
				set = append(set, sqlgen.Ident(c)+" = "+sqlgen.Ident("pgrst_body")+"."+sqlgen.Ident(c))
			}
			dml = "UPDATE " + target + " SET " + strings.Join(set, ", ") + " FROM (SELECT * FROM json_populate_record(CAST(NULL AS " +
				sqlgen.QualifiedName(t.QName()) + "), " + b.P(obj) + ")) AS " + sqlgen.Ident("pgrst_body") + where + returning
		}
	case http.MethodDelete:
		bt.status = 200
		where, err := b.MutationWhere(root, t)
		if err != nil {
			return nil, err
		}
		dml = "DELETE FROM " + target + where + returning
	}
	with := bt.main.sql
	if dml != "" {
		with = sqlgen.Ident("pgrst_source") + " AS (" + dml + ")"
	}
	// The representation is a read over the affected rows, embedding
	// included; the filters were applied by the DML.
	root.Params = &pgrst.Node{}
	inner := "SELECT 1 FROM " + sqlgen.Ident("pgrst_source")
	body := "NULL"
	if wantsBody(req) || req.out == outPlanJSON || req.out == outPlanText {
		sp, err := b.Render(root, nil, nil)
		if err != nil {
			return nil, err
		}
		inner = sp.SQL(sqlgen.Ident("pgrst_source")+" AS "+sqlgen.Ident(t.Name), false)
		body = bodyExpr(req.out, false)
	}
	extra := ""
	if req.method == http.MethodPost && req.prefer.Return == "headers-only" && len(t.PK) > 0 {
		extra = "(SELECT row_to_json(" + sqlgen.Ident("pgrst_loc") + ") FROM (SELECT " + strings.Join(quoteAll(t.PK), ", ") +
			" FROM " + sqlgen.Ident("pgrst_source") + " LIMIT 1) AS " + sqlgen.Ident("pgrst_loc") + ")::text"
	}
	bt.main = stmt{sql: finalSQL(with, inner, "", body, extra), args: b.Args()}
	if req.out == outPlanJSON || req.out == outPlanText {
		if bt.main.sql, err = explain(req.out, req.planOpts, bt.main.sql); err != nil {
			return nil, err
		}
	}
	if req.prefer.Tx == "rollback" || (req.prefer.MaxAffected != nil && req.prefer.Handling == "strict") || req.out == outObject {
		bt.explicitTx = true
	}
	return bt, nil
}

func quoteAll(cols []string) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = sqlgen.Ident(c)
	}
	return out
}

// checkPut enforces PostgREST's PUT rules: filters are exactly `eq` on every
// primary key column, the body is one row and agrees with them.
func checkPut(t *schema.Table, n *pgrst.Node, rows *payload.Rows) error {
	bad := &pgrst.Error{Status: 405, Code: "PGRST105", Message: "Filters must include all and only primary key columns with 'eq' operators"}
	if len(t.PK) == 0 || len(n.Filters) != len(t.PK) || len(n.Logic) > 0 {
		return bad
	}
	vals := map[string]string{}
	for _, f := range n.Filters {
		if f.Op != "eq" || f.Negate || f.Quant != "" || len(f.Field.Path) > 0 || !contains(t.PK, f.Field.Name) {
			return bad
		}
		vals[f.Field.Name] = f.Value
	}
	if len(vals) != len(t.PK) {
		return bad
	}
	if rows.N != 1 {
		return &pgrst.Error{Status: 400, Code: "PGRST114", Message: "PUT payload must contain a single row"}
	}
	for _, c := range t.PK {
		if v, ok := rows.First[c]; !ok || v != vals[c] {
			return &pgrst.Error{Status: 400, Code: "PGRST115", Message: "Payload values do not match URL in primary key column(s)"}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
