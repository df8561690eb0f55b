package pooler

import "github.com/db9/db9/internal/pgproxy/pooler/sqlscan"

// SQL that names protocol-level prepared statements: DEALLOCATE name,
// DEALLOCATE ALL, DISCARD ALL and EXECUTE name, in a simple query or in a
// statement the client prepared and binds (pgx runs conn.Exec(ctx,
// "deallocate ps") as a prepared statement of its cache). PostgreSQL runs
// these against the session's statements; on the pooled endpoint the
// client's statements live in the pooler and, prepared on demand, on
// whichever backends ran them. So before such SQL reaches a backend, the
// backend gets exactly the client's statements of those names: the
// client's definition prepared when it is missing or another's, another
// client's closed when the client has none of that name (so the backend
// answers 26000, as PostgreSQL would). A DEALLOCATE then completes on the
// backend with its own CommandComplete, and the client's statement is
// forgotten, as PgBouncer 1.21+ and PostgreSQL itself do.

// def returns the client's statement of that name (the unnamed one for
// ""), nil when it has none. The client's mu is held.
func (s *stmtBook) def(name string) *stmtDef {
	if name == "" {
		return s.unnamed
	}
	return s.named[name]
}

// namedBySQL makes the backend's statements of the names e uses the
// client's, adding Close and Parse messages to pre, and forgets the
// statements e deallocates, for the client and the backend. The client's
// mu is held.
func (s *stmtBook) namedBySQL(att *attachment, e *sqlscan.Effect, pre []byte) []byte {
	b := att.b
	for _, name := range e.Executed {
		pre = s.matchBackend(att, name, pre)
	}
	switch {
	case e.DeallocAll:
		// The unnamed statement is not among them, in PostgreSQL either.
		s.dropAll(b)
		clear(s.named)
		clear(b.stmts)
	case e.Dealloc && len(e.Deallocated) == 0:
		// A name the scan could not read: whichever it was, it is gone
		// from the backend; each statement is prepared again when used.
		clear(b.stmts)
	case e.Dealloc:
		for _, name := range e.Deallocated {
			pre = s.matchBackend(att, name, pre)
			if def := s.named[name]; def != nil {
				dropStmt(name, def, b)
			}
			delete(s.named, name)
			delete(b.stmts, name)
		}
	}
	return pre
}

// matchBackend makes the backend's statement name the client's: prepared
// as the client defined it, or closed (closing a missing statement is no
// error) when the client has none of that name. The client's mu is held.
func (s *stmtBook) matchBackend(att *attachment, name string, pre []byte) []byte {
	if name == "" {
		return pre
	}
	if s.named[name] == nil {
		// Even when the backend is not known to have one: what it has is
		// known only as far as the pooler saw it made.
		return att.inject('C', name, nil, pre)
	}
	return s.prepare(att, name, pre)
}
