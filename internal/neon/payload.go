package neon

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
)

// options are the request headers that shape a run.
type options struct {
	raw       bool   // Neon-Raw-Text-Output: values as PostgreSQL's text
	arrayMode bool   // Neon-Array-Mode: rows as arrays (a query may override)
	begin     string // the BEGIN of a batch
	batchHdrs http.Header
}

// isolationLevels maps Neon-Batch-Isolation-Level's values.
var isolationLevels = map[string]string{
	"Serializable":    "SERIALIZABLE",
	"RepeatableRead":  "REPEATABLE READ",
	"ReadCommitted":   "READ COMMITTED",
	"ReadUncommitted": "READ UNCOMMITTED",
}

// parseHeaders reads the Neon-* headers as Neon's proxy does: a flag is on
// only when it is exactly "true".
func parseHeaders(h http.Header) (options, error) {
	o := options{raw: h.Get("Neon-Raw-Text-Output") == "true", arrayMode: h.Get("Neon-Array-Mode") == "true",
		begin: "BEGIN", batchHdrs: http.Header{}}
	if lvl := h.Get("Neon-Batch-Isolation-Level"); lvl != "" {
		sql, ok := isolationLevels[lvl]
		if !ok {
			return o, userError("invalid isolation level")
		}
		o.begin += " ISOLATION LEVEL " + sql
		o.batchHdrs.Set("Neon-Batch-Isolation-Level", lvl)
	}
	if h.Get("Neon-Batch-Read-Only") == "true" {
		o.begin += " READ ONLY"
		o.batchHdrs.Set("Neon-Batch-Read-Only", "true")
	}
	if h.Get("Neon-Batch-Deferrable") == "true" {
		o.begin += " DEFERRABLE"
		o.batchHdrs.Set("Neon-Batch-Deferrable", "true")
	}
	return o, nil
}

// query is one statement of a request.
type query struct {
	sql       string
	params    [][]byte // nil element: NULL
	arrayMode *bool
}

// payload is a request body: one query, or a batch run as one transaction.
type payload struct {
	single *query
	batch  []query
}

type wireQuery struct {
	Query     *string           `json:"query"`
	Params    []json.RawMessage `json:"params"`
	ArrayMode *bool             `json:"arrayMode"`
}

// decodePayload reads {query, params, arrayMode} or {queries: [...]}.
func decodePayload(b []byte) (payload, error) {
	var w struct {
		wireQuery
		Queries *[]wireQuery `json:"queries"`
	}
	if err := json.Unmarshal(b, &w); err != nil {
		return payload{}, userError("request body is not valid JSON of {query, params} or {queries: [...]}: " + err.Error())
	}
	switch {
	case w.Query != nil:
		q, err := w.wireQuery.decode("")
		return payload{single: &q}, err
	case w.Queries != nil:
		p := payload{batch: make([]query, 0, len(*w.Queries))}
		for i, wq := range *w.Queries {
			q, err := wq.decode("queries[" + strconv.Itoa(i) + "].")
			if err != nil {
				return payload{}, err
			}
			p.batch = append(p.batch, q)
		}
		return p, nil
	}
	return payload{}, userError("request body has neither query nor queries")
}

func (w wireQuery) decode(at string) (query, error) {
	if w.Query == nil {
		return query{}, userError(at + "query is missing")
	}
	q := query{sql: *w.Query, arrayMode: w.ArrayMode, params: make([][]byte, len(w.Params))}
	for i, p := range w.Params {
		v, err := paramText(p)
		if err != nil {
			return query{}, userError(at + "params[" + strconv.Itoa(i) + "]: " + err.Error())
		}
		q.params[i] = v
	}
	return q, nil
}

// paramText turns a JSON param into PostgreSQL text as Neon's proxy does:
// null is NULL, a string is itself, true/false, numbers and objects their
// JSON text, an array a PostgreSQL array literal. (The driver sends every
// value already as a string or null.)
func paramText(raw json.RawMessage) ([]byte, error) {
	raw = bytes.TrimSpace(raw)
	switch {
	case len(raw) == 0:
		return nil, userError("empty value")
	case string(raw) == "null":
		return nil, nil
	case raw[0] == '"':
		var s string
		if err := json.Unmarshal(raw, &s); err != nil {
			return nil, err
		}
		return []byte(s), nil
	case raw[0] == '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return nil, err
		}
		var b strings.Builder
		if err := appendArray(&b, elems, 0); err != nil {
			return nil, err
		}
		return []byte(b.String()), nil
	}
	if !json.Valid(raw) {
		return nil, userError("invalid JSON")
	}
	var c bytes.Buffer
	_ = json.Compact(&c, raw)
	return c.Bytes(), nil
}

func appendArray(b *strings.Builder, elems []json.RawMessage, depth int) error {
	if depth > 6 {
		return userError("array nested deeper than 6 levels")
	}
	b.WriteByte('{')
	for i, e := range elems {
		if i > 0 {
			b.WriteByte(',')
		}
		e = bytes.TrimSpace(e)
		switch {
		case string(e) == "null":
			b.WriteString("NULL")
		case len(e) > 0 && e[0] == '[':
			var sub []json.RawMessage
			if err := json.Unmarshal(e, &sub); err != nil {
				return err
			}
			if err := appendArray(b, sub, depth+1); err != nil {
				return err
			}
		case len(e) > 0 && e[0] == '"':
			var s string
			if err := json.Unmarshal(e, &s); err != nil {
				return err
			}
			quoteElement(b, s)
		case len(e) > 0 && e[0] == '{':
			var c bytes.Buffer
			_ = json.Compact(&c, e)
			quoteElement(b, c.String())
		default: // true, false, a number
			b.Write(e)
		}
	}
	b.WriteByte('}')
	return nil
}

// quoteElement writes s as a double-quoted array element.
func quoteElement(b *strings.Builder, s string) {
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if s[i] == '"' || s[i] == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
}
