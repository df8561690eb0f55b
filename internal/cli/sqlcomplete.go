package cli

import (
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/db9/db9/internal/client"
)

// sqlCompleter completes the word before the cursor in the SQL session:
// SQL keywords, and the tables, views and columns of the database, which
// the session sets from the schema endpoint when it starts and after DDL.
// It is readline's AutoCompleter; Do runs on readline's goroutine, set on
// the session's.
type sqlCompleter struct {
	mu      sync.Mutex
	schemas []string            // schema names, sorted
	rels    []relName           // tables and views
	columns map[string][]string // relation key (schema.name and name) -> column names
	allCols []string            // every column name, sorted, once each
}

type relName struct{ schema, name string }

// sqlKeywords are offered in the case of the word typed (lower unless the
// word is all upper case).
var sqlKeywords = strings.Fields(`
	all alter analyze and as asc begin between by cascade case cast check column commit
	constraint copy create cross current_date current_timestamp database default delete desc
	distinct do drop else end exists explain extension false fetch filter for foreign from full
	function grant group having if ilike in index inner insert interval into is join key lateral
	left like limit materialized not null nulls offset on or order outer over partition primary
	references rename replace returning revoke right rollback schema select sequence set show
	table tablespace temporary then to transaction trigger true truncate type union unique update
	using vacuum values view when where window with`)

// tableContext are the keywords after which a relation name comes.
var tableContext = map[string]bool{"from": true, "join": true, "into": true, "update": true, "table": true,
	`\d`: true, "truncate": true, "describe": true}

// set replaces the names from a schema answer.
func (c *sqlCompleter) set(sc client.Schema) {
	schemas := map[string]bool{}
	var rels []relName
	cols := map[string][]string{}
	all := map[string]bool{}
	add := func(schema, name string, cc []client.Column) {
		schemas[schema] = true
		rels = append(rels, relName{schema, name})
		for _, col := range cc {
			cols[schema+"."+name] = append(cols[schema+"."+name], col.Name)
			cols[name] = append(cols[name], col.Name)
			all[col.Name] = true
		}
	}
	for _, t := range sc.Tables {
		add(t.Schema, t.Name, t.Columns)
	}
	for _, v := range sc.Views {
		add(v.Schema, v.Name, v.Columns)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.schemas = sortedKeys(schemas)
	c.rels, c.columns, c.allCols = rels, cols, sortedKeys(all)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Do implements readline.AutoCompleter: the endings of the candidates for
// the word before pos, and that word's length.
func (c *sqlCompleter) Do(line []rune, pos int) ([][]rune, int) {
	word, before := wordBefore(line[:pos])
	cands := c.candidates(word, strings.ToLower(before))
	out := make([][]rune, 0, len(cands))
	for _, cand := range cands {
		out = append(out, []rune(cand)[len([]rune(word)):])
	}
	return out, len([]rune(word))
}

// candidates are the completions of word (each starts with word, so that
// readline may append the rest); prev is the word before it, lower case.
func (c *sqlCompleter) candidates(word, prev string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	if qual, part, ok := cutLast(word, "."); ok {
		// schema.<table> or table.<column>
		for _, r := range c.rels {
			if strings.EqualFold(r.schema, qual) {
				out = appendMatch(out, qual+".", r.name, part)
			}
		}
		for _, col := range c.columns[strings.ToLower(qual)] {
			out = appendMatch(out, qual+".", col, part)
		}
		return dedupe(out)
	}
	if word == "" && !tableContext[prev] {
		return nil // a Tab on nothing would list every keyword
	}
	for _, r := range c.rels {
		out = appendMatch(out, "", r.name, word)
	}
	for _, s := range c.schemas {
		if tableContext[prev] && s != "public" {
			out = appendMatch(out, "", s+".", word)
		}
	}
	if !tableContext[prev] {
		for _, col := range c.allCols {
			out = appendMatch(out, "", col, word)
		}
		upper := word != "" && strings.ToUpper(word) == word && strings.ToLower(word) != word
		for _, k := range sqlKeywords {
			if upper {
				k = strings.ToUpper(k)
			}
			out = appendMatch(out, "", k, word)
		}
	}
	return dedupe(out)
}

// appendMatch appends prefix+name when name starts with part, ignoring
// case (PostgreSQL folds unquoted names); the typed part is kept as typed.
func appendMatch(out []string, prefix, name, part string) []string {
	n, p := []rune(name), []rune(part)
	if len(n) >= len(p) && strings.EqualFold(string(n[:len(p)]), part) {
		return append(out, prefix+part+string(n[len(p):]))
	}
	return out
}

func dedupe(s []string) []string {
	slices.Sort(s)
	return slices.Compact(s)
}

func cutLast(s, sep string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// wordBefore returns the identifier-like word that ends at the end of
// line, and the word before that one.
func wordBefore(line []rune) (word, prev string) {
	isWord := func(r rune) bool {
		return r == '_' || r == '.' || r == '$' || unicode.IsLetter(r) || unicode.IsDigit(r)
	}
	i := len(line)
	for i > 0 && isWord(line[i-1]) {
		i--
	}
	word = string(line[i:])
	rest := strings.Fields(strings.NewReplacer("(", " ", ",", " ", ";", " ").Replace(string(line[:i])))
	if len(rest) > 0 {
		prev = rest[len(rest)-1]
	}
	return word, prev
}

// changesSchema reports whether stmt may create, alter or drop a relation,
// so that the names for completion are fetched again. A false positive
// costs one more schema request.
func changesSchema(stmt string) bool {
	for _, part := range strings.Split(stmt, ";") {
		f := strings.Fields(strings.ToLower(part))
		if len(f) > 0 && (f[0] == "create" || f[0] == "alter" || f[0] == "drop" || f[0] == "import") {
			return true
		}
	}
	return false
}
