package sqlgen

import (
	"strconv"
	"strings"

	"github.com/db9/db9/internal/dataapi/schema"
)

// Builder accumulates the parameters of one statement. Everything that reaches
// SQL text goes through qi (a quoted identifier), p (a $n parameter, sent
// as text of unknown type so PostgreSQL infers it as it would a literal)
// or is a fixed keyword of this package.
type Builder struct {
	args   [][]byte
	nalias int
}

// P adds a parameter and returns its placeholder.
func (b *Builder) P(v string) string {
	b.args = append(b.args, []byte(v))
	return "$" + strconv.Itoa(len(b.args))
}

// Args returns the parameters added so far, in placeholder order.
func (b *Builder) Args() [][]byte { return b.args }

// Separate returns a builder with parameters of its own for a second
// statement made of the same plan, whose aliases cannot collide with b's.
func (b *Builder) Separate() *Builder { return &Builder{nalias: b.nalias + 1000} }

// alias returns a fresh relation alias.
func (b *Builder) alias() string {
	b.nalias++
	return "pgrst_" + strconv.Itoa(b.nalias)
}

// Ident quotes an identifier.
func Ident(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// QualifiedName quotes a schema-qualified name.
func QualifiedName(q schema.QName) string { return Ident(q.Schema) + "." + Ident(q.Name) }

// TypeName names a catalog type by two quoted identifiers.
func TypeName(t schema.Type) string { return Ident(t.Schema) + "." + Ident(t.Name) }

// castTypes maps the type names accepted after :: to catalog names.
var castTypes = map[string]string{
	"int": "int4", "integer": "int4", "int4": "int4", "bigint": "int8", "int8": "int8",
	"smallint": "int2", "int2": "int2", "text": "text", "varchar": "varchar",
	"character varying": "varchar", "char": "bpchar", "character": "bpchar",
	"boolean": "bool", "bool": "bool", "numeric": "numeric", "decimal": "numeric",
	"real": "float4", "float4": "float4", "double precision": "float8", "float8": "float8",
	"float": "float8", "json": "json", "jsonb": "jsonb", "date": "date", "time": "time",
	"timestamp": "timestamp", "timestamptz": "timestamptz", "uuid": "uuid", "interval": "interval",
	"bytea": "bytea", "money": "money", "name": "name", "oid": "oid", "tsvector": "tsvector",
	"inet": "inet", "cidr": "cidr",
}

// castSQL renders CAST(expr AS type) for a cast name of the select language:
// built-in names map to pg_catalog types, anything else is a quoted,
// search-path-resolved type name.
func castSQL(expr, cast string) string {
	arr := strings.HasSuffix(cast, "[]")
	base := strings.TrimSuffix(cast, "[]")
	var t string
	if c, ok := castTypes[base]; ok {
		if arr {
			c = "_" + c
		}
		t = Ident("pg_catalog") + "." + Ident(c)
	} else if arr {
		t = Ident(base) + "[]"
	} else {
		t = Ident(base)
	}
	return "CAST(" + expr + " AS " + t + ")"
}

// arrayLiteral renders items as a PostgreSQL array literal (a parameter
// value, never SQL text).
func arrayLiteral(items []string) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, it := range items {
		if i > 0 {
			sb.WriteByte(',')
		}
		sb.WriteByte('"')
		for _, r := range it {
			if r == '"' || r == '\\' {
				sb.WriteByte('\\')
			}
			sb.WriteRune(r)
		}
		sb.WriteByte('"')
	}
	sb.WriteByte('}')
	return sb.String()
}
