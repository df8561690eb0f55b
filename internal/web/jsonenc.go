package web

import (
	"time"
	"unicode/utf8"
)

// Hand-written JSON for the hottest responses: the helpers append exactly
// what encoding/json.Marshal writes for the same value, without its
// reflection and allocations.

// AppendJSONString appends s as encoding/json encodes a string, with html
// as the encoder's EscapeHTML ('<', '>', '&' as \u escapes; Marshal's
// default is true): short escapes for \b \f \n \r \t, \u00XX for other
// control characters, invalid UTF-8 as U+FFFD, U+2028 and U+2029 escaped.
// The /sql encoder (internal/sqlexec) writes text values of results
// without html, as its response's encoding applies that to the whole body.
func AppendJSONString[S ~string | ~[]byte](dst []byte, s S, html bool) []byte {
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

const hexDigits = "0123456789abcdef"

// AppendJSONTime appends t as encoding/json.Marshal encodes a time.Time
// (RFC 3339 with nanoseconds, quoted). ok is false, and dst is returned
// as it was, for a time Marshal refuses: a year outside 0–9999 or a zone
// offset of 24 hours or more or with seconds.
func AppendJSONTime(dst []byte, t time.Time) (_ []byte, ok bool) {
	n0 := len(dst)
	b := append(dst, '"')
	b = t.AppendFormat(b, time.RFC3339Nano)
	// The checks of time.Time.MarshalJSON, on the same text.
	if b[n0+1+len("9999")] != '-' {
		return b[:n0], false
	}
	if b[len(b)-1] != 'Z' {
		c := b[len(b)-len("Z07:00")]
		h := b[len(b)-len("07:00"):]
		if ('0' <= c && c <= '9') || 10*(h[0]-'0')+(h[1]-'0') >= 24 {
			return b[:n0], false
		}
	}
	return append(b, '"'), true
}
