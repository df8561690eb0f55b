package sqlexec

import (
	"errors"
	"fmt"
	"strings"
)

// maxArrayDims is PostgreSQL's MAXDIM: deeper literals are not arrays the
// server can produce, and the limit bounds the parser's recursion.
const maxArrayDims = 6

var errMalformedArray = errors.New("malformed array literal")

// parseArray parses PostgreSQL's text form of an array, as array_out writes
// it and array_in reads it: an optional dimension decoration such as
// "[0:1]=" (dropped), then nested braces. delim separates elements (',' for
// all types but box, which uses ';'). Each element of the result is nil for
// an SQL NULL, a *string for a value, or a []any for a sub-array; a level
// holds either values or sub-arrays, never both.
func parseArray(text string, delim byte) ([]any, error) {
	p := arrayParser{s: text, delim: delim}
	p.skipSpace()
	if p.peek() == '[' {
		if err := p.dims(); err != nil {
			return nil, err
		}
	}
	v, err := p.level(1)
	if err != nil {
		return nil, err
	}
	p.skipSpace()
	if p.i != len(p.s) {
		return nil, p.errorf("junk after closing brace")
	}
	return v, nil
}

type arrayParser struct {
	s     string
	i     int
	delim byte
}

func (p *arrayParser) errorf(format string, args ...any) error {
	return fmt.Errorf("%w at offset %d: %s", errMalformedArray, p.i, fmt.Sprintf(format, args...))
}

func (p *arrayParser) peek() byte {
	if p.i < len(p.s) {
		return p.s[p.i]
	}
	return 0
}

func (p *arrayParser) skipSpace() {
	for p.i < len(p.s) && isArraySpace(p.s[p.i]) {
		p.i++
	}
}

// isArraySpace is the set array_in skips (scanner_isspace).
func isArraySpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f'
}

// dims skips "[lo:hi][lo:hi]...=" after checking its shape.
func (p *arrayParser) dims() error {
	n := 0
	for p.peek() == '[' {
		p.i++
		if !p.integer() {
			return p.errorf("bad dimension bound")
		}
		if p.peek() == ':' {
			p.i++
			if !p.integer() {
				return p.errorf("bad dimension bound")
			}
		}
		if p.peek() != ']' {
			return p.errorf("missing ']' in dimensions")
		}
		p.i++
		n++
		p.skipSpace()
	}
	if n > maxArrayDims {
		return p.errorf("too many dimensions")
	}
	if p.peek() != '=' {
		return p.errorf("missing '=' after dimensions")
	}
	p.i++
	p.skipSpace()
	return nil
}

func (p *arrayParser) integer() bool {
	if c := p.peek(); c == '-' || c == '+' {
		p.i++
	}
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	return p.i > start
}

// level parses "{...}" at nesting depth d.
func (p *arrayParser) level(d int) ([]any, error) {
	if d > maxArrayDims {
		return nil, p.errorf("too many dimensions")
	}
	if p.peek() != '{' {
		return nil, p.errorf("expected '{'")
	}
	p.i++
	out := []any{}
	p.skipSpace()
	if p.peek() == '}' {
		p.i++
		return out, nil
	}
	subs := false
	for {
		p.skipSpace()
		if p.peek() == '{' {
			if len(out) > 0 && !subs {
				return nil, p.errorf("sub-array mixed with values")
			}
			subs = true
			v, err := p.level(d + 1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		} else {
			if subs {
				return nil, p.errorf("value mixed with sub-arrays")
			}
			v, err := p.element()
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		p.skipSpace()
		switch c := p.peek(); {
		case c == '}':
			p.i++
			return out, nil
		case c == p.delim:
			p.i++
		default:
			return nil, p.errorf("expected delimiter or '}'")
		}
	}
}

// element parses one value: quoted, or unquoted with backslash escapes and
// surrounding space trimmed. An unquoted, unescaped NULL is an SQL NULL.
func (p *arrayParser) element() (any, error) {
	var b strings.Builder
	if p.peek() == '"' {
		p.i++
		for {
			if p.i >= len(p.s) {
				return nil, p.errorf("unterminated quoted element")
			}
			c := p.s[p.i]
			p.i++
			switch c {
			case '"':
				s := b.String()
				return &s, nil
			case '\\':
				if p.i >= len(p.s) {
					return nil, p.errorf("unterminated escape")
				}
				b.WriteByte(p.s[p.i])
				p.i++
			default:
				b.WriteByte(c)
			}
		}
	}
	escaped := false
	keep := 0 // length of b up to the last escaped or non-space byte
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == p.delim || c == '}' {
			break
		}
		switch c {
		case '{', '"':
			return nil, p.errorf("unexpected %q in unquoted element", c)
		case '\\':
			p.i++
			if p.i >= len(p.s) {
				return nil, p.errorf("unterminated escape")
			}
			b.WriteByte(p.s[p.i])
			keep = b.Len()
			escaped = true
		default:
			b.WriteByte(c)
			if !isArraySpace(c) {
				keep = b.Len()
			}
		}
		p.i++
	}
	s := b.String()[:keep]
	if s == "" && !escaped {
		return nil, p.errorf("empty unquoted element")
	}
	if !escaped && strings.EqualFold(s, "NULL") {
		return nil, nil
	}
	return &s, nil
}

// appendArrayLiteral writes elems (as parseArray returns them) as an array
// literal that array_in reads back to the same structure. Every value is
// quoted, which is always valid whatever the element type.
func appendArrayLiteral(dst []byte, elems []any, delim byte) []byte {
	dst = append(dst, '{')
	for i, e := range elems {
		if i > 0 {
			dst = append(dst, delim)
		}
		switch e := e.(type) {
		case nil:
			dst = append(dst, "NULL"...)
		case *string:
			dst = appendQuotedElement(dst, *e)
		case []any:
			dst = appendArrayLiteral(dst, e, delim)
		}
	}
	return append(dst, '}')
}

// appendQuotedElement writes s as a double-quoted array element.
func appendQuotedElement(dst []byte, s string) []byte {
	dst = append(dst, '"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' {
			dst = append(dst, '\\')
		}
		dst = append(dst, s[i])
	}
	return append(dst, '"')
}
