package dbadmin

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/db9/db9/internal/control/tenancy"
)

// schemaSQL builds the whole answer of GET .../schema in one query, as
// JSON: tables (plain and partitioned) and views (plain and materialized)
// of the customer's schemas, i.e. all but PostgreSQL's and the platform's
// ($1). It runs as the platform superuser, whose session ignores the
// tenant's search_path and settings.
const schemaSQL = `
WITH rels AS (
  SELECT c.oid, n.nspname, c.relname, c.relkind, c.reltuples
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  WHERE c.relkind IN ('r', 'p', 'v', 'm')
    AND n.nspname <> ALL ($1::text[]) AND n.nspname <> 'information_schema' AND n.nspname NOT LIKE '\_db9%'
    AND n.nspname NOT LIKE 'pg\_%'
), cols AS (
  SELECT a.attrelid, json_agg(json_build_object(
      'name', a.attname,
      'type', format_type(a.atttypid, a.atttypmod),
      'nullable', NOT a.attnotnull,
      'default', pg_get_expr(d.adbin, d.adrelid),
      'default_value', pg_get_expr(d.adbin, d.adrelid),
      'position', a.attnum) ORDER BY a.attnum) AS columns
  FROM pg_attribute a LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
  WHERE a.attrelid IN (SELECT oid FROM rels) AND a.attnum > 0 AND NOT a.attisdropped
  GROUP BY a.attrelid
), pks AS (
  SELECT i.indrelid, json_agg(a.attname ORDER BY k.ord) AS cols
  FROM pg_index i
  CROSS JOIN LATERAL unnest(i.indkey::int2[]) WITH ORDINALITY AS k(attnum, ord)
  JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
  WHERE i.indisprimary AND i.indrelid IN (SELECT oid FROM rels)
  GROUP BY i.indrelid
)
SELECT json_build_object(
  'tables', coalesce((SELECT json_agg(json_build_object(
      'schema', r.nspname, 'name', r.relname,
      'columns', coalesce(c.columns, '[]'::json),
      'primary_key', coalesce(p.cols, '[]'::json),
      'row_estimate', greatest(r.reltuples, 0)::bigint) ORDER BY r.nspname, r.relname)
    FROM rels r LEFT JOIN cols c ON c.attrelid = r.oid LEFT JOIN pks p ON p.indrelid = r.oid
    WHERE r.relkind IN ('r', 'p')), '[]'::json),
  'views', coalesce((SELECT json_agg(json_build_object(
      'schema', r.nspname, 'name', r.relname,
      'materialized', r.relkind = 'm',
      'columns', coalesce(c.columns, '[]'::json)) ORDER BY r.nspname, r.relname)
    FROM rels r LEFT JOIN cols c ON c.attrelid = r.oid
    WHERE r.relkind IN ('v', 'm')), '[]'::json))::text`

// Schema returns the JSON answer of GET .../schema.
func (q *SQL) Schema(ctx context.Context, p tenancy.Principal, idOrName string) (json.RawMessage, error) {
	d, err := q.openDB(ctx, p, idOrName, false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	conn, err := d.superuser(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res := conn.ExecParams(ctx, schemaSQL, [][]byte{[]byte(pgTextArray(tenancy.PlatformSchemas()))}, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, fmt.Errorf("read schema of %s: %w", d.row.ID, res.Err)
	}
	if len(res.Rows) != 1 {
		return nil, fmt.Errorf("read schema of %s: %d rows", d.row.ID, len(res.Rows))
	}
	return json.RawMessage(res.Rows[0][0]), nil
}

// pgTextArray renders plain identifiers as a text[] literal.
func pgTextArray(ss []string) string {
	return "{" + strings.Join(ss, ",") + "}"
}
