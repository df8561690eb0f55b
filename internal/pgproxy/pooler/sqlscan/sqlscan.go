package sqlscan

import "strings"

// Effect is what a statement leaves on its backend beyond its
// transaction, as far as the pooled endpoint must know (docs/POOLER.md).
type Effect struct {
	// Session names the first command that leaves session state (a SET,
	// LISTEN, session advisory lock, temporary table, ...): the client is
	// pinned to its backend from then on. Empty: none.
	Session string
	// DeallocAll: DEALLOCATE ALL or DISCARD ALL drops every prepared
	// statement of the session.
	DeallocAll bool
	// Dealloc: some prepared statements may be gone (DEALLOCATE name),
	// named in Deallocated (none there: a name the scan could not read).
	Dealloc     bool
	Deallocated []string
	// Executed names the prepared statements run by SQL EXECUTE.
	Executed []string
}

// NamesStatements reports whether the SQL uses prepared statements by
// name (DEALLOCATE, DISCARD ALL, EXECUTE): the pooler must have the
// client's statements on the backend that runs it.
func (e *Effect) NamesStatements() bool {
	return e.DeallocAll || e.Dealloc || len(e.Executed) > 0
}

// sessionFuncs are functions whose effect outlives the transaction. The
// transaction-level advisory locks (pg_advisory_xact_lock...) are not
// among them.
var sessionFuncs = []string{"pg_advisory_lock", "pg_advisory_lock_shared", "pg_try_advisory_lock",
	"pg_try_advisory_lock_shared", "set_config", "dblink_connect"}

// Scan reads the commands of a query string lexically (no parse): the
// first words of each command, and the session-level functions named
// anywhere. It errs on the safe side: a word in a string literal, a
// quoted identifier or a comment is not a word, but a function named in
// a branch that never runs still pins.
func Scan(sql string) Effect {
	var e Effect
	var wbuf [4]string
	words := wbuf[:0] // the first words of the current command (keywords lowercased: keyword)
	hold := false     // the word HOLD in the current command (DECLARE ... WITH HOLD)
	endCommand := func() {
		if len(words) > 0 {
			e.command(words, hold)
		}
		words, hold = words[:0], false
	}
	for i := 0; i < len(sql); {
		c := sql[i]
		switch {
		case c == ';':
			endCommand()
			i++
		case c == '-' && i+1 < len(sql) && sql[i+1] == '-':
			for i < len(sql) && sql[i] != '\n' {
				i++
			}
		case c == '/' && i+1 < len(sql) && sql[i+1] == '*':
			depth := 0
			for i < len(sql) {
				if sql[i] == '/' && i+1 < len(sql) && sql[i+1] == '*' {
					depth++
					i += 2
				} else if sql[i] == '*' && i+1 < len(sql) && sql[i+1] == '/' {
					depth--
					i += 2
					if depth == 0 {
						break
					}
				} else {
					i++
				}
			}
		case c == '\'':
			escapes := i > 0 && (sql[i-1] == 'e' || sql[i-1] == 'E')
			i++
			for i < len(sql) {
				if escapes && sql[i] == '\\' {
					i += 2
					continue
				}
				if sql[i] == '\'' {
					if i+1 < len(sql) && sql[i+1] == '\'' {
						i += 2
						continue
					}
					break
				}
				i++
			}
			i++
		case c == '"':
			i++
			start, doubled := i, false
			for i < len(sql) {
				if sql[i] == '"' {
					if i+1 < len(sql) && sql[i+1] == '"' {
						doubled = true
						i += 2
						continue
					}
					break
				}
				i++
			}
			if len(words) < 4 {
				name := sql[start:min(i, len(sql))]
				if doubled {
					name = strings.ReplaceAll(name, `""`, `"`)
				}
				// Marked, so a quoted name is never read as a keyword
				// ("all" is a statement's name, ALL is not).
				words = append(words, `"`+name)
			}
			i++
		case c == '$':
			// A dollar quote $tag$...$tag$ ($1 is a parameter).
			j := i + 1
			for j < len(sql) && sql[j] != '$' && isIdentChar(sql[j]) && !(j == i+1 && sql[j] >= '0' && sql[j] <= '9') {
				j++
			}
			if j < len(sql) && sql[j] == '$' && !(j > i+1 && sql[i+1] >= '0' && sql[i+1] <= '9') {
				tag := sql[i : j+1]
				end := strings.Index(sql[j+1:], tag)
				if end < 0 {
					return e
				}
				i = j + 1 + end + len(tag)
			} else {
				i = j
			}
		case isIdentStart(c):
			j := i
			for j < len(sql) && isIdentChar(sql[j]) {
				j++
			}
			w := sql[i:j]
			if len(words) < 4 {
				words = append(words, keyword(w))
			}
			if strings.EqualFold(w, "hold") {
				hold = true
			}
			if e.Session == "" {
				for _, f := range sessionFuncs {
					if len(w) == len(f) && strings.EqualFold(w, f) {
						e.Session = strings.ToLower(f) + "()"
					}
				}
			}
			i = j
		default:
			i++
		}
	}
	endCommand()
	return e
}

// command looks at the first words of one command.
func (e *Effect) command(w []string, hold bool) {
	at := func(i int) string {
		if i < len(w) {
			return w[i]
		}
		return ""
	}
	pin := ""
	switch at(0) {
	case "set":
		switch at(1) {
		case "local", "transaction", "constraints":
		default:
			pin = "SET"
		}
	case "reset":
		pin = "RESET"
	case "listen":
		pin = "LISTEN"
	case "load":
		pin = "LOAD"
	case "prepare":
		if at(1) != "transaction" {
			pin = "PREPARE"
		}
	case "declare":
		if hold {
			pin = "DECLARE ... WITH HOLD"
		}
	case "create":
		i := 1
		if at(i) == "global" || at(i) == "local" {
			i++
		}
		if at(i) == "temp" || at(i) == "temporary" {
			pin = "CREATE TEMPORARY"
		}
	case "discard":
		if at(1) == "all" {
			e.DeallocAll = true
		}
	case "deallocate":
		name := at(1)
		if name == "prepare" {
			name = at(2)
		}
		if name == "all" {
			e.DeallocAll = true
		} else {
			e.Dealloc = true
			if name != "" {
				e.Deallocated = append(e.Deallocated, stmtName(name))
			}
		}
	case "execute":
		if name := at(1); name != "" {
			e.Executed = append(e.Executed, stmtName(name))
		}
	}
	if e.Session == "" {
		e.Session = pin
	}
}

// keywords are the words command looks for.
var keywords = [...]string{"set", "local", "transaction", "constraints", "reset", "listen", "load", "prepare",
	"declare", "create", "global", "temp", "temporary", "discard", "all", "deallocate", "execute"}

// keyword returns w as command compares it: the keyword it is, in lower
// case, or else w as it is. So a query of upper-case words costs no
// allocation (the scan runs on every simple query of a parked client).
func keyword(w string) string {
	for _, k := range keywords {
		if len(k) == len(w) && strings.EqualFold(k, w) {
			return k
		}
	}
	return w
}

// stmtName is a statement's name as a word of the scan gives it: an
// unquoted name folded to lower case (as PostgreSQL folds it), a quoted
// one as it is.
func stmtName(w string) string {
	if strings.HasPrefix(w, `"`) {
		return w[1:]
	}
	return strings.ToLower(w)
}

func isIdentStart(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' || c >= 0x80
}

func isIdentChar(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' || c == '$' }
