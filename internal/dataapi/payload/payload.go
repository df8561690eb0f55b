// Package payload decodes the bodies of data API requests: JSON rows
// (one object or an array) and CSV, with PostgREST's errors for bad ones.
package payload

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"sort"
	"strings"

	"github.com/db9/db9/internal/dataapi/pgrst"
)

// Rows is a JSON payload of rows: one object or an array of objects.
type Rows struct {
	Raw      string // always a JSON array
	Keys     []string
	SameKeys bool
	N        int
	First    map[string]string // scalar text of the first row's values
	Rows     []map[string]json.RawMessage
}

// InvalidBody is PostgREST's PGRST102 answer to a body that is not the
// JSON it should be.
func InvalidBody(details string) error {
	return &pgrst.Error{Status: 400, Code: "PGRST102", Message: "Empty or invalid json", Details: details}
}

// DecodeRows decodes a body of rows: one object, or an array of objects
// (single: a PUT, whose body must be one row).
func DecodeRows(body []byte, single bool) (*Rows, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return nil, InvalidBody("")
	}
	var rows []map[string]json.RawMessage
	switch trimmed[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, InvalidBody(err.Error())
		}
		rows = []map[string]json.RawMessage{m}
		trimmed = append(append([]byte{'['}, trimmed...), ']')
	case '[':
		if err := json.Unmarshal(trimmed, &rows); err != nil {
			return nil, InvalidBody("all elements of the array must be objects")
		}
		for _, r := range rows {
			if r == nil {
				return nil, InvalidBody("all elements of the array must be objects")
			}
		}
	default:
		return nil, InvalidBody("expecting an object or an array of objects")
	}
	br := &Rows{Raw: string(trimmed), SameKeys: true, N: len(rows), Rows: rows}
	if len(rows) > 0 {
		br.Keys = SortedKeys(rows[0])
		br.First = map[string]string{}
		for k, v := range rows[0] {
			br.First[k] = ScalarText(v)
		}
		want := strings.Join(br.Keys, "\x00")
		for _, r := range rows[1:] {
			if strings.Join(SortedKeys(r), "\x00") != want {
				br.SameKeys = false
				break
			}
		}
	} else {
		br.Keys = []string{}
	}
	return br, nil
}

// SortedKeys returns the keys of m in order.
func SortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// ScalarText is the text of a JSON scalar as PostgreSQL would read it
// (a string unquoted, other values as written).
func ScalarText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}

// GroupByKeys splits the rows by which of cols they carry, for
// missing=default: every group is inserted naming only its own columns.
func (br *Rows) GroupByKeys(cols []string) ([][]string, []string) {
	var groups [][]string
	var payloads []string
	index := map[string]int{}
	var members [][]json.RawMessage
	for _, r := range br.Rows {
		var g []string
		for _, c := range cols {
			if _, ok := r[c]; ok {
				g = append(g, c)
			}
		}
		key := strings.Join(g, "\x00")
		i, ok := index[key]
		if !ok {
			i = len(groups)
			index[key] = i
			groups = append(groups, g)
			members = append(members, nil)
		}
		raw, _ := json.Marshal(r)
		members[i] = append(members[i], raw)
	}
	for _, m := range members {
		raw, _ := json.Marshal(m)
		payloads = append(payloads, string(raw))
	}
	if len(groups) == 0 {
		return [][]string{cols}, []string{"[]"}
	}
	return groups, payloads
}

// DecodeObject decodes a PATCH body: one object.
func DecodeObject(body []byte) (string, []string, error) {
	trimmed := bytes.TrimSpace(body)
	var m map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &m) != nil {
		return "", nil, InvalidBody("expecting a JSON object")
	}
	return string(trimmed), SortedKeys(m), nil
}

// AllKeys is the sorted union of every row's keys.
func (br *Rows) AllKeys() []string {
	seen := map[string]json.RawMessage{}
	for _, r := range br.Rows {
		for k := range r {
			seen[k] = nil
		}
	}
	return SortedKeys(seen)
}

// CSVToJSON turns a text/csv payload into the JSON array of objects
// PostgREST makes of one: the first record names the columns, every value
// is a string for the column's input function to read, an empty field is
// the empty string and the bare word NULL is null.
func CSVToJSON(body []byte) ([]byte, error) {
	r := csv.NewReader(bytes.NewReader(body))
	header, err := r.Read()
	if err != nil {
		return nil, invalidCSV(err)
	}
	for i, h := range header {
		header[i] = strings.TrimSpace(h)
	}
	var out bytes.Buffer
	out.WriteByte('[')
	for n := 0; ; n++ {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, invalidCSV(err)
		}
		if n > 0 {
			out.WriteByte(',')
		}
		out.WriteByte('{')
		for i, v := range rec {
			if i > 0 {
				out.WriteByte(',')
			}
			k, _ := json.Marshal(header[i])
			out.Write(k)
			out.WriteByte(':')
			if v == "NULL" {
				out.WriteString("null")
				continue
			}
			jv, _ := json.Marshal(v)
			out.Write(jv)
		}
		out.WriteByte('}')
	}
	out.WriteByte(']')
	return out.Bytes(), nil
}

func invalidCSV(err error) error {
	return &pgrst.Error{Status: 400, Code: "PGRST102", Message: "Empty or invalid csv", Details: err.Error()}
}
