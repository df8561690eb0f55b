package pgrst

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// scanner walks one parameter value; errors carry the parameter name so the
// PGRST100 message says which one failed.
type scanner struct {
	s   string
	pos int
}

func (sc *scanner) eof() bool { return sc.pos >= len(sc.s) }

func (sc *scanner) peek() byte {
	if sc.eof() {
		return 0
	}
	return sc.s[sc.pos]
}

func (sc *scanner) has(prefix string) bool { return strings.HasPrefix(sc.s[sc.pos:], prefix) }

func (sc *scanner) accept(prefix string) bool {
	if sc.has(prefix) {
		sc.pos += len(prefix)
		return true
	}
	return false
}

func (sc *scanner) errf(format string, args ...any) error {
	return fmt.Errorf("at position %d: %s", sc.pos+1, fmt.Sprintf(format, args...))
}

func (sc *scanner) expect(tok string) error {
	if !sc.accept(tok) {
		if sc.eof() {
			return sc.errf("unexpected end of input, expecting %q", tok)
		}
		return sc.errf("unexpected %q, expecting %q", string(sc.s[sc.pos]), tok)
	}
	return nil
}

// nameRune is a character of an unquoted name, as PostgREST's field names:
// letters, digits, underscore, dollar and space.
func nameRune(r rune) bool {
	return r == '_' || r == '$' || r == ' ' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// name reads an unquoted or double-quoted name.
func (sc *scanner) name() (string, error) {
	if sc.peek() == '"' {
		return sc.quoted()
	}
	start := sc.pos
	for !sc.eof() {
		r, n := utf8.DecodeRuneInString(sc.s[sc.pos:])
		if r == utf8.RuneError || !nameRune(r) {
			break
		}
		sc.pos += n
	}
	if sc.pos == start {
		if sc.eof() {
			return "", sc.errf("unexpected end of input, expecting a name")
		}
		return "", sc.errf("unexpected %q, expecting a name", string(sc.s[sc.pos]))
	}
	return strings.TrimSpace(sc.s[start:sc.pos]), nil
}

// quoted reads a "..." string with backslash escapes.
func (sc *scanner) quoted() (string, error) {
	if err := sc.expect(`"`); err != nil {
		return "", err
	}
	var b strings.Builder
	for !sc.eof() {
		c := sc.s[sc.pos]
		switch c {
		case '\\':
			if sc.pos+1 < len(sc.s) {
				b.WriteByte(sc.s[sc.pos+1])
				sc.pos += 2
				continue
			}
			sc.pos++
		case '"':
			sc.pos++
			return b.String(), nil
		default:
			b.WriteByte(c)
			sc.pos++
		}
	}
	return "", sc.errf("unterminated quoted string")
}

// field reads `name(->key|->>key)*`.
func (sc *scanner) field() (Field, error) {
	n, err := sc.name()
	if err != nil {
		return Field{}, err
	}
	return sc.fieldTail(n)
}

// fieldTail reads the JSON path after a column name.
func (sc *scanner) fieldTail(n string) (Field, error) {
	f := Field{Name: n}
	for {
		var step JSONStep
		switch {
		case sc.accept("->>"):
			step.Text = true
		case sc.accept("->"):
		default:
			return f, nil
		}
		// An array index: optional minus and digits.
		start := sc.pos
		sc.accept("-")
		for !sc.eof() && sc.peek() >= '0' && sc.peek() <= '9' {
			sc.pos++
		}
		num := sc.s[start:sc.pos]
		if num != "" && num != "-" && (sc.eof() || !nameContinues(sc.s[sc.pos:])) {
			step.Key, step.Index = num, true
		} else {
			sc.pos = start
			k, err := sc.name()
			if err != nil {
				return Field{}, err
			}
			step.Key = k
		}
		f.Path = append(f.Path, step)
	}
}

func nameContinues(rest string) bool {
	r, _ := utf8.DecodeRuneInString(rest)
	return r != utf8.RuneError && nameRune(r) && r != ' '
}

// checkText refuses what PostgreSQL cannot take in query text or values.
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return fmt.Errorf("invalid UTF-8")
	}
	if strings.IndexByte(s, 0) >= 0 {
		return fmt.Errorf("NUL character")
	}
	return nil
}
