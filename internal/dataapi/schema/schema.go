package schema

import "strings"

// QName is a schema-qualified name.
type QName struct{ Schema, Name string }

func (q QName) String() string { return q.Schema + "." + q.Name }

// Type identifies a type by its catalog name, so SQL can name it as two
// quoted identifiers (array types are their underscore names, e.g. _int4).
type Type struct {
	Schema   string `json:"schema"`
	Name     string `json:"name"`
	Display  string `json:"display"`  // format_type, e.g. "character varying(20)"
	Category string `json:"category"` // pg_type.typcategory: N numeric, S string, B bool, A array, ...
	Kind     string `json:"kind"`     // pg_type.typtype: b base, e enum, r range, c composite, d domain, m multirange
	Elem     string `json:"elem"`     // element type name for arrays
}

// Column is a column of a table or view, or an output column of a function.
type Column struct {
	Name        string   `json:"name"`
	Num         int      `json:"num"` // pg_attribute.attnum
	Type        Type     `json:"type"`
	Nullable    bool     `json:"nullable"`
	Default     *string  `json:"default"`
	Generated   bool     `json:"generated"`
	Enum        []string `json:"enum"`
	MaxLen      *int     `json:"max_len"`
	Description *string  `json:"description"`
}

// Table is a table, view, materialized view or foreign table.
type Table struct {
	OID         int64      `json:"oid"`
	Schema      string     `json:"schema"`
	Name        string     `json:"name"`
	Kind        string     `json:"kind"` // r, p, v, m, f
	Columns     []*Column  `json:"columns"`
	PK          []string   `json:"pk"`
	Uniques     [][]string `json:"uniques"`
	Description *string    `json:"description"`
	// ViewDef is a view's query tree (pg_rewrite.ev_action) while the
	// schema is decoded; empty afterwards.
	ViewDef string `json:"view_def"`

	byName map[string]*Column
}

// QName returns the table's qualified name.
func (t *Table) QName() QName { return QName{t.Schema, t.Name} }

// Column returns the named column or nil.
func (t *Table) Column(name string) *Column {
	if t.byName == nil {
		t.index()
	}
	return t.byName[name]
}

// index builds the column index. Decode builds it for every cached table,
// so that requests sharing a table only read it.
func (t *Table) index() {
	t.byName = make(map[string]*Column, len(t.Columns))
	for _, c := range t.Columns {
		t.byName[c.Name] = c
	}
}

// IsView reports whether the relation is a view of some kind.
func (t *Table) IsView() bool { return t.Kind == "v" || t.Kind == "m" }

// unique reports whether cols (in any order) cover a primary key or unique
// constraint exactly.
func (t *Table) unique(cols []string) bool {
	if sameSet(cols, t.PK) {
		return true
	}
	for _, u := range t.Uniques {
		if sameSet(cols, u) {
			return true
		}
	}
	return false
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

func subset(a, b []string) bool {
	for _, x := range a {
		found := false
		for _, y := range b {
			if x == y {
				found = true
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Cardinality of a relationship, seen from its source table.
type Cardinality string

// Relationship cardinalities.
const (
	ManyToOne  Cardinality = "m2o"
	OneToMany  Cardinality = "o2m"
	OneToOne   Cardinality = "o2o"
	ManyToMany Cardinality = "m2m"
)

// ToOne reports whether the relationship yields at most one row.
func (c Cardinality) ToOne() bool { return c == ManyToOne || c == OneToOne }

// Relationship connects Table to Foreign: Table.Cols[i] = Foreign.FCols[i],
// or for many-to-many Table.Cols = Junction.JCols and Junction.JFCols =
// Foreign.FCols.
type Relationship struct {
	Table      QName
	Foreign    QName
	Card       Cardinality
	Constraint string
	Cols       []string
	FCols      []string
	Junction   *Junction
}

// Junction is the middle table of a many-to-many relationship.
type Junction struct {
	Table       QName
	Constraint1 string   // fk from junction to Table
	Constraint2 string   // fk from junction to Foreign
	JCols       []string // junction columns referencing Table.Cols
	JFCols      []string // junction columns referencing Foreign.FCols
}

// FuncArg is an argument of a function.
type FuncArg struct {
	Name string `json:"name"`
	Type Type   `json:"type"`
	Mode string `json:"mode"` // i, o, b, v, t
}

// Function is a callable function.
type Function struct {
	Schema      string     `json:"schema"`
	Name        string     `json:"name"`
	Args        []*FuncArg `json:"args"`
	NDefaults   int        `json:"ndefaults"`
	Volatility  string     `json:"volatility"` // i, s, v
	RetSet      bool       `json:"retset"`
	Ret         Type       `json:"ret"`
	RetRelation *QName     `json:"ret_relation"` // set when it returns a table's row type
	Description *string    `json:"description"`
}

// InArgs returns the input arguments.
func (f *Function) InArgs() []*FuncArg {
	var out []*FuncArg
	for _, a := range f.Args {
		if a.Mode == "i" || a.Mode == "b" || a.Mode == "v" {
			out = append(out, a)
		}
	}
	return out
}

// OutColumns returns the output columns declared by OUT/INOUT/TABLE args.
func (f *Function) OutColumns() []*Column {
	var out []*Column
	for _, a := range f.Args {
		if a.Mode == "o" || a.Mode == "b" || a.Mode == "t" {
			out = append(out, &Column{Name: a.Name, Type: a.Type, Nullable: true})
		}
	}
	return out
}

// Scalar reports whether the function returns a scalar (not a row type).
func (f *Function) Scalar() bool {
	return f.Ret.Kind != "c" && f.RetRelation == nil && !(f.Ret.Name == "record" && len(f.OutColumns()) > 0) && f.Ret.Name != "record"
}

// Schema is the loaded picture of one database.
type Schema struct {
	Version   int64
	Tables    map[QName]*Table
	Functions map[QName][]*Function
	Rels      map[QName][]*Relationship
	// Schemas lists every customer schema (for profiles of service keys).
	Schemas []string
}

// Table returns a table or nil.
func (s *Schema) Table(q QName) *Table { return s.Tables[q] }

// platformSchema reports schemas the data API never exposes.
func platformSchema(n string) bool {
	switch n {
	case "information_schema", "auth", "extensions", "cron":
		return true
	}
	return strings.HasPrefix(n, "pg_") || strings.HasPrefix(n, "_db9")
}

// PlatformSchema reports whether n belongs to PostgreSQL or the platform
// and so is never reachable through the data API.
func PlatformSchema(n string) bool { return platformSchema(n) }
