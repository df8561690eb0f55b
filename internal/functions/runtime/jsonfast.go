package runtime

import (
	"math"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/dop251/goja"
)

// primitiveJSON is JSON.stringify(v) for null, a boolean, a number or a
// string, the results handlers most often return, without the holder
// object and state JSON.stringify makes for every call. toJSON is consulted
// only for objects, so a primitive's JSON does not depend on customer code.
// ok is false for anything else.
func primitiveJSON(v goja.Value) (string, bool) {
	if goja.IsNull(v) {
		return "null", true
	}
	if s, ok := v.(goja.String); ok {
		return quoteJSON(s), true
	}
	if goja.IsNumber(v) {
		if f := v.ToFloat(); math.IsNaN(f) || math.IsInf(f, 0) {
			return "null", true
		}
		return v.String(), true // the number's ToString, as JSON.stringify
	}
	if b, ok := v.Export().(bool); ok && !isObject(v) {
		return strconv.FormatBool(b), true
	}
	return "", false
}

func isObject(v goja.Value) bool {
	_, ok := v.(*goja.Object)
	return ok
}

const hexDigits = "0123456789abcdef"

// quoteJSON is JSON.stringify of a string (QuoteJSONString): the UTF-16
// code units as UTF-8, a lone surrogate as a lower-case \u escape.
func quoteJSON(s goja.String) string {
	n := s.Length()
	b := make([]byte, 0, n+2)
	b = append(b, '"')
	for i := 0; i < n; i++ {
		c := rune(s.CharAt(i))
		switch {
		case c == '"' || c == '\\':
			b = append(b, '\\', byte(c))
		case c == '\b':
			b = append(b, '\\', 'b')
		case c == '\t':
			b = append(b, '\\', 't')
		case c == '\n':
			b = append(b, '\\', 'n')
		case c == '\f':
			b = append(b, '\\', 'f')
		case c == '\r':
			b = append(b, '\\', 'r')
		case c < 0x20:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
		case utf16.IsSurrogate(c):
			if c < 0xDC00 && i+1 < n {
				if r := utf16.DecodeRune(c, rune(s.CharAt(i+1))); r != 0xFFFD {
					b = utf8.AppendRune(b, r)
					i++
					continue
				}
			}
			b = append(b, '\\', 'u', hexDigits[c>>12], hexDigits[c>>8&0xF], hexDigits[c>>4&0xF], hexDigits[c&0xF])
		default:
			b = utf8.AppendRune(b, c)
		}
	}
	return string(append(b, '"'))
}
