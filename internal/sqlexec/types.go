package sqlexec

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// TypeCache knows the pg_type rows Exec needs: names of result column types
// and how to convert them. Built-in types come from pgtype without a round
// trip; others (enums, domains, composites, their arrays) are read from
// pg_type once and kept. User type OIDs mean something only within one
// database, so keep one TypeCache per database (a branch gets its own). A
// type renamed after it was cached keeps its old name until the cache is
// dropped. Safe for concurrent use.
type TypeCache struct {
	builtin *pgtype.Map // read only after NewTypeCache

	mu    sync.RWMutex // read on every request, written once per type
	types map[uint32]pgType
}

// pgType is the part of a pg_type row Exec uses.
type pgType struct {
	name     string
	category byte   // typcategory: 'A' for arrays
	typtype  byte   // 'd' for domains
	elem     uint32 // typelem
	base     uint32 // typbasetype of a domain
	delim    byte   // typdelim: separator when this type is an array element
}

// NewTypeCache returns an empty cache. It does no I/O.
func NewTypeCache() *TypeCache {
	return &TypeCache{builtin: pgtype.NewMap(), types: make(map[uint32]pgType)}
}

func (tc *TypeCache) get(oid uint32) (pgType, bool) {
	tc.mu.RLock()
	t, ok := tc.types[oid]
	tc.mu.RUnlock()
	if ok {
		return t, true
	}
	bt, ok := tc.builtin.TypeForOID(oid)
	if !ok {
		return pgType{}, false
	}
	t = pgType{name: bt.Name, typtype: 'b', delim: ','}
	if oid == pgtype.BoxOID {
		t.delim = ';' // the only built-in type whose typdelim is not ','
	}
	if ac, ok := bt.Codec.(*pgtype.ArrayCodec); ok && ac.ElementType != nil {
		t.category, t.elem = 'A', ac.ElementType.OID
	}
	tc.put(oid, t)
	return t, true
}

func (tc *TypeCache) put(oid uint32, t pgType) {
	tc.mu.Lock()
	tc.types[oid] = t
	tc.mu.Unlock()
}

// name is the typname of oid, or "" when it is unknown (its lookup failed).
func (tc *TypeCache) name(oid uint32) string {
	t, _ := tc.get(oid)
	return t.name
}

// missing returns the OIDs needed to convert values of oids — the types,
// their array elements and domain bases, transitively — that are not known.
func (tc *TypeCache) missing(oids []uint32) []uint32 {
	simple := true // known scalars only, the usual case: no walk needed
	for _, oid := range oids {
		if t, ok := tc.get(oid); !ok || t.category == 'A' || t.typtype == 'd' {
			simple = false
			break
		}
	}
	if simple {
		return nil
	}
	var out []uint32
	seen := map[uint32]bool{}
	var walk func(oid uint32)
	walk = func(oid uint32) {
		if oid == 0 || seen[oid] {
			return
		}
		seen[oid] = true
		t, ok := tc.get(oid)
		if !ok {
			out = append(out, oid)
			return
		}
		if t.category == 'A' {
			walk(t.elem)
		}
		if t.typtype == 'd' {
			walk(t.base)
		}
	}
	for _, oid := range oids {
		walk(oid)
	}
	return out
}

// lookupSQL reads the types asked for and, in the same query, their array
// elements and domain bases. Everything is schema-qualified because the
// user's statements may have changed search_path.
const lookupSQL = `WITH RECURSIVE t(oid) AS (
  SELECT pg_catalog.unnest($1::pg_catalog.oid[])
  UNION
  SELECT x.o FROM t
    JOIN pg_catalog.pg_type p ON p.oid OPERATOR(pg_catalog.=) t.oid
    CROSS JOIN LATERAL (VALUES (p.typelem), (p.typbasetype)) x(o)
  WHERE x.o OPERATOR(pg_catalog.<>) 0::pg_catalog.oid
)
SELECT p.oid, p.typname, p.typelem, p.typcategory, p.typtype, p.typbasetype, p.typdelim
FROM t JOIN pg_catalog.pg_type p ON p.oid OPERATOR(pg_catalog.=) t.oid`

// ensure makes the types needed for oids known, with at most one query on
// conn, which must be idle. A *pgconn.PgError from the lookup is returned as
// is (the connection stays usable); other errors mean the connection broke.
func (tc *TypeCache) ensure(ctx context.Context, conn *pgconn.PgConn, oids []uint32) error {
	miss := tc.missing(oids)
	if len(miss) == 0 {
		return nil
	}
	var arg strings.Builder
	arg.WriteByte('{')
	for i, oid := range miss {
		if i > 0 {
			arg.WriteByte(',')
		}
		arg.WriteString(strconv.FormatUint(uint64(oid), 10))
	}
	arg.WriteByte('}')
	res := conn.ExecParams(ctx, lookupSQL, [][]byte{[]byte(arg.String())}, nil, nil, nil).Read()
	if res.Err != nil {
		return fmt.Errorf("look up types: %w", res.Err)
	}
	for _, row := range res.Rows {
		if len(row) != 7 {
			return fmt.Errorf("look up types: %d columns", len(row))
		}
		oid, err1 := strconv.ParseUint(string(row[0]), 10, 32)
		elem, err2 := strconv.ParseUint(string(row[2]), 10, 32)
		base, err3 := strconv.ParseUint(string(row[5]), 10, 32)
		if err1 != nil || err2 != nil || err3 != nil {
			return fmt.Errorf("look up types: bad oid in %q", row)
		}
		tc.put(uint32(oid), pgType{
			name:     string(row[1]),
			elem:     uint32(elem),
			category: firstByte(row[3]),
			typtype:  firstByte(row[4]),
			base:     uint32(base),
			delim:    firstByte(row[6]),
		})
	}
	return nil
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

// maxTypeDepth bounds following domains and element types: a cycle cannot
// exist in pg_type, but a cache is not a catalog.
const maxTypeDepth = 16

// plan returns how to convert values of oid; unknown types become strings.
func (tc *TypeCache) plan(oid uint32) *plan {
	return tc.planDepth(oid, 0)
}

func (tc *TypeCache) planDepth(oid uint32, depth int) *plan {
	if depth > maxTypeDepth {
		return stringPlan
	}
	t, ok := tc.get(oid)
	if !ok {
		return stringPlan
	}
	switch {
	case t.typtype == 'd' && t.base != 0:
		return tc.planDepth(t.base, depth+1)
	case t.category == 'A' && t.elem != 0:
		delim := byte(',')
		if et, ok := tc.get(t.elem); ok && et.delim != 0 {
			delim = et.delim
		}
		return &plan{kind: kindArray, elem: tc.planDepth(t.elem, depth+1), delim: delim}
	}
	return &plan{kind: scalarKind(oid)}
}
