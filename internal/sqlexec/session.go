package sqlexec

import "strings"

// statelessTag reports whether a statement with this command tag leaves no
// session state of its own behind: plain reads and writes and transaction
// control. Everything else (SET, CREATE [TEMP] ..., PREPARE, DECLARE,
// LISTEN, DO, CALL, ...) counts as stateful.
func statelessTag(tag string) bool {
	word, _, _ := strings.Cut(tag, " ")
	switch word {
	case "SELECT", "INSERT", "UPDATE", "DELETE", "MERGE", "FETCH", "MOVE", "COPY", "EXPLAIN", "SHOW",
		"BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return true
	case "START":
		return tag == "START TRANSACTION"
	}
	return false
}

// sessionWords are fragments of SQL through which a statement whose tag
// looks stateless can still change the session: set_config(..., false),
// advisory locks, temporary objects, listeners, session-level functions,
// UPDATE pg_settings (a SET in disguise), and Unicode-escaped identifiers
// (U&"\0073et_config" names set_config without spelling it).
var sessionWords = []string{"set_config", "advisory", "temp", "listen", "session", "prepare", "pg_settings", "u&"}

// mentionsSessionState reports whether sql contains any of sessionWords,
// ignoring case. A user function that changes session state without any of
// them in the calling SQL is not detected; the pool's periodic reset
// bounds how long such state can last.
func mentionsSessionState(sql string) bool {
	for i := 0; i < len(sql); i++ {
		c := sql[i] | 0x20 // ASCII lower case; harmless for other bytes
		if c != 's' && c != 'a' && c != 't' && c != 'l' && c != 'p' && c != 'u' {
			continue
		}
		for _, w := range sessionWords {
			if len(sql)-i >= len(w) && strings.EqualFold(sql[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}
