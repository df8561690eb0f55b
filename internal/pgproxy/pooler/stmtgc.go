package pooler

// A client's statements are prepared on each backend that runs them
// (stmts.go). When the client closes one (Close, DEALLOCATE) the backend
// it is on closes it too, but the other backends it was prepared on keep
// it; when the client leaves, every backend keeps its statements. On
// PostgreSQL they would be gone with the session: pg_prepared_statements
// would not show them (pgx's stdlib tests count them), and a backend
// serving thousands of short-lived clients would collect their statements
// without bound. So each statement definition remembers the backends it
// was prepared on, and when its client drops it, those backends get it on
// a list of dead statements, closed before the next message of whichever
// client gets the backend next (unless that backend's statement of that
// name was since replaced).

// deadStmt is a statement a client no longer has, on a backend.
type deadStmt struct {
	name string
	def  *stmtDef
}

// preparedOn records that the client's def is prepared on b. The owning
// client's mu is held.
func (d *stmtDef) preparedOn(b *backend) {
	n := 0
	for _, o := range d.on {
		if o == b {
			return
		}
		if !o.gone.Load() {
			d.on[n] = o
			n++
		}
	}
	d.on = append(d.on[:n], b)
}

// dropStmt marks the client's statement name (def) dead on the backends
// it was prepared on, except on cur, where the client's own Close or
// DEALLOCATE runs. The owning client's mu is held.
func dropStmt(name string, def *stmtDef, cur *backend) {
	for _, b := range def.on {
		if b == cur || b.gone.Load() {
			continue
		}
		b.pool.mu.Lock()
		b.dead = append(b.dead, deadStmt{name: name, def: def})
		b.ndead.Store(int32(len(b.dead)))
		b.pool.mu.Unlock()
	}
	def.on = nil
}

// dropAll marks every named statement of the client dead (DEALLOCATE ALL,
// or the client left). The client's mu is held.
func (s *stmtBook) dropAll(cur *backend) {
	for name, def := range s.named {
		dropStmt(name, def, cur)
	}
}

// closeDead adds a Close to pre for each dead statement of the client's
// backend that is still the one that died there. The client's mu is held.
func (att *attachment) closeDead(pre []byte) []byte {
	b := att.b
	b.pool.mu.Lock()
	dead := b.dead
	b.dead = nil
	b.ndead.Store(0)
	b.pool.mu.Unlock()
	for _, d := range dead {
		if b.stmts[d.name] == d.def {
			pre = att.inject('C', d.name, nil, pre)
		}
	}
	return pre
}
