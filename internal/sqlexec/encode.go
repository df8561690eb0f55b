package sqlexec

import (
	"strconv"

	"github.com/db9/db9/internal/web"
)

// AppendJSON appends the response body of r to dst: the bytes that
// encoding/json.Marshal(r) produces (HTML-safe, compact), written by hand
// because reflection and the re-compaction of MarshalJSON's output were a
// large part of the CPU of a small request.
func (r *Result) AppendJSON(dst []byte) []byte { return r.appendJSON(dst, true) }

// appendJSON writes r as MarshalJSON defines it. With html, '<', '>', '&',
// U+2028 and U+2029 in strings are escaped as encoding/json's default
// encoder escapes them; without, the caller's encoder is left to do so.
func (r *Result) appendJSON(dst []byte, html bool) []byte {
	if e := r.Error; e != nil {
		dst = append(dst, `{"error":{"message":`...)
		dst = web.AppendJSONString(dst, e.Message, html)
		dst = append(dst, `,"code":`...)
		dst = web.AppendJSONString(dst, e.Code, html)
		dst = append(dst, `,"detail":`...)
		dst = web.AppendJSONString(dst, e.Detail, html)
		dst = append(dst, `,"hint":`...)
		dst = web.AppendJSONString(dst, e.Hint, html)
		dst = append(dst, `,"position":`...)
		dst = strconv.AppendInt(dst, int64(e.Position), 10)
		return append(dst, "}}"...)
	}
	dst = append(dst, `{"columns":[`...)
	for i, c := range r.Columns {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, `{"name":`...)
		dst = web.AppendJSONString(dst, c.Name, html)
		dst = append(dst, `,"type":`...)
		dst = web.AppendJSONString(dst, c.Type, html)
		dst = append(dst, '}')
	}
	dst = append(dst, `],"rows":[`...)
	for i, row := range r.Rows {
		if i > 0 {
			dst = append(dst, ',')
		}
		if row == nil {
			dst = append(dst, "null"...)
			continue
		}
		dst = append(dst, '[')
		for j, v := range row {
			if j > 0 {
				dst = append(dst, ',')
			}
			dst = appendCompact(dst, v, html)
		}
		dst = append(dst, ']')
	}
	dst = append(dst, `],"row_count":`...)
	dst = strconv.AppendInt(dst, int64(r.RowCount), 10)
	dst = append(dst, `,"command":`...)
	dst = web.AppendJSONString(dst, r.Command, html)
	if r.Truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	return append(dst, '}')
}

// appendCompact appends the valid JSON text v without insignificant white
// space, as encoding/json does with a json.RawMessage: with html, '<', '>',
// '&', U+2028 and U+2029 become \u escapes. v comes from appendValue, which
// always produces valid JSON; most values need no change and are copied.
func appendCompact(dst, v []byte, html bool) []byte {
	if v == nil {
		return append(dst, "null"...)
	}
	clean := true
	for _, c := range v {
		if c == ' ' || c == '\t' || c == '\n' || c == '\r' || (html && (c == '<' || c == '>' || c == '&' || c == 0xE2)) {
			clean = false
			break
		}
	}
	if clean {
		return append(dst, v...)
	}
	inString, escaped := false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case html && (c == '<' || c == '>' || c == '&'):
			dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		case html && c == 0xE2 && i+2 < len(v) && v[i+1] == 0x80 && v[i+2]&^1 == 0xA8:
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[v[i+2]&0xF])
			i += 2
		case !inString && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
		default:
			dst = append(dst, c)
		}
		switch {
		case escaped:
			escaped = false
		case inString && c == '\\':
			escaped = true
		case c == '"':
			inString = !inString
		}
	}
	return dst
}
