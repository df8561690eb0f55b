package neon

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/platform"
)

// run executes a request's queries as the session's role and returns the
// answer's JSON.
func (h *Handler) run(ctx context.Context, sess *control.PGSession, p payload, o options) ([]byte, error) {
	pool, err := sess.Lease.Pool(sess.Role)
	if err != nil {
		return nil, platform.Wrap(platform.CodeUnavailable, err, "database is unavailable; try again")
	}
	pc, err := pool.Acquire(ctx)
	if err != nil {
		return nil, platform.Wrap(platform.CodeUnavailable, err, "could not connect to the database; try again")
	}
	conn := pc.Conn().PgConn()
	defer func() {
		// A connection left inside a transaction, or broken, is not
		// handed to the next request.
		if conn.TxStatus() != 'I' {
			_ = conn.Close(context.WithoutCancel(ctx))
		}
		pc.Release()
	}()
	if err := reset(ctx, conn, sess.Settings); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, platform.Wrap(platform.CodeUnavailable, err, "connection to the database failed; try again")
	}
	x := &execution{conn: conn, o: o, max: h.cfg.MaxResponseBytes, left: h.cfg.MaxResponseBytes}
	if p.single != nil {
		return x.query(ctx, nil, *p.single)
	}
	return x.batch(ctx, p.batch)
}

// reset makes a pooled connection like a new one (pooled connections are
// not reset on release) and applies the login's session settings (a
// connect token's claims).
func reset(ctx context.Context, conn *pgconn.PgConn, settings map[string]string) error {
	if _, err := conn.Exec(ctx, "DISCARD ALL").ReadAll(); err != nil {
		return err
	}
	for k, v := range settings {
		if _, err := conn.ExecParams(ctx, "SELECT pg_catalog.set_config($1, $2, false)", [][]byte{[]byte(k), []byte(v)}, nil, nil, nil).Close(); err != nil {
			return err
		}
	}
	return nil
}

type execution struct {
	conn *pgconn.PgConn
	o    options
	max  int // MaxResponseBytes
	left int // bytes of rows the answer may still take
}

// batch runs queries in one transaction: {"results": [...]}.
func (x *execution) batch(ctx context.Context, qs []query) ([]byte, error) {
	if _, err := x.conn.Exec(ctx, x.o.begin).ReadAll(); err != nil {
		return nil, asPgError(err)
	}
	out := []byte(`{"results":[`)
	for i, q := range qs {
		if i > 0 {
			out = append(out, ',')
		}
		var err error
		if out, err = x.query(ctx, out, q); err != nil {
			if x.conn.TxStatus() != 'I' && !x.conn.IsClosed() {
				_, _ = x.conn.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll()
			}
			return nil, err
		}
	}
	if _, err := x.conn.Exec(ctx, "COMMIT").ReadAll(); err != nil {
		return nil, asPgError(err)
	}
	return append(out, "]}"...), nil
}

// query runs one statement (extended protocol, text params of unspecified
// type, text results) and appends its result object to dst.
func (x *execution) query(ctx context.Context, dst []byte, q query) ([]byte, error) {
	arrayMode := x.o.arrayMode
	if q.arrayMode != nil {
		arrayMode = *q.arrayMode
	}
	rr := x.conn.ExecParams(ctx, q.sql, q.params, nil, nil, nil)
	fields := rr.FieldDescriptions()
	var rows []byte
	n := 0
	over := false
	for rr.NextRow() {
		if over {
			continue // read the rest, keeping the connection in step
		}
		if n > 0 {
			rows = append(rows, ',')
		}
		before := len(rows)
		rows = appendRow(rows, rr.Values(), fields, arrayMode, x.o.raw)
		n++
		if x.left -= len(rows) - before; x.left < 0 {
			over, rows = true, nil
		}
	}
	tag, err := rr.Close()
	if err != nil {
		return nil, asPgError(err)
	}
	if over {
		return nil, tooLarge(x.max)
	}
	command, count := parseTag(tag.String())
	dst = append(dst, `{"command":`...)
	dst = appendJSONString(dst, command)
	dst = append(dst, `,"rowCount":`...)
	if count < 0 {
		dst = append(dst, "null"...)
	} else {
		dst = strconv.AppendInt(dst, count, 10)
	}
	dst = append(dst, `,"rows":[`...)
	dst = append(dst, rows...)
	dst = append(dst, `],"fields":[`...)
	for i, f := range fields {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = appendJSONString(dst, f.Name)
		dst = fmt.Appendf(dst, `,"tableID":%d,"columnID":%d,"dataTypeID":%d,"dataTypeSize":%d,"dataTypeModifier":%d,"format":"text"}`,
			f.TableOID, f.TableAttributeNumber, f.DataTypeOID, f.DataTypeSize, f.TypeModifier)
	}
	dst = append(dst, `],"rowAsArray":`...)
	dst = strconv.AppendBool(dst, arrayMode)
	return append(dst, '}'), nil
}

// parseTag splits a command tag as Neon's proxy does: "INSERT 0 3" →
// INSERT, 3; "SELECT 2" → SELECT, 2; "CREATE TABLE" → CREATE, none (-1).
func parseTag(tag string) (string, int64) {
	name, rest, ok := strings.Cut(tag, " ")
	if !ok {
		return tag, -1
	}
	if name == "INSERT" {
		_, rest, ok = strings.Cut(rest, " ")
		if !ok {
			return name, -1
		}
	}
	n, err := strconv.ParseInt(rest, 10, 64)
	if err != nil {
		return name, -1
	}
	return name, n
}

func appendRow(dst []byte, values [][]byte, fields []pgconn.FieldDescription, arrayMode, raw bool) []byte {
	if arrayMode {
		dst = append(dst, '[')
	} else {
		dst = append(dst, '{')
	}
	for i, v := range values {
		if i > 0 {
			dst = append(dst, ',')
		}
		if !arrayMode {
			dst = appendJSONString(dst, fields[i].Name)
			dst = append(dst, ':')
		}
		switch {
		case v == nil:
			dst = append(dst, "null"...)
		case raw:
			dst = appendJSONString(dst, string(v))
		default:
			dst = appendTyped(dst, string(v), fields[i].DataTypeOID, 0)
		}
	}
	if arrayMode {
		return append(dst, ']')
	}
	return append(dst, '}')
}

// types knows the element types of PostgreSQL's built-in array types.
var types = pgtype.NewMap()

// appendTyped converts a text value to JSON as Neon's proxy does without
// Neon-Raw-Text-Output: bool, int2, int4 and finite floats as JSON
// values, json and jsonb embedded, arrays of built-in types as JSON
// arrays of their elements, anything else (int8 and numeric included) as
// its text.
func appendTyped(dst []byte, v string, oid uint32, depth int) []byte {
	if t, ok := types.TypeForOID(oid); ok {
		if ac, ok := t.Codec.(*pgtype.ArrayCodec); ok && depth < 8 {
			if elems, ok := parseArray(v); ok {
				return appendArray2(dst, elems, ac.ElementType.OID, depth)
			}
		}
	}
	switch oid {
	case pgtype.BoolOID:
		return strconv.AppendBool(dst, v == "t")
	case pgtype.Int2OID, pgtype.Int4OID:
		if _, err := strconv.ParseInt(v, 10, 32); err == nil {
			return append(dst, v...)
		}
	case pgtype.Float4OID, pgtype.Float8OID:
		if f, err := strconv.ParseFloat(v, 64); err == nil && !math.IsInf(f, 0) && !math.IsNaN(f) {
			return append(dst, v...)
		}
	case pgtype.JSONOID, pgtype.JSONBOID:
		if json.Valid([]byte(v)) {
			return append(dst, v...)
		}
	}
	return appendJSONString(dst, v)
}

// element is one item of a parsed array: a value (nil for NULL) or a
// nested array.
type element struct {
	text *string
	sub  []element
}

func appendArray2(dst []byte, elems []element, elemOID uint32, depth int) []byte {
	dst = append(dst, '[')
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, ',')
		}
		switch {
		case e.sub != nil:
			dst = appendArray2(dst, e.sub, elemOID, depth+1)
		case e.text == nil:
			dst = append(dst, "null"...)
		default:
			dst = appendTyped(dst, *e.text, elemOID, depth+1)
		}
	}
	return append(dst, ']')
}

// parseArray reads PostgreSQL's text output of an array (comma-delimited;
// bounds decoration dropped). ok is false for anything it cannot read,
// which is then passed on as text.
func parseArray(s string) ([]element, bool) {
	if strings.HasPrefix(s, "[") {
		_, after, found := strings.Cut(s, "=")
		if !found {
			return nil, false
		}
		s = after
	}
	elems, rest, ok := parseLevel(s)
	return elems, ok && rest == ""
}

func parseLevel(s string) ([]element, string, bool) {
	if !strings.HasPrefix(s, "{") {
		return nil, s, false
	}
	s = s[1:]
	out := []element{}
	if strings.HasPrefix(s, "}") {
		return out, s[1:], true
	}
	for {
		var e element
		switch {
		case strings.HasPrefix(s, "{"):
			sub, rest, ok := parseLevel(s)
			if !ok {
				return nil, s, false
			}
			e.sub, s = sub, rest
		case strings.HasPrefix(s, `"`):
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				if s[i] == '\\' && i+1 < len(s) {
					i++
				}
				b.WriteByte(s[i])
			}
			if i >= len(s) {
				return nil, s, false
			}
			t := b.String()
			e.text, s = &t, s[i+1:]
		default:
			i := strings.IndexAny(s, ",}")
			if i < 0 {
				return nil, s, false
			}
			if t := s[:i]; t != "NULL" {
				e.text = &t
			}
			s = s[i:]
		}
		out = append(out, e)
		switch {
		case strings.HasPrefix(s, ","):
			s = s[1:]
		case strings.HasPrefix(s, "}"):
			return out, s[1:], true
		default:
			return nil, s, false
		}
	}
}

func appendJSONString(dst []byte, s string) []byte {
	b, _ := json.Marshal(s)
	return append(dst, b...)
}

func itoa(n int) string { return strconv.Itoa(n) }

// pgError is an error PostgreSQL reported, rendered in Neon's shape.
type pgError struct {
	err  *pgconn.PgError
	body []byte
}

func (e *pgError) Error() string { return e.err.Error() }
func (e *pgError) Unwrap() error { return e.err }

// asPgError turns PostgreSQL's errors into pgError; others (a broken
// connection) pass through.
func asPgError(err error) error {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return platform.Wrap(platform.CodeUnavailable, err, "connection to the database failed; try again")
	}
	f := errorFields{message: pe.Message, code: pe.Code, detail: pe.Detail, hint: pe.Hint, severity: pe.Severity,
		where: pe.Where, table: pe.TableName, column: pe.ColumnName, schema: pe.SchemaName, dataType: pe.DataTypeName,
		constraint: pe.ConstraintName, file: pe.File, routine: pe.Routine, internalQuery: pe.InternalQuery}
	if pe.Position > 0 {
		f.position = strconv.Itoa(int(pe.Position))
	}
	if pe.InternalPosition > 0 {
		f.internalPosition = strconv.Itoa(int(pe.InternalPosition))
	}
	if pe.Line > 0 {
		f.line = strconv.Itoa(int(pe.Line))
	}
	return &pgError{err: pe, body: errorJSON(f)}
}

// errorFields are the keys of Neon's error answer; empty ones are null.
type errorFields struct {
	message, code, detail, hint, position, internalPosition, internalQuery, severity, where,
	table, column, schema, dataType, constraint, file, line, routine string
}

func errorJSON(f errorFields) []byte {
	opt := func(s string) *string {
		if s == "" {
			return nil
		}
		return &s
	}
	b, _ := json.Marshal(struct {
		Message          string  `json:"message"`
		Code             *string `json:"code"`
		Detail           *string `json:"detail"`
		Hint             *string `json:"hint"`
		Position         *string `json:"position"`
		InternalPosition *string `json:"internalPosition"`
		InternalQuery    *string `json:"internalQuery"`
		Severity         *string `json:"severity"`
		Where            *string `json:"where"`
		Table            *string `json:"table"`
		Column           *string `json:"column"`
		Schema           *string `json:"schema"`
		DataType         *string `json:"dataType"`
		Constraint       *string `json:"constraint"`
		File             *string `json:"file"`
		Line             *string `json:"line"`
		Routine          *string `json:"routine"`
	}{f.message, opt(f.code), opt(f.detail), opt(f.hint), opt(f.position), opt(f.internalPosition), opt(f.internalQuery),
		opt(f.severity), opt(f.where), opt(f.table), opt(f.column), opt(f.schema), opt(f.dataType), opt(f.constraint),
		opt(f.file), opt(f.line), opt(f.routine)})
	return b
}
