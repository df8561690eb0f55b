package sqlexec

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// Column describes one result column.
type Column struct {
	Name string `json:"name"`
	Type string `json:"type"` // pg_type.typname: int4, text, _int4 for int4[]
}

// SQLError is an error PostgreSQL reported for the SQL. All fields are
// always present in JSON; detail and hint are "" when PostgreSQL gave none,
// position is 0 when it gave none (else 1-based, in characters of the SQL).
type SQLError struct {
	Message  string `json:"message"`
	Code     string `json:"code"` // SQLSTATE
	Detail   string `json:"detail"`
	Hint     string `json:"hint"`
	Position int    `json:"position"`
}

func sqlError(e *pgconn.PgError) *SQLError {
	return &SQLError{Message: e.Message, Code: e.Code, Detail: e.Detail, Hint: e.Hint, Position: int(e.Position)}
}

// Result is the response body of one request: the last statement's result,
// or only Error.
type Result struct {
	Columns   []Column            `json:"columns"`
	Rows      [][]json.RawMessage `json:"rows"`
	RowCount  int                 `json:"row_count"`
	Command   string              `json:"command"`
	Truncated bool                `json:"truncated,omitempty"`
	Error     *SQLError           `json:"error,omitempty"`
}

// MarshalJSON writes {"error": {...}} alone for an SQL error, and otherwise
// every field but error, with columns and rows as arrays even when empty.
// HTML escaping is left to the caller's encoder, which applies it (or not)
// to this output; AppendJSON is the same with it applied.
func (r Result) MarshalJSON() ([]byte, error) {
	return r.appendJSON(nil, false), nil
}

// stmtResult collects one statement's result as it arrives, in text form.
type stmtResult struct {
	oids      []uint32
	names     []string
	rows      [][][]byte // nil value: SQL NULL
	rawBytes  int
	truncated bool
	tag       string
}

func newStmtResult(rd *pgproto3.RowDescription) *stmtResult {
	s := &stmtResult{}
	if rd != nil {
		s.oids = make([]uint32, len(rd.Fields))
		s.names = make([]string, len(rd.Fields))
		for i, f := range rd.Fields {
			s.oids[i], s.names[i] = f.DataTypeOID, string(f.Name)
		}
	}
	return s
}

// addRow keeps a copy of values unless a limit is reached, in which case
// the row and all later ones are dropped. The raw size limit keeps memory
// bounded while reading; the encoded size is checked again in build.
func (s *stmtResult) addRow(values [][]byte, lim Limits) {
	if s.truncated {
		return
	}
	n := 0
	for _, v := range values {
		n += len(v)
	}
	if len(s.rows) >= lim.MaxRows || s.rawBytes+n > lim.MaxBytes {
		s.truncated = true
		return
	}
	s.rawBytes += n
	buf := make([]byte, 0, n)
	row := make([][]byte, len(values))
	for i, v := range values {
		if v != nil {
			start := len(buf)
			buf = append(buf, v...)
			row[i] = buf[start:len(buf):len(buf)]
		}
	}
	s.rows = append(s.rows, row)
}

// build converts the collected rows with the types in tc, which must
// already know every column type it can learn.
func (s *stmtResult) build(tc *TypeCache, lim Limits) *Result {
	res := &Result{Columns: make([]Column, len(s.oids)), Rows: make([][]json.RawMessage, 0, len(s.rows))}
	plans := make([]*plan, len(s.oids))
	for i, oid := range s.oids {
		res.Columns[i] = Column{Name: s.names[i], Type: tc.name(oid)}
		plans[i] = tc.plan(oid)
	}
	res.Truncated = s.truncated
	size := 0
	for _, raw := range s.rows {
		buf := make([]byte, 0, 2*len(raw)+16)
		row := make([]json.RawMessage, len(raw))
		ends := make([]int, len(raw))
		for i, v := range raw {
			buf = appendValue(buf, v, plans[i])
			ends[i] = len(buf)
		}
		// Encoded size as in the rows array: [v,v] and a comma between rows.
		n := len(buf) + len(raw) + 1
		if len(res.Rows) > 0 {
			n++
		}
		if size+n > lim.MaxBytes {
			res.Truncated = true
			break
		}
		size += n
		start := 0
		for i, end := range ends {
			row[i] = json.RawMessage(buf[start:end:end])
			start = end
		}
		res.Rows = append(res.Rows, row)
	}
	res.Command, res.RowCount = parseTag(s.tag)
	if res.RowCount < 0 || res.Truncated {
		res.RowCount = len(res.Rows)
	}
	return res
}

// parseTag splits a command tag such as "INSERT 0 3" or "CREATE TABLE" into
// the command words and the trailing count (-1 when there is none). Tags
// as PostgreSQL writes them (ASCII words, single spaces) are sliced without
// allocating; anything else goes through parseTagFields.
func parseTag(tag string) (string, int) {
	if !plainTag(tag) {
		return parseTagFields(tag)
	}
	words, count := tag, -1
	for {
		i := strings.LastIndexByte(words, ' ') + 1
		n, ok := atoiDigits(words[i:])
		if !ok {
			break
		}
		if count < 0 {
			count = n
		}
		if i == 0 {
			return "", count
		}
		words = words[:i-1]
	}
	return words, count
}

// plainTag reports whether tag is printable ASCII words separated by single
// spaces.
func plainTag(tag string) bool {
	if tag == "" || tag[0] == ' ' || tag[len(tag)-1] == ' ' || strings.Contains(tag, "  ") {
		return false
	}
	for i := 0; i < len(tag); i++ {
		if tag[i] < ' ' || tag[i] > '~' {
			return false
		}
	}
	return true
}

// atoiDigits is strconv.Atoi for a word of plain tag, without an error
// value for the words that are not numbers.
func atoiDigits(s string) (int, bool) {
	d := s
	if len(d) > 0 && (d[0] == '-' || d[0] == '+') {
		d = d[1:]
	}
	if d == "" {
		return 0, false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.Atoi(s)
	return n, err == nil
}

// parseTagFields is parseTag for any text: white space as strings.Fields
// sees it, the numbers at the end read with strconv.Atoi.
func parseTagFields(tag string) (string, int) {
	words := strings.Fields(tag)
	count := -1
	for len(words) > 0 {
		n, err := strconv.Atoi(words[len(words)-1])
		if err != nil {
			break
		}
		if count < 0 {
			count = n
		}
		words = words[:len(words)-1]
	}
	return strings.Join(words, " "), count
}

// asPgError returns the PostgreSQL error in err, if that is what it is.
func asPgError(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	ok := errors.As(err, &pgErr)
	return pgErr, ok
}
