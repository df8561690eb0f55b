package dataapi

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

// bodyRows is a JSON payload of rows: one object or an array of objects.
type bodyRows struct {
	raw      string // always a JSON array
	keys     []string
	sameKeys bool
	n        int
	first    map[string]string // scalar text of the first row's values
	rows     []map[string]json.RawMessage
}

func invalidBody(details string) error {
	return &pgrst.Error{Status: 400, Code: "PGRST102", Message: "Empty or invalid json", Details: details}
}

func decodeRows(body []byte, single bool) (*bodyRows, error) {
	trimmed := bytes.TrimSpace(body)
	if len(trimmed) == 0 || !json.Valid(trimmed) {
		return nil, invalidBody("")
	}
	var rows []map[string]json.RawMessage
	switch trimmed[0] {
	case '{':
		var m map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &m); err != nil {
			return nil, invalidBody(err.Error())
		}
		rows = []map[string]json.RawMessage{m}
		trimmed = append(append([]byte{'['}, trimmed...), ']')
	case '[':
		if err := json.Unmarshal(trimmed, &rows); err != nil {
			return nil, invalidBody("all elements of the array must be objects")
		}
		for _, r := range rows {
			if r == nil {
				return nil, invalidBody("all elements of the array must be objects")
			}
		}
	default:
		return nil, invalidBody("expecting an object or an array of objects")
	}
	br := &bodyRows{raw: string(trimmed), sameKeys: true, n: len(rows), rows: rows}
	if len(rows) > 0 {
		br.keys = sortedKeys(rows[0])
		br.first = map[string]string{}
		for k, v := range rows[0] {
			br.first[k] = scalarText(v)
		}
		want := strings.Join(br.keys, "\x00")
		for _, r := range rows[1:] {
			if strings.Join(sortedKeys(r), "\x00") != want {
				br.sameKeys = false
				break
			}
		}
	} else {
		br.keys = []string{}
	}
	return br, nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func scalarText(v json.RawMessage) string {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s
	}
	return string(bytes.TrimSpace(v))
}

// groupByKeys splits the rows by which of cols they carry, for
// missing=default: every group is inserted naming only its own columns.
func (br *bodyRows) groupByKeys(cols []string) ([][]string, []string) {
	var groups [][]string
	var payloads []string
	index := map[string]int{}
	var members [][]json.RawMessage
	for _, r := range br.rows {
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

// decodeObject decodes a PATCH body: one object.
func decodeObject(body []byte) (string, []string, error) {
	trimmed := bytes.TrimSpace(body)
	var m map[string]json.RawMessage
	if len(trimmed) == 0 || trimmed[0] != '{' || json.Unmarshal(trimmed, &m) != nil {
		return "", nil, invalidBody("expecting a JSON object")
	}
	return string(trimmed), sortedKeys(m), nil
}

// allKeys is the sorted union of every row's keys.
func (br *bodyRows) allKeys() []string {
	seen := map[string]json.RawMessage{}
	for _, r := range br.rows {
		for k := range r {
			seen[k] = nil
		}
	}
	return sortedKeys(seen)
}

// csvToJSON turns a text/csv payload into the JSON array of objects
// PostgREST makes of one: the first record names the columns, every value
// is a string for the column's input function to read, an empty field is
// the empty string and the bare word NULL is null.
func csvToJSON(body []byte) ([]byte, error) {
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
