package pgrst

import (
	"net/http"
	"strings"
)

// AppendHeadersJSON appends the request headers as PostgREST's
// request.headers: one JSON object, names lower-cased, repeated headers
// joined by commas. (Written out rather than through a map and
// encoding/json: it runs on every request.)
func AppendHeadersJSON(dst []byte, h http.Header) []byte {
	dst = append(dst, '{')
	first := true
	for k, v := range h {
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = appendJSONLower(dst, k)
		dst = append(dst, ':')
		if len(v) == 1 {
			dst = appendJSONString(dst, v[0])
		} else {
			dst = appendJSONString(dst, strings.Join(v, ","))
		}
	}
	return append(dst, '}')
}

// appendJSONLower is appendJSONString(dst, strings.ToLower(k)) without
// the lower-cased copy: header names are ASCII tokens (net/http refuses
// others), lowered here byte by byte; any other name takes the long way.
func appendJSONLower(dst []byte, k string) []byte {
	for i := 0; i < len(k); i++ {
		if c := k[i]; c < 0x20 || c >= 0x80 || c == '"' || c == '\\' {
			return appendJSONString(dst, strings.ToLower(k))
		}
	}
	dst = append(dst, '"')
	for i := 0; i < len(k); i++ {
		c := k[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		dst = append(dst, c)
	}
	return append(dst, '"')
}

// appendJSONString appends s as a JSON string; invalid UTF-8 becomes
// U+FFFD, as encoding/json does.
func appendJSONString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	s = strings.ToValidUTF8(s, "\ufffd")
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			dst = append(dst, '\\', c)
		case c < 0x20:
			dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
		default:
			dst = append(dst, c)
		}
	}
	return append(dst, '"')
}
