package pooler

import (
	"bytes"
	"encoding/binary"

	"github.com/db9/db9/internal/pgproxy/pooler/sqlscan"
)

// A client's prepared statements live in the pooler (stmtBook) and, as
// far as the pooler saw them made, on the backends (backend.stmts); each
// message that uses one gets it prepared on the client's backend first
// (docs/POOLER.md).

// stmtDef is a prepared statement as a Parse message defines it.
type stmtDef struct {
	query  string
	params []byte          // the parameter type count and OIDs, as in Parse
	names  *sqlscan.Effect // the query's DEALLOCATE or EXECUTE (dealloc.go); nil: none
	on     []*backend      // backends it was prepared on (stmtgc.go; named statements)
}

func (d *stmtDef) same(o *stmtDef) bool {
	return d == o || d != nil && o != nil && d.query == o.query && bytes.Equal(d.params, o.params)
}

// pending is a Parse or Close forwarded to the backend and not answered
// yet. Injected ones are the pooler's own (a statement the client
// prepared elsewhere, prepared again here): their answers are not
// relayed.
type pending struct {
	batch    int // the Sync it comes before (attachment.sent then)
	injected bool
	name     string
	def      *stmtDef // Parse only
	dup      bool     // a Parse of a name the client already had (fails as on PostgreSQL)
}

// stmtBook is a client's prepared statements. The client's mu guards it.
type stmtBook struct {
	named   map[string]*stmtDef // named statements the client prepared
	unnamed *stmtDef
}

// prepare makes sure the backend has the client's statement name as the
// client defined it, adding a Close and a Parse to pre when not, or none
// of that name when the client has none.
func (s *stmtBook) prepare(att *attachment, name string, pre []byte) []byte {
	def := s.unnamed
	have := att.b.unnamed
	if name != "" {
		def, have = s.named[name], att.b.stmts[name]
	}
	if def == nil {
		if have != nil {
			// Another client's, or one the client closed on another
			// backend: the client has no statement of that name, so the
			// backend must report it unknown, as PostgreSQL would.
			pre = att.inject('C', name, nil, pre)
		}
		return pre
	}
	if def.same(have) {
		return pre
	}
	if name != "" {
		pre = att.inject('C', name, nil, pre)
	}
	return att.inject('P', name, def, pre)
}

// inject appends a Close (statement) or Parse of the pooler's own to pre.
func (att *attachment) inject(typ byte, name string, def *stmtDef, pre []byte) []byte {
	e := pending{batch: att.sent, injected: true, name: name, def: def}
	start := len(pre)
	pre = append(pre, typ, 0, 0, 0, 0)
	if typ == 'C' {
		pre = append(pre, 'S')
		pre = append(append(pre, name...), 0)
		att.closes = append(att.closes, e)
		if name == "" {
			att.b.unnamed = nil
		} else {
			delete(att.b.stmts, name)
		}
	} else {
		pre = append(append(pre, name...), 0)
		pre = append(append(pre, def.query...), 0)
		pre = append(pre, def.params...)
		att.parses = append(att.parses, e)
		if name == "" {
			att.b.unnamed = def
		} else {
			att.b.stmts[name] = def
			def.preparedOn(att.b)
		}
	}
	binary.BigEndian.PutUint32(pre[start+1:], uint32(len(pre)-start-1))
	return pre
}

// undoParse forgets a statement whose Parse failed.
func (s *stmtBook) undoParse(att *attachment, e pending) {
	b := att.b
	if e.name == "" {
		if b.unnamed == e.def {
			b.unnamed = nil
		}
		if !e.injected && s.unnamed == e.def {
			s.unnamed = nil
		}
		return
	}
	if b.stmts[e.name] == e.def {
		delete(b.stmts, e.name)
	}
	if !e.injected && !e.dup && s.named[e.name] == e.def {
		delete(s.named, e.name)
	}
}
