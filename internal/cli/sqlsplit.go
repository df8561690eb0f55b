package cli

// sqlComplete reports whether text ends a statement: its last significant
// character is a semicolon outside quotes, dollar quotes and comments.
// The interactive session sends input when it is complete, as psql does.
func sqlComplete(text string) bool {
	const (
		normal  = iota
		single  // '...'
		escaped // E'...' (backslash escapes)
		double  // "..."
		dollar  // $tag$...$tag$
		line    // -- ...
		block   // /* ... */ (nested)
	)
	state, depth := normal, 0
	tag := ""
	last := byte(0) // last significant byte seen in normal state
	for i := 0; i < len(text); i++ {
		c := text[i]
		var next byte
		if i+1 < len(text) {
			next = text[i+1]
		}
		switch state {
		case normal:
			switch {
			case c == '-' && next == '-':
				state, i = line, i+1
			case c == '/' && next == '*':
				state, depth, i = block, 1, i+1
			case c == '\'':
				state = single
				if i > 0 && (text[i-1] == 'E' || text[i-1] == 'e') && (i < 2 || !identByte(text[i-2])) {
					state = escaped
				}
				last = c
			case c == '"':
				state, last = double, c
			case c == '$' && (i == 0 || !identByte(text[i-1])):
				if t, ok := dollarTag(text[i:]); ok {
					state, tag, last = dollar, t, c
					i += len(t) - 1
				} else {
					last = c
				}
			case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f':
			default:
				last = c
			}
		case single:
			if c == '\'' {
				if next == '\'' {
					i++
				} else {
					state = normal
				}
			}
		case escaped:
			switch {
			case c == '\\':
				i++
			case c == '\'' && next == '\'':
				i++
			case c == '\'':
				state = normal
			}
		case double:
			if c == '"' {
				if next == '"' {
					i++
				} else {
					state = normal
				}
			}
		case dollar:
			if c == '$' && len(text)-i >= len(tag) && text[i:i+len(tag)] == tag {
				state = normal
				i += len(tag) - 1
			}
		case line:
			if c == '\n' {
				state = normal
			}
		case block:
			switch {
			case c == '/' && next == '*':
				depth, i = depth+1, i+1
			case c == '*' && next == '/':
				depth, i = depth-1, i+1
				if depth == 0 {
					state = normal
				}
			}
		}
	}
	return (state == normal || state == line) && last == ';'
}

// dollarTag returns the opening tag ($$ or $name$) at the start of s.
func dollarTag(s string) (string, bool) {
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '$':
			return s[:i+1], true
		case c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= 0x80:
		case c >= '0' && c <= '9' && i > 1:
		default:
			return "", false
		}
	}
	return "", false
}

func identByte(c byte) bool {
	return c == '_' || c == '$' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
