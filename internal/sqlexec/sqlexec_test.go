package sqlexec_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/sqlexec"
)

// connect starts a cluster and returns a connection to it, closed at the end
// of the test, with the session time zone fixed for stable output.
func connect(t *testing.T) *pgconn.PgConn {
	t.Helper()
	c := pgtest.Start(t)
	return dial(t, c)
}

func dial(t *testing.T, c *pgtest.Cluster) *pgconn.PgConn {
	t.Helper()
	ctx := context.Background()
	conn, err := pgconn.Connect(ctx, c.ConnString(pgtest.Superuser)+" timezone=UTC")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func query(sql string, params ...string) sqlexec.Request {
	r := sqlexec.Request{Query: &sql}
	for _, p := range params {
		r.Params = append(r.Params, json.RawMessage(p))
	}
	return r
}

func file(sql string) sqlexec.Request { return sqlexec.Request{FileContent: &sql} }

// encode is the response body as users see it.
func encode(t *testing.T, res *sqlexec.Result) string {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(res); err != nil {
		t.Fatalf("encode result: %v", err)
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// run executes req and returns its JSON, failing on a Go error.
func run(t *testing.T, conn *pgconn.PgConn, tc *sqlexec.TypeCache, req sqlexec.Request, lim sqlexec.Limits) string {
	t.Helper()
	res, err := sqlexec.Exec(context.Background(), conn, tc, req, lim)
	if err != nil {
		t.Fatalf("Exec: %v", err)
	}
	return encode(t, res)
}

func mustRun(t *testing.T, conn *pgconn.PgConn, tc *sqlexec.TypeCache, sql string) {
	t.Helper()
	if got := run(t, conn, tc, file(sql), sqlexec.Limits{}); strings.Contains(got, `"error"`) {
		t.Fatalf("%s: %s", sql, got)
	}
}

func assertUsable(t *testing.T, conn *pgconn.PgConn, tc *sqlexec.TypeCache) {
	t.Helper()
	want := `{"columns":[{"name":"ok","type":"int4"}],"rows":[[1]],"row_count":1,"command":"SELECT"}`
	if diff := cmp.Diff(want, run(t, conn, tc, query("select 1 as ok"), sqlexec.Limits{})); diff != "" {
		t.Fatalf("connection not usable (-want +got):\n%s", diff)
	}
}

const typesSetup = `
create type mood as enum ('sad', 'happy');
create domain posint as int4 check (value > 0);
create type pair as (a int, b text);
create table arr (ids int[], moods mood[]);
`

func TestExec_ValueTypes(t *testing.T) {
	conn := connect(t)
	tc := sqlexec.NewTypeCache()
	mustRun(t, conn, tc, typesSetup)

	tests := []struct {
		name, expr, typ, value string
	}{
		{"null", `null::int4`, "int4", `null`},
		{"bool true", `true`, "bool", `true`},
		{"bool false", `false`, "bool", `false`},
		{"int2", `7::int2`, "int2", `7`},
		{"int4", `-42`, "int4", `-42`},
		{"oid", `'pg_class'::regclass::oid`, "oid", `1259`},
		{"int8 small", `42::int8`, "int8", `42`},
		{"int8 2^53", `9007199254740992::int8`, "int8", `9007199254740992`},
		{"int8 -2^53", `-9007199254740992::int8`, "int8", `-9007199254740992`},
		{"int8 2^53+1", `9007199254740993::int8`, "int8", `"9007199254740993"`},
		{"int8 -2^53-1", `-9007199254740993::int8`, "int8", `"-9007199254740993"`},
		{"float4", `1.5::float4`, "float4", `1.5`},
		{"float8", `-0.25::float8`, "float8", `-0.25`},
		{"float8 exponent", `1e100::float8`, "float8", `1e+100`},
		{"float8 NaN", `'NaN'::float8`, "float8", `"NaN"`},
		{"float8 Infinity", `'Infinity'::float8`, "float8", `"Infinity"`},
		{"float4 -Infinity", `'-Infinity'::float4`, "float4", `"-Infinity"`},
		{"numeric", `1.50::numeric`, "numeric", `"1.50"`},
		{"numeric NaN", `'NaN'::numeric`, "numeric", `"NaN"`},
		{"text unicode quotes", `'héllo "wörld" \ ☃ '' <&>'`, "text", `"héllo \"wörld\" \\ ☃ ' <&>"`},
		{"text newline", `E'a\nb\tc'`, "text", `"a\nb\tc"`},
		{"varchar", `'x'::varchar(3)`, "varchar", `"x"`},
		{"json keeps keys", `'{"b" : [1, 2], "a": null}'::json`, "json", `{"b":[1,2],"a":null}`},
		{"jsonb", `'{"b":1,"a":"x"}'::jsonb`, "jsonb", `{"a":"x","b":1}`},
		{"jsonb scalar", `'"s"'::jsonb`, "jsonb", `"s"`},
		{"int4[]", `array[1,2,3]`, "_int4", `[1,2,3]`},
		{"int4[] empty", `'{}'::int4[]`, "_int4", `[]`},
		{"text[] specials", `array['a', null, 'b"c', 'd,e', '{f}', 'NULL', '', ' sp ', 'back\slash', 'é']`, "_text",
			`["a",null,"b\"c","d,e","{f}","NULL",""," sp ","back\\slash","é"]`},
		{"int4[][]", `array[[1,2],[3,4]]`, "_int4", `[[1,2],[3,4]]`},
		{"text[][] with null", `array[['a',null],['{','}']]`, "_text", `[["a",null],["{","}"]]`},
		{"lower bound", `'[0:1]={1,2}'::int4[]`, "_int4", `[1,2]`},
		{"lower bounds 2-D", `'[0:1][-1:0]={{1,2},{3,4}}'::int4[]`, "_int4", `[[1,2],[3,4]]`},
		{"bool[]", `array[true,false,null]`, "_bool", `[true,false,null]`},
		{"int8[] big", `array[1, 9007199254740993]::int8[]`, "_int8", `[1,"9007199254740993"]`},
		{"float8[]", `array['NaN', 1.5, '-Infinity']::float8[]`, "_float8", `["NaN",1.5,"-Infinity"]`},
		{"numeric[]", `array[1.5, 2]::numeric[]`, "_numeric", `["1.5","2"]`},
		{"jsonb[]", `array['{"a":1}', '[1, "x"]', 'null']::jsonb[]`, "_jsonb", `[{"a":1},[1,"x"],null]`},
		{"bytea[]", `array['\x01ff'::bytea]`, "_bytea", `["\\x01ff"]`},
		{"box[]", `array[box '((1,1),(0,0))', box '((2,2),(1,1))']`, "_box", `["(1,1),(0,0)","(2,2),(1,1)"]`},
		{"enum", `'happy'::mood`, "mood", `"happy"`},
		{"enum[]", `array['sad','happy',null]::mood[]`, "_mood", `["sad","happy",null]`},
		{"domain", `5::posint`, "int4", `5`},
		{"domain[]", `array[5::posint, 6::posint]`, "_posint", `[5,6]`},
		{"composite", `row(1, 'x y')::pair`, "pair", `"(1,\"x y\")"`},
		{"composite[]", `array[row(1, 'a')::pair, null]`, "_pair", `["(1,a)",null]`},
		{"record", `row(1, 'b')`, "record", `"(1,b)"`},
		{"bytea", `'\xdeadbeef'::bytea`, "bytea", `"\\xdeadbeef"`},
		{"timestamptz", `'2024-01-02 03:04:05.5+00'::timestamptz`, "timestamptz", `"2024-01-02 03:04:05.5+00"`},
		{"date", `'2024-02-29'::date`, "date", `"2024-02-29"`},
		{"uuid", `'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid`, "uuid", `"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"`},
		{"interval", `'1 day 2 hours'::interval`, "interval", `"1 day 02:00:00"`},
		{"regclass (not in pgtype)", `'pg_class'::regclass`, "regclass", `"pg_class"`},
		{"int2vector (array category, not a literal)", `'1 2'::int2vector`, "int2vector", `"1 2"`},
		{"int4range", `int4range(1, 5)`, "int4range", `"[1,5)"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, conn, tc, query("select "+tt.expr+" as v"), sqlexec.Limits{})
			want := fmt.Sprintf(`{"columns":[{"name":"v","type":%q}],"rows":[[%s]],"row_count":1,"command":"SELECT"}`, tt.typ, tt.value)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("select %s (-want +got):\n%s", tt.expr, diff)
			}
		})
	}

	t.Run("fresh cache after search_path change", func(t *testing.T) {
		tc := sqlexec.NewTypeCache()
		got := run(t, conn, tc, file(`set search_path = ''; select array['sad']::public.mood[] as v, 'sad'::public.mood as w`), sqlexec.Limits{})
		want := `{"columns":[{"name":"v","type":"_mood"},{"name":"w","type":"mood"}],"rows":[[["sad"],"sad"]],"row_count":1,"command":"SELECT"}`
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		mustRun(t, conn, tc, `reset search_path`)
	})
}

func TestExec_Params(t *testing.T) {
	conn := connect(t)
	tc := sqlexec.NewTypeCache()
	mustRun(t, conn, tc, typesSetup)

	tests := []struct {
		name   string
		sql    string
		params []string
		want   string // rows and the column type, or a whole error body
	}{
		{"number", `select $1::int4 + 1 as v`, []string{`41`}, `int4|[[42]]`},
		{"float", `select $1::float8 as v`, []string{`1.5e0`}, `float8|[[1.5]]`},
		{"null", `select $1::text is null as v`, []string{`null`}, `bool|[[true]]`},
		{"true", `select $1::bool as v`, []string{`true`}, `bool|[[true]]`},
		{"false untyped", `select not $1 as v`, []string{`false`}, `bool|[[true]]`},
		{"string", `select $1::text as v`, []string{`"h\u00e9 \"q\" {x}"`}, `text|[["hé \"q\" {x}"]]`},
		{"string to int8", `select $1::int8 as v`, []string{`"9007199254740993"`}, `int8|[["9007199254740993"]]`},
		{"object to jsonb", `select $1::jsonb as v`, []string{`{"a": [1, {"b": null}]}`}, `jsonb|[[{"a":[1,{"b":null}]}]]`},
		{"array to jsonb", `select $1::jsonb as v`, []string{`[1, "a", {"b": null}]`}, `jsonb|[[[1,"a",{"b":null}]]]`},
		{"array to json", `select $1::json as v`, []string{`[1,2]`}, `json|[[[1,2]]]`},
		{"array to text", `select $1::text as v`, []string{`[1, 2]`}, `text|[["[1, 2]"]]`},
		{"int[]", `select $1::int[] as v`, []string{`[1, 2, null]`}, `_int4|[[[1,2,null]]]`},
		{"int[] 2-D", `select $1::int[] as v`, []string{`[[1,2],[3,4]]`}, `_int4|[[[[1,2],[3,4]]]]`},
		{"int[] empty", `select $1::int[] as v`, []string{`[]`}, `_int4|[[[]]]`},
		{"text[] specials", `select $1::text[] as v`, []string{`["a\"b", "c,d", null, "NULL", "", "\\", "{}"]`},
			`_text|[[["a\"b","c,d",null,"NULL","","\\","{}"]]]`},
		{"jsonb[]", `select $1::jsonb[] as v`, []string{`[{"a":1}, [1,2], null]`}, `_jsonb|[[[{"a":1},[1,2],null]]]`},
		{"enum[]", `select $1::mood[] as v`, []string{`["sad", "happy"]`}, `_mood|[[["sad","happy"]]]`},
		{"array inferred from column", `insert into arr (ids, moods) values ($1, $2) returning ids as v`,
			[]string{`[3, 4]`, `["happy"]`}, `_int4|[[[3,4]]]`},
		{"array in any()", `select 2 = any($1) as v`, []string{`[1, 2]`}, `bool|[[true]]`},
		{"several kinds", `select $1::int + $2::int as v`, []string{`1`, `"2"`}, `int4|[[3]]`},
		{"too few params", `select $1::int as a, $2::int as b`, []string{`1`},
			`{"error":{"message":"bind message supplies 1 parameters, but prepared statement \"\" requires 2","code":"08P01","detail":"","hint":"","position":0}}`},
		{"too many params", `select $1::int as v`, []string{`1`, `2`},
			`{"error":{"message":"bind message supplies 2 parameters, but prepared statement \"\" requires 1","code":"08P01","detail":"","hint":"","position":0}}`},
		{"bad value", `select $1::int as v`, []string{`"x"`},
			`{"error":{"message":"invalid input syntax for type integer: \"x\"","code":"22P02","detail":"","hint":"","position":0}}`},
		{"two statements", `select $1::int; select 2`, []string{`1`},
			`{"error":{"message":"cannot insert multiple commands into a prepared statement","code":"42601","detail":"","hint":"","position":0}}`},
		{"array param syntax error", `selec $1`, []string{`[1]`},
			`{"error":{"message":"syntax error at or near \"selec\"","code":"42601","detail":"","hint":"","position":1}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, conn, tc, query(tt.sql, tt.params...), sqlexec.Limits{})
			want := tt.want
			if typ, rows, ok := strings.Cut(tt.want, "|"); ok {
				var r [][]json.RawMessage
				if err := json.Unmarshal([]byte(rows), &r); err != nil {
					t.Fatal(err)
				}
				cmd := "SELECT"
				if strings.HasPrefix(tt.sql, "insert") {
					cmd = "INSERT"
				}
				want = fmt.Sprintf(`{"columns":[{"name":"v","type":%q}],"rows":%s,"row_count":%d,"command":%q}`, typ, rows, len(r), cmd)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
	assertUsable(t, conn, tc)
}

func TestExec_Statements(t *testing.T) {
	conn := connect(t)
	tc := sqlexec.NewTypeCache()
	mustRun(t, conn, tc, `create table t (id int primary key, name text); create sequence seq`)

	tests := []struct {
		name string
		req  sqlexec.Request
		want string
	}{
		{"insert tag", query(`insert into t values (1, 'a'), (2, 'b'), (3, 'c')`),
			`{"columns":[],"rows":[],"row_count":3,"command":"INSERT"}`},
		{"last statement wins", query(`select 1 as one; update t set name = upper(name) where id < 3; select id, name from t order by id`),
			`{"columns":[{"name":"id","type":"int4"},{"name":"name","type":"text"}],"rows":[[1,"A"],[2,"B"],[3,"c"]],"row_count":3,"command":"SELECT"}`},
		{"last statement without rows", file("select * from t;\ndelete from t where id = 3;\n"),
			`{"columns":[],"rows":[],"row_count":1,"command":"DELETE"}`},
		{"insert returning", query(`insert into t values (4, 'd'), (5, null) returning id, name`),
			`{"columns":[{"name":"id","type":"int4"},{"name":"name","type":"text"}],"rows":[[4,"d"],[5,null]],"row_count":2,"command":"INSERT"}`},
		{"create table", file(`create table u (x int)`),
			`{"columns":[],"rows":[],"row_count":0,"command":"CREATE TABLE"}`},
		{"transaction", file(`begin; insert into u values (1); commit;`),
			`{"columns":[],"rows":[],"row_count":0,"command":"COMMIT"}`},
		{"select into tag", query(`create table v as select * from u`),
			`{"columns":[],"rows":[],"row_count":1,"command":"SELECT"}`},
		{"show", query(`show timezone`),
			`{"columns":[{"name":"TimeZone","type":"text"}],"rows":[["UTC"]],"row_count":1,"command":"SHOW"}`},
		{"no columns", query(`select from generate_series(1, 2)`),
			`{"columns":[],"rows":[[],[]],"row_count":2,"command":"SELECT"}`},
		{"no rows", query(`select id from t where false`),
			`{"columns":[{"name":"id","type":"int4"}],"rows":[],"row_count":0,"command":"SELECT"}`},
		{"duplicate column names", query(`select 1 as a, 2 as a`),
			`{"columns":[{"name":"a","type":"int4"},{"name":"a","type":"int4"}],"rows":[[1,2]],"row_count":1,"command":"SELECT"}`},
		{"empty query", query(``), `{"columns":[],"rows":[],"row_count":0,"command":""}`},
		{"only semicolons and comments", file(";\n-- nothing\n;"), `{"columns":[],"rows":[],"row_count":0,"command":""}`},
		{"empty params means simple protocol", sqlexec.Request{Query: ptr(`select 1 as a; select 2 as b`), Params: []json.RawMessage{}},
			`{"columns":[{"name":"b","type":"int4"}],"rows":[[2]],"row_count":1,"command":"SELECT"}`},
		{"copy to stdout", query(`copy (select 1 union all select 2) to stdout`),
			`{"columns":[],"rows":[],"row_count":2,"command":"COPY"}`},
		{"copy from stdin", query(`copy u from stdin`),
			`{"error":{"message":"COPY from stdin failed: COPY FROM STDIN is not supported here; use INSERT, or COPY FROM a server file","code":"57014","detail":"","hint":"","position":0}}`},
		{"pasted COPY data is not SQL", file("copy u from stdin;\n1\n\\.\n"),
			`{"error":{"message":"syntax error at or near \"1\"","code":"42601","detail":"","hint":"","position":20}}`},
		{"copy from stdin with params", query(`copy u from stdin`, `1`),
			`{"error":{"message":"bind message supplies 1 parameters, but prepared statement \"\" requires 0","code":"08P01","detail":"","hint":"","position":0}}`},
		{"syntax error", query("select 1;\nselec 2"),
			`{"error":{"message":"syntax error at or near \"selec\"","code":"42601","detail":"","hint":"","position":11}}`},
		{"unique violation", query(`insert into t values (1, 'again')`),
			`{"error":{"message":"duplicate key value violates unique constraint \"t_pkey\"","code":"23505","detail":"Key (id)=(1) already exists.","hint":"","position":0}}`},
		{"hint", query(`select no_such_function(1)`),
			`{"error":{"message":"function no_such_function(integer) does not exist","code":"42883","detail":"","hint":"No function matches the given name and argument types. You might need to add explicit type casts.","position":8}}`},
		{"error after rows", query(`select 1 / (3 - g) as v from generate_series(1, 5) g`),
			`{"error":{"message":"division by zero","code":"22012","detail":"","hint":"","position":0}}`},
		{"script stops at first error", file("select nextval('seq');\nselect 1/0;\nselect nextval('seq');"),
			`{"error":{"message":"division by zero","code":"22012","detail":"","hint":"","position":0}}`},
		{"later statement did not run", query(`select last_value from seq`),
			`{"columns":[{"name":"last_value","type":"int8"}],"rows":[[1]],"row_count":1,"command":"SELECT"}`},
		{"failed script rolled back", file("insert into u values (2);\nselect 1/0;"),
			`{"error":{"message":"division by zero","code":"22012","detail":"","hint":"","position":0}}`},
		{"implicit transaction undone", query(`select count(*) as n from u`),
			`{"columns":[{"name":"n","type":"int8"}],"rows":[[1]],"row_count":1,"command":"SELECT"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := run(t, conn, tc, tt.req, sqlexec.Limits{})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if conn.TxStatus() != 'I' {
				t.Errorf("transaction status %q after the request", conn.TxStatus())
			}
		})
	}
	assertUsable(t, conn, tc)
}

func ptr(s string) *string { return &s }

func TestExec_Truncation(t *testing.T) {
	conn := connect(t)
	tc := sqlexec.NewTypeCache()

	t.Run("rows", func(t *testing.T) {
		got := run(t, conn, tc, query(`select g from generate_series(1, 100000) g`), sqlexec.Limits{MaxRows: 3})
		want := `{"columns":[{"name":"g","type":"int4"}],"rows":[[1],[2],[3]],"row_count":3,"command":"SELECT","truncated":true}`
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		assertUsable(t, conn, tc)
	})
	t.Run("rows exactly at the limit", func(t *testing.T) {
		got := run(t, conn, tc, query(`select g from generate_series(1, 3) g`), sqlexec.Limits{MaxRows: 3})
		want := `{"columns":[{"name":"g","type":"int4"}],"rows":[[1],[2],[3]],"row_count":3,"command":"SELECT"}`
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("bytes", func(t *testing.T) {
		// Each row is ["xxx…"] (104 bytes) plus a comma between rows:
		// 104 + 8×105 = 944 ≤ 1000 < 1049.
		res, err := sqlexec.Exec(context.Background(), conn, tc, query(`select repeat('x', 100) as s from generate_series(1, 5000)`), sqlexec.Limits{MaxBytes: 1000})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 9 || !res.Truncated || res.RowCount != 9 {
			t.Errorf("got %d rows, truncated %v, row_count %d; want 9, true, 9", len(res.Rows), res.Truncated, res.RowCount)
		}
		rows, _ := json.Marshal(res.Rows)
		if len(rows)-2 > 1000 {
			t.Errorf("rows encode to %d bytes", len(rows))
		}
		assertUsable(t, conn, tc)
	})
	t.Run("bytes counted encoded", func(t *testing.T) {
		// Raw t is 1 byte, encoded true is 4: [true] is 6 bytes, 7 with a
		// comma: 6 + 7 + 7 = 20.
		res, err := sqlexec.Exec(context.Background(), conn, tc, query(`select true from generate_series(1, 100)`), sqlexec.Limits{MaxBytes: 20})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Rows) != 3 || !res.Truncated {
			t.Errorf("got %d rows, truncated %v; want 3, true", len(res.Rows), res.Truncated)
		}
	})
	t.Run("one row too big", func(t *testing.T) {
		got := run(t, conn, tc, query(`select repeat('x', 2000) as s`), sqlexec.Limits{MaxBytes: 1000})
		want := `{"columns":[{"name":"s","type":"text"}],"rows":[],"row_count":0,"command":"SELECT","truncated":true}`
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("earlier statements do not count", func(t *testing.T) {
		got := run(t, conn, tc, query(`select g from generate_series(1, 10) g; select 1 as a`), sqlexec.Limits{MaxRows: 3})
		want := `{"columns":[{"name":"a","type":"int4"}],"rows":[[1]],"row_count":1,"command":"SELECT"}`
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
	})
	t.Run("params", func(t *testing.T) {
		got := run(t, conn, tc, query(`select g from generate_series(1, $1::int) g`, `50000`), sqlexec.Limits{MaxRows: 2})
		want := `{"columns":[{"name":"g","type":"int4"}],"rows":[[1],[2]],"row_count":2,"command":"SELECT","truncated":true}`
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("(-want +got):\n%s", diff)
		}
		assertUsable(t, conn, tc)
	})
}
