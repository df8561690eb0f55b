package schema

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5/pgconn"
)

// schemaFilter keeps platform schemas out of every catalog query.
const schemaFilter = `n.nspname NOT IN ('information_schema', 'auth', 'extensions', 'cron')
  AND n.nspname NOT LIKE 'pg\_%' AND n.nspname NOT LIKE '\_db9%'`

const typeJSON = `json_build_object('schema', tn.nspname, 'name', ty.typname, 'display', format_type(ty.oid, %s),
  'category', ty.typcategory, 'kind', ty.typtype,
  'elem', (SELECT e.typname FROM pg_type e WHERE e.oid = ty.typelem AND ty.typcategory = 'A'))`

var catalogSQL = `SELECT json_build_object(
 'schemas', (SELECT coalesce(json_agg(n.nspname ORDER BY n.nspname), '[]') FROM pg_namespace n WHERE ` + schemaFilter + `),
 'tables', (SELECT coalesce(json_agg(t), '[]') FROM (
   SELECT c.oid::int8 AS oid, n.nspname AS schema, c.relname AS name, c.relkind AS kind,
     obj_description(c.oid, 'pg_class') AS description,
     (SELECT r.ev_action::text FROM pg_rewrite r WHERE r.ev_class = c.oid AND r.rulename = '_RETURN'
        AND c.relkind IN ('v', 'm')) AS view_def,
     (SELECT coalesce(json_agg(json_build_object(
         'name', a.attname, 'num', a.attnum, 'type', ` + fmt.Sprintf(typeJSON, "a.atttypmod") + `,
         'nullable', NOT a.attnotnull, 'default', pg_get_expr(d.adbin, d.adrelid),
         'generated', a.attgenerated <> '',
         'enum', (SELECT json_agg(e.enumlabel ORDER BY e.enumsortorder) FROM pg_enum e WHERE e.enumtypid = ty.oid),
         'max_len', CASE WHEN a.atttypmod > 4 AND ty.typname IN ('varchar', 'bpchar') THEN a.atttypmod - 4 END,
         'description', col_description(c.oid, a.attnum)) ORDER BY a.attnum), '[]')
       FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid JOIN pg_namespace tn ON tn.oid = ty.typnamespace
       LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped) AS columns,
     (SELECT json_agg(a.attname ORDER BY k.i) FROM pg_constraint pk CROSS JOIN LATERAL unnest(pk.conkey) WITH ORDINALITY k(attnum, i)
       JOIN pg_attribute a ON a.attrelid = pk.conrelid AND a.attnum = k.attnum
       WHERE pk.conrelid = c.oid AND pk.contype = 'p') AS pk,
     (SELECT coalesce(json_agg(u.cols), '[]') FROM (
        SELECT (SELECT json_agg(a.attname) FROM unnest(x.indkey::int2[]) k(attnum)
                JOIN pg_attribute a ON a.attrelid = x.indrelid AND a.attnum = k.attnum) AS cols
        FROM pg_index x WHERE x.indrelid = c.oid AND x.indisunique AND x.indpred IS NULL AND x.indexprs IS NULL) u) AS uniques
   FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ('r', 'v', 'm', 'f', 'p') AND NOT c.relispartition AND ` + schemaFilter + `) t),
 'fkeys', (SELECT coalesce(json_agg(f ORDER BY f.schema, f.table, f.name), '[]') FROM (
   SELECT co.conname AS name, n.nspname AS schema, c.relname AS table, fn.nspname AS fschema, fc.relname AS ftable,
     (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(co.conkey) WITH ORDINALITY k(attnum, i)
        JOIN pg_attribute a ON a.attrelid = co.conrelid AND a.attnum = k.attnum) AS cols,
     (SELECT json_agg(a.attname ORDER BY k.i) FROM unnest(co.confkey) WITH ORDINALITY k(attnum, i)
        JOIN pg_attribute a ON a.attrelid = co.confrelid AND a.attnum = k.attnum) AS fcols
   FROM pg_constraint co
   JOIN pg_class c ON c.oid = co.conrelid JOIN pg_namespace n ON n.oid = c.relnamespace
   JOIN pg_class fc ON fc.oid = co.confrelid JOIN pg_namespace fn ON fn.oid = fc.relnamespace
   WHERE co.contype = 'f' AND co.conparentid = 0 AND ` + schemaFilter + `) f),
 'functions', (SELECT coalesce(json_agg(f), '[]') FROM (
   SELECT n.nspname AS schema, p.proname AS name, p.provolatile AS volatility, p.proretset AS retset,
     p.pronargdefaults AS ndefaults, obj_description(p.oid, 'pg_proc') AS description,
     (SELECT ` + fmt.Sprintf(typeJSON, "NULL") + ` FROM pg_type ty JOIN pg_namespace tn ON tn.oid = ty.typnamespace WHERE ty.oid = p.prorettype) AS ret,
     (SELECT json_build_object('schema', rn.nspname, 'name', rc.relname) FROM pg_type rt
        JOIN pg_class rc ON rc.oid = rt.typrelid JOIN pg_namespace rn ON rn.oid = rc.relnamespace
        WHERE rt.oid = p.prorettype AND rc.relkind IN ('r', 'v', 'm', 'f', 'p')) AS ret_relation,
     (SELECT coalesce(json_agg(json_build_object('name', coalesce(p.proargnames[a.i], ''), 'mode', coalesce(p.proargmodes[a.i], 'i'),
         'type', ` + fmt.Sprintf(typeJSON, "NULL") + `) ORDER BY a.i), '[]')
       FROM unnest(coalesce(p.proallargtypes, p.proargtypes::oid[])) WITH ORDINALITY AS a(t, i)
       JOIN pg_type ty ON ty.oid = a.t JOIN pg_namespace tn ON tn.oid = ty.typnamespace) AS args
   FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE p.prokind = 'f' AND p.prorettype <> 'pg_catalog.trigger'::regtype AND p.prorettype <> 'pg_catalog.event_trigger'::regtype
     AND ` + schemaFilter + `) f)
)::text`

// LockSQL is the advisory lock the platform's DDL event trigger holds
// shared until its transaction ends; Load takes it exclusively (without
// waiting) to know that no DDL is in flight while it reads the catalogs.
// It also turns JIT off for the transaction: the catalog query's estimated
// cost (~117 k on an empty database) is past jit_above_cost, and compiling
// it took ~90 ms of CPU where running it takes ~1 ms (2026-12-03).
const LockSQL = `SELECT pg_try_advisory_xact_lock(1684158777, 1), pg_catalog.set_config('jit', 'off', true)`

// VersionSQL reads the schema version the DDL event trigger bumps.
const VersionSQL = `SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM _db9.dataapi_schema_seq`

// Unversioned is the Version of a Schema read while DDL was in flight: it
// matches no database version, so the next request loads again.
const Unversioned = -1

// Load reads the schema of the database conn is connected to, in one round
// trip (simple protocol: one transaction of four statements). Each statement
// takes its own snapshot (read committed), so the version and the catalogs
// are read after the lock is held. The catalog query opens no relation
// (no pg_relation_is_updatable): a DDL transaction holding a table lock may
// be waiting for our advisory lock.
func Load(ctx context.Context, conn *pgconn.PgConn) (*Schema, error) {
	mrr := conn.Exec(ctx, "BEGIN ISOLATION LEVEL READ COMMITTED READ ONLY; "+LockSQL+"; "+VersionSQL+"; "+catalogSQL+"; COMMIT")
	results, err := mrr.ReadAll()
	if err != nil {
		if conn.TxStatus() != 'I' {
			_ = conn.Exec(ctx, "ROLLBACK").Close()
		}
		return nil, fmt.Errorf("load schema: %w", err)
	}
	if len(results) != 5 || len(results[1].Rows) != 1 || len(results[2].Rows) != 1 || len(results[3].Rows) != 1 {
		return nil, fmt.Errorf("load schema: unexpected result shape")
	}
	locked := string(results[1].Rows[0][0]) == "t"
	version, err := strconv.ParseInt(string(results[2].Rows[0][0]), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("load schema: parse version: %w", err)
	}
	if !locked {
		version = Unversioned
	}
	return Decode(version, results[3].Rows[0][0])
}

type rawCatalog struct {
	Schemas   []string    `json:"schemas"`
	Tables    []*Table    `json:"tables"`
	Functions []*Function `json:"functions"`
	FKeys     []struct {
		Name    string   `json:"name"`
		Schema  string   `json:"schema"`
		Table   string   `json:"table"`
		FSchema string   `json:"fschema"`
		FTable  string   `json:"ftable"`
		Cols    []string `json:"cols"`
		FCols   []string `json:"fcols"`
	} `json:"fkeys"`
}

// Decode builds a Schema from the catalog document Load reads (exported
// for tests and fuzzing that need a schema without a database).
func Decode(version int64, doc []byte) (*Schema, error) {
	var raw rawCatalog
	if err := json.Unmarshal(doc, &raw); err != nil {
		return nil, fmt.Errorf("decode schema: %w", err)
	}
	s := &Schema{Version: version, Tables: map[QName]*Table{}, Functions: map[QName][]*Function{},
		Rels: map[QName][]*Relationship{}, Schemas: raw.Schemas}
	byOID := make(map[int64]*Table, len(raw.Tables))
	for _, t := range raw.Tables {
		t.index()
		s.Tables[t.QName()] = t
		byOID[t.OID] = t
	}
	for _, f := range raw.Functions {
		q := QName{f.Schema, f.Name}
		s.Functions[q] = append(s.Functions[q], f)
	}
	type fk struct {
		name        string
		from, to    QName
		cols, fcols []string
	}
	var fks []fk
	for _, f := range raw.FKeys {
		k := fk{f.Name, QName{f.Schema, f.Table}, QName{f.FSchema, f.FTable}, f.Cols, f.FCols}
		if s.Tables[k.from] == nil || s.Tables[k.to] == nil {
			continue
		}
		fks = append(fks, k)
		card, back := ManyToOne, OneToMany
		if s.Tables[k.from].unique(k.cols) {
			card, back = OneToOne, OneToOne
		}
		s.Rels[k.from] = append(s.Rels[k.from], &Relationship{Table: k.from, Foreign: k.to, Card: card,
			Constraint: k.name, Cols: k.cols, FCols: k.fcols})
		s.Rels[k.to] = append(s.Rels[k.to], &Relationship{Table: k.to, Foreign: k.from, Card: back,
			Constraint: k.name, Cols: k.fcols, FCols: k.cols})
	}
	// Views take part in the foreign keys of the tables their columns come
	// from (as PostgREST infers them): every view (or the table itself) on
	// the referencing side that shows all of the key's columns, with every
	// one on the referenced side that shows all of the referenced columns.
	views := viewColumns(raw.Tables, byOID)
	for _, k := range fks {
		srcs := viewsShowing(views, k.from, k.cols)
		dsts := viewsShowing(views, k.to, k.fcols)
		card, back := ManyToOne, OneToMany
		if s.Tables[k.from].unique(k.cols) {
			card, back = OneToOne, OneToOne
		}
		for _, src := range srcs {
			for _, dst := range dsts {
				if src.rel == k.from && dst.rel == k.to {
					continue // the tables' own relationship, added above
				}
				s.Rels[src.rel] = append(s.Rels[src.rel], &Relationship{Table: src.rel, Foreign: dst.rel, Card: card,
					Constraint: k.name, Cols: src.cols, FCols: dst.cols})
				s.Rels[dst.rel] = append(s.Rels[dst.rel], &Relationship{Table: dst.rel, Foreign: src.rel, Card: back,
					Constraint: k.name, Cols: dst.cols, FCols: src.cols})
			}
		}
	}
	for _, t := range raw.Tables {
		t.ViewDef = "" // parsed; not kept in the cache
	}
	// Many-to-many: a junction whose two foreign keys' columns are both part
	// of its primary key (or of one unique constraint).
	byFrom := map[QName][]fk{}
	for _, k := range fks {
		byFrom[k.from] = append(byFrom[k.from], k)
	}
	for j, list := range byFrom {
		jt := s.Tables[j]
		keys := append([][]string{jt.PK}, jt.Uniques...)
		for a := range list {
			for b := range list {
				if a == b {
					continue
				}
				k1, k2 := list[a], list[b]
				ok := false
				for _, key := range keys {
					if len(key) > 0 && subset(k1.cols, key) && subset(k2.cols, key) {
						ok = true
					}
				}
				if !ok {
					continue
				}
				s.Rels[k1.to] = append(s.Rels[k1.to], &Relationship{Table: k1.to, Foreign: k2.to, Card: ManyToMany,
					Constraint: k2.name, Cols: k1.fcols, FCols: k2.fcols,
					Junction: &Junction{Table: j, Constraint1: k1.name, Constraint2: k2.name, JCols: k1.cols, JFCols: k2.cols}})
			}
		}
	}
	return s, nil
}
