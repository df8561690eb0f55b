package sqlexec

import (
	"strconv"
	"unicode/utf8"
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
		dst = appendString(dst, e.Message, html)
		dst = append(dst, `,"code":`...)
		dst = appendString(dst, e.Code, html)
		dst = append(dst, `,"detail":`...)
		dst = appendString(dst, e.Detail, html)
		dst = append(dst, `,"hint":`...)
		dst = appendString(dst, e.Hint, html)
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
		dst = appendString(dst, c.Name, html)
		dst = append(dst, `,"type":`...)
		dst = appendString(dst, c.Type, html)
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
	dst = appendString(dst, r.Command, html)
	if r.Truncated {
		dst = append(dst, `,"truncated":true`...)
	}
	return append(dst, '}')
}

// appendString appends s as encoding/json encodes a string (escapeHTML as
// the encoder's setting): short escapes for \b \f \n \r \t, \u00XX for other
// control characters, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
// Text values of results go through it without html (the response's
// encoding applies that to the whole body).
func appendString[S ~string | ~[]byte](dst []byte, s S, html bool) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= 0x20 && b != '"' && b != '\\' && (!html || (b != '<' && b != '>' && b != '&')) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[b>>4], hexDigits[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(string(s[i:min(len(s), i+utf8.UTFMax)]))
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
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
