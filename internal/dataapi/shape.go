package dataapi

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
)

// Read shapes. Building a read's SQL (parsing the query, planning the
// select tree, rendering) costs more Go time per request than all the rest
// of the handler, yet a client repeats few shapes: the same path, keys and
// operators with other values. So the statement of a table read is kept
// per shape, and a request of a known shape only binds its values.
//
// A shape is the request with the value of every simple comparison filter
// (`col=eq.v`, neq, gt, gte, lt, lte) replaced by a placeholder, plus all
// else the build reads: schema cache, exposed schemas and tables, profile,
// path, representation, Range and Prefer count. Its statement is built
// once with sentinel values; it is kept only when each sentinel came out
// as exactly one whole parameter and nowhere else, which is what
// sqlgen does with these operators (the value is passed through as $n). A
// shape that fails that check, or whose build fails, is built per request
// as before, so errors are always those of a real build.

// maxShapes bounds the kept shapes (memory): past it they are all dropped.
const maxShapes = 1024

// maxShapeKey bounds a kept shape's key (and so the fixed values its
// template holds): a longer request is built per request, so that
// maxShapes long URLs cannot pin much memory.
const maxShapeKey = 4096

// shapeOps are the operators whose value becomes a placeholder.
var shapeOps = [...]string{"eq.", "neq.", "gt.", "gte.", "lt.", "lte."}

// shapeCache is read by every request and written once per shape: a
// read lock keeps concurrent requests from queueing on it.
type shapeCache struct {
	mu sync.RWMutex
	m  map[string]*shape
}

// shape is a built template; bt nil records a shape built per request.
type shape struct {
	sc    *schema.Schema
	bt    *built
	slots []int // slots[i]: the main argument holding the i-th value
}

func newShapeCache() *shapeCache { return &shapeCache{m: map[string]*shape{}} }

// sentinel is the stand-in of the i-th value: valid text the parser
// accepts as a value, which no identifier or keyword of the SQL contains.
func sentinel(i int) string { return "\uFDD0db9:" + strconv.Itoa(i) + "\uFDD1" }

// build returns what s.build(req) returns, from the shape's template when
// the request is a table read of a known shape.
func (c *shapeCache) build(s *scope, req *request) (*built, error) {
	// A schema read while DDL was in flight serves one request only.
	if s.sc.Version == schema.Unversioned {
		return s.build(req)
	}
	key, vals, ok := shapeKey(s, req)
	if !ok {
		return s.build(req)
	}
	c.mu.RLock()
	sh := c.m[key]
	c.mu.RUnlock()
	if sh == nil || sh.sc != s.sc {
		sh = c.learn(s, req)
		c.mu.Lock()
		if len(c.m) >= maxShapes {
			clear(c.m)
		}
		c.m[key] = sh
		c.mu.Unlock()
	}
	if sh.bt == nil {
		return s.build(req)
	}
	bt := *sh.bt
	args := make([][]byte, len(bt.main.args))
	copy(args, bt.main.args)
	for i, slot := range sh.slots {
		args[slot] = []byte(vals[i])
	}
	bt.main.args = args
	return &bt, nil
}

// learn builds the template of req's shape.
func (c *shapeCache) learn(s *scope, req *request) *shape {
	sh := &shape{sc: s.sc}
	r := *req
	r.pairs = make([]pgrst.KV, len(req.pairs))
	n := 0
	for i, kv := range req.pairs {
		r.pairs[i] = kv
		if op := shapeOp(kv); op != "" {
			r.pairs[i].Value = op + sentinel(n)
			n++
		}
	}
	bt, err := s.build(&r)
	if err != nil || bt == nil || bt.pre != nil || bt.static != nil || bt.explicitTx || bt.mutation {
		return sh
	}
	slots := make([]int, n)
	for i := range n {
		v := sentinel(i)
		if strings.Contains(bt.main.sql, v) {
			return sh
		}
		slots[i] = -1
		for j, a := range bt.main.args {
			switch {
			case string(a) == v && slots[i] < 0:
				slots[i] = j
			case strings.Contains(string(a), v):
				return sh
			}
		}
		if slots[i] < 0 {
			return sh
		}
	}
	sh.bt, sh.slots = bt, slots
	return sh
}

// shapeOp returns the operator prefix ("eq.") of a filter pair whose value
// becomes a placeholder, or "".
func shapeOp(kv pgrst.KV) string {
	last := kv.Key
	if i := strings.LastIndexByte(last, '.'); i >= 0 {
		last = last[i+1:]
	}
	switch last {
	case "select", "columns", "on_conflict", "order", "limit", "offset", "and", "or":
		return ""
	}
	for _, op := range shapeOps {
		if strings.HasPrefix(kv.Value, op) {
			return op
		}
	}
	return ""
}

// shapeKey returns the key of req's shape and its placeholder values; ok
// is false for a request that is not a plain table read, or whose text the
// parser would refuse (its error must come from a real build).
func shapeKey(s *scope, req *request) (string, []string, bool) {
	if req.method != http.MethodGet && req.method != http.MethodHead {
		return "", nil, false
	}
	if req.out != outJSON && req.out != outObject && req.out != outCSV {
		return "", nil, false
	}
	if req.prefer.Count != "" && req.prefer.Count != "exact" {
		return "", nil, false
	}
	if len(req.path) < 2 || strings.IndexByte(req.path[1:], '/') >= 0 || !plainText(req.path) {
		return "", nil, false
	}
	var sb strings.Builder
	sb.Grow(64 + len(req.path) + 16*len(req.pairs))
	sb.WriteString(req.method)
	sb.WriteByte(0)
	sb.WriteString(s.profile)
	sb.WriteByte(0)
	for _, x := range s.p.Schemas {
		sb.WriteString(x)
		sb.WriteByte(1)
	}
	sb.WriteByte(0)
	for _, x := range s.p.Tables {
		sb.WriteString(x)
		sb.WriteByte(1)
	}
	sb.WriteByte(0)
	sb.WriteString(req.path)
	sb.WriteByte(0)
	sb.WriteByte(byte('0' + req.out))
	sb.WriteString(req.prefer.Count)
	sb.WriteByte(0)
	if req.rng != nil {
		sb.WriteString(strconv.FormatInt(req.rng.Offset, 10))
		sb.WriteByte('-')
		if req.rng.Limit != nil {
			sb.WriteString(strconv.FormatInt(*req.rng.Limit, 10))
		}
	}
	var vals []string
	for _, kv := range req.pairs {
		if !plainText(kv.Key) || !plainText(kv.Value) {
			return "", nil, false
		}
		sb.WriteByte(0)
		sb.WriteString(kv.Key)
		sb.WriteByte(0)
		if op := shapeOp(kv); op != "" {
			sb.WriteString(op)
			sb.WriteByte(1)
			vals = append(vals, kv.Value[len(op):])
		} else {
			sb.WriteString(kv.Value)
		}
		if sb.Len() > maxShapeKey {
			return "", nil, false
		}
	}
	return sb.String(), vals, true
}

// plainText is the parser's checkText: valid UTF-8 without NUL. It also
// rules out the key's separators and the sentinels' marker.
func plainText(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 && strings.IndexByte(s, 1) < 0 &&
		!strings.Contains(s, "\uFDD0")
}
