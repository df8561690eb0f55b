package dataapi

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/dataapi/schema"
)

const fuzzCatalog = `{"schemas":["public"],
"tables":[
 {"schema":"public","name":"users","kind":"r","pk":["id"],"uniques":[["id"]],"columns":[
   {"name":"id","type":{"schema":"pg_catalog","name":"uuid","category":"U","kind":"b"}},
   {"name":"name","type":{"schema":"pg_catalog","name":"text","category":"S","kind":"b"}},
   {"name":"profile","type":{"schema":"pg_catalog","name":"jsonb","category":"U","kind":"b"}}]},
 {"schema":"public","name":"posts","kind":"r","pk":["id"],"uniques":[["id"]],"columns":[
   {"name":"id","type":{"schema":"pg_catalog","name":"int4","category":"N","kind":"b"}},
   {"name":"author_id","type":{"schema":"pg_catalog","name":"uuid","category":"U","kind":"b"}},
   {"name":"title","type":{"schema":"pg_catalog","name":"text","category":"S","kind":"b"}},
   {"name":"search","type":{"schema":"pg_catalog","name":"tsvector","category":"U","kind":"b"}},
   {"name":"we\"ird col","type":{"schema":"pg_catalog","name":"text","category":"S","kind":"b"}}]},
 {"schema":"public","name":"comments","kind":"r","pk":["id"],"uniques":[["id"]],"columns":[
   {"name":"id","type":{"schema":"pg_catalog","name":"int4","category":"N","kind":"b"}},
   {"name":"post_id","type":{"schema":"pg_catalog","name":"int4","category":"N","kind":"b"}},
   {"name":"body","type":{"schema":"pg_catalog","name":"text","category":"S","kind":"b"}}]},
 {"schema":"public","name":"tags","kind":"r","pk":["id"],"uniques":[["id"]],"columns":[
   {"name":"id","type":{"schema":"pg_catalog","name":"int4","category":"N","kind":"b"}},
   {"name":"name","type":{"schema":"pg_catalog","name":"text","category":"S","kind":"b"}}]},
 {"schema":"public","name":"post_tags","kind":"r","pk":["post_id","tag_id"],"uniques":[["post_id","tag_id"]],"columns":[
   {"name":"post_id","type":{"schema":"pg_catalog","name":"int4","category":"N","kind":"b"}},
   {"name":"tag_id","type":{"schema":"pg_catalog","name":"int4","category":"N","kind":"b"}}]}],
"fkeys":[
 {"name":"posts_author_id_fkey","schema":"public","table":"posts","fschema":"public","ftable":"users","cols":["author_id"],"fcols":["id"]},
 {"name":"comments_post_id_fkey","schema":"public","table":"comments","fschema":"public","ftable":"posts","cols":["post_id"],"fcols":["id"]},
 {"name":"pt_post","schema":"public","table":"post_tags","fschema":"public","ftable":"posts","cols":["post_id"],"fcols":["id"]},
 {"name":"pt_tag","schema":"public","table":"post_tags","fschema":"public","ftable":"tags","cols":["tag_id"],"fcols":["id"]}],
"functions":[]}`

func fuzzScope(tb testing.TB) *scope {
	sc, err := schema.Decode(1, []byte(fuzzCatalog))
	if err != nil {
		tb.Fatal(err)
	}
	return &scope{sc: sc, p: &Principal{Role: "anon", Schemas: []string{"public"}}, profile: "public"}
}

// Everything in a built statement outside quoted identifiers must be a
// fixed keyword, function name, operator, small constant or $n parameter.
var (
	quotedIdent = regexp.MustCompile(`"(?:[^"]|"")*"`)
	sqlToken    = regexp.MustCompile(`\$[0-9]+|'[^']*'|[A-Za-z_][A-Za-z0-9_]*|[0-9]+|\s+|[(),.*=<>!~@&|:\[\]+-]|\|\|`)
	fixedWords  = map[string]bool{}
)

func init() {
	for _, w := range strings.Fields(`SELECT FROM WHERE AND OR NOT AS ON TRUE LEFT INNER JOIN LATERAL GROUP BY ORDER ASC DESC NULLS
	FIRST LAST LIMIT OFFSET CAST IS NULL DISTINCT UNKNOWN FALSE ANY ALL LIKE ILIKE HAVING WITH INSERT INTO UPDATE SET
	DELETE RETURNING CONFLICT DO NOTHING EXCLUDED UNION EXPLAIN FORMAT JSON TEXT ANALYZE VERBOSE SETTINGS BUFFERS WAL
	false pg_catalog count sum avg min max row_to_json json_agg coalesce text int8 json_array_length to_tsvector
	to_tsquery plainto_tsquery phraseto_tsquery websearch_to_tsquery json_populate_recordset json_populate_record
	json_to_record string_agg substring length chr json_object_keys array_agg pgrst_k pgrst_count
	total page_total body extra`) {
		fixedWords[w] = true
	}
}

func checkSQL(t testing.TB, sql string, nargs int) {
	rest := quotedIdent.ReplaceAllString(sql, " ")
	pos := 0
	for pos < len(rest) {
		loc := sqlToken.FindStringIndex(rest[pos:])
		if loc == nil || loc[0] != 0 {
			t.Fatalf("unexpected text at %q in %s", rest[pos:], sql)
		}
		tok := rest[pos : pos+loc[1]]
		pos += loc[1]
		switch {
		case strings.HasPrefix(tok, "$"):
		case strings.HasPrefix(tok, "'"):
			if tok != "'[]'" && tok != "'null'" && tok != "','" && tok != "''" {
				t.Fatalf("string literal %s in %s", tok, sql)
			}
		case tok[0] >= '0' && tok[0] <= '9':
			if len(tok) > 2 {
				t.Fatalf("number %s in %s", tok, sql)
			}
		case tok[0] == '_' || (tok[0] >= 'A' && tok[0] <= 'z' && tok[0] != '[' && tok[0] != ']'):
			if !fixedWords[tok] {
				t.Fatalf("word %q outside quotes in %s", tok, sql)
			}
		}
	}
	if strings.Contains(sql, "$"+itoa(nargs+1)) {
		t.Fatalf("placeholder beyond %d args in %s", nargs, sql)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func FuzzBuild(f *testing.F) {
	seeds := [][5]string{
		{"id,title,author:users(name),comments(body)", "title", "eq.hello", "id.desc", "id"},
		{"*,tags!inner(name)", "tags.name", "in.(a,\"b,c\")", "title.asc.nullslast", "title"},
		{"t:title::text,profile->a->>b", "or", "(id.eq.1,and(title.like.*x*,id.gt.2))", "users(name).desc", "id,title"},
		{"count(),title", "search", "fts(english).cat & dog", "id", ""},
		{"...users(name)", "not.and", "(id.in.(1,2),title.is.null)", "", "author_id"},
		{"comments(count())", "comments.body", "ilike(any).{a*,b*}", "", ""},
		{"id,\"we\"\"ird col\"", "id", "not.isdistinct.5", "", ""},
		{"x:users!posts_author_id_fkey!left(*)", "title", "cs.{1,2}", "id.nullsfirst", ""},
		{"id);drop table x;--", "id'", "eq.1';--", "id;", "id\""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1], s[2], s[3], s[4])
	}
	f.Fuzz(func(t *testing.T, sel, fkey, fval, order, conflict string) {
		tm := time.AfterFunc(3*time.Second, func() { panic(fmt.Sprintf("HANG %q %q %q %q %q", sel, fkey, fval, order, conflict)) })
		defer tm.Stop()
		s := fuzzScope(t)
		pairs := []pgrst.KV{{Key: "select", Value: sel}, {Key: fkey, Value: fval}, {Key: "order", Value: order}}
		for _, method := range []string{http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete} {
			req := &request{method: method, path: "/posts", p: s.p, pairs: pairs, body: []byte(`[{"title":"a","id":1}]`)}
			if method == http.MethodPost {
				req.pairs = append(append([]pgrst.KV{}, pairs...), pgrst.KV{Key: "on_conflict", Value: conflict}, pgrst.KV{Key: "columns", Value: conflict})
				req.prefer.Resolution = "merge-duplicates"
				req.prefer.Return = "representation"
			}
			if method == http.MethodPatch {
				req.body = []byte(`{"title":"x"}`)
			}
			req.prefer.Count = "exact"
			t0, _ := s.table("posts")
			var bt *built
			var err error
			if method == http.MethodGet {
				bt, err = s.buildRead(req, t0)
			} else {
				bt, err = s.buildMutation(req, t0)
			}
			if err != nil {
				if _, ok := err.(*pgrst.Error); !ok {
					t.Fatalf("error of type %T: %v", err, err)
				}
				continue
			}
			checkSQL(t, bt.main.sql, len(bt.main.args))
		}
	})
}
