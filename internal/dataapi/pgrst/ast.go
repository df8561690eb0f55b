package pgrst

// JSONStep is one `->key` or `->>key` of a JSON path.
type JSONStep struct {
	Text  bool   // ->> (text) rather than -> (json)
	Key   string // object key, or array index when Index
	Index bool
}

// Field is a column reference, optionally followed by a JSON path.
type Field struct {
	Name string
	Path []JSONStep
}

// DefaultAlias is the output name PostgREST gives a field: the last JSON key,
// else the column name.
func (f Field) DefaultAlias() string {
	if n := len(f.Path); n > 0 {
		return f.Path[n-1].Key
	}
	return f.Name
}

// SelectItem is one entry of a select list: a column (possibly aggregated
// and cast), `*`, or an embedded resource.
type SelectItem struct {
	Star      bool
	Field     Field
	Alias     string
	Cast      string // cast of the column (before the aggregate when Aggregate is set)
	Aggregate string // count, sum, avg, min, max; count with empty Field is count(*)
	AggCast   string // cast of the aggregate's result
	Embed     *Embed
}

// Embed is an embedded resource `alias:name!hint!inner(select)` or a spread
// `...name(select)`.
type Embed struct {
	Name   string
	Alias  string
	Hint   string
	Join   string // "", "inner" or "left"
	Spread bool
	Select []SelectItem
}

// OutName is the key the embedded resource appears under.
func (e *Embed) OutName() string {
	if e.Alias != "" {
		return e.Alias
	}
	return e.Name
}

// Operator names accepted in filters.
var Operators = map[string]bool{
	"eq": true, "neq": true, "gt": true, "gte": true, "lt": true, "lte": true,
	"like": true, "ilike": true, "match": true, "imatch": true, "in": true, "is": true,
	"isdistinct": true, "fts": true, "plfts": true, "phfts": true, "wfts": true,
	"cs": true, "cd": true, "ov": true, "sl": true, "sr": true, "nxr": true, "nxl": true, "adj": true,
}

// quantifiable operators take the (any)/(all) modifier.
var quantifiable = map[string]bool{"eq": true, "neq": true, "gt": true, "gte": true, "lt": true, "lte": true,
	"like": true, "ilike": true, "match": true, "imatch": true}

// Filter is one horizontal filter `field=[not.]op[(mod)].value`.
type Filter struct {
	Field  Field
	Negate bool
	Op     string
	Quant  string // "", "any", "all"
	Lang   string // fts language
	Value  string
	List   []string // in.(...) and (any)/(all) elements
}

// Logic is a boolean tree `and(...)`/`or(...)`, possibly negated.
type Logic struct {
	Or       bool
	Negate   bool
	Children []Cond
}

// Cond is a node of a logic tree: exactly one of Filter and Logic is set.
type Cond struct {
	Filter *Filter
	Logic  *Logic
}

// OrderTerm is one `field[.asc|.desc][.nullsfirst|.nullslast]`; Relation is
// set for `rel(field)` ordering on a to-one embedded resource.
type OrderTerm struct {
	Relation string
	Field    Field
	Desc     bool
	Nulls    string // "", "first", "last"
}

// Node holds the parameters addressed to one level of the embedding tree:
// the root (empty path) or an embedded resource by its dotted alias path.
type Node struct {
	Filters []Filter
	Logic   []Logic
	// NullEmbeds are `rel=is.null` / `rel=not.is.null` filters on embedded resources.
	Order  []OrderTerm
	Limit  *int64
	Offset *int64
}

// Query is a parsed query string.
type Query struct {
	Select     []SelectItem // nil means *
	Nodes      map[string]*Node
	OnConflict []string
	Columns    []string
	// Params are the remaining key/values in order (RPC arguments on GET).
	Params []KV
	// Args are the query params that could be either filters or RPC
	// arguments: the keys of plain `key=value` params, kept raw.
	Raw []KV
}

// KV is a raw query-string pair.
type KV struct{ Key, Value string }

// Node returns the node at path, creating it.
func (q *Query) Node(path string) *Node {
	if q.Nodes == nil {
		q.Nodes = map[string]*Node{}
	}
	n := q.Nodes[path]
	if n == nil {
		n = &Node{}
		q.Nodes[path] = n
	}
	return n
}
