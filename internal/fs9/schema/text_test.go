package schema_test

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/internal/fs9/fs9test"
	"github.com/db9/db9/internal/pgtest"
)

// fs9_read decodes a file of whole pages page by page (text_pages); a
// character cut by a page boundary must come out whole, invalid UTF-8 and
// NUL anywhere must come out as the byte-wise repair of to_text, as before.
func TestSQL_ReadTextAcrossPages(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	ro := c.Conn(t, fs9test.ReadOnly)
	const ps = 262144
	// Valid UTF-8: a run of one multi-byte character after a few ASCII
	// bytes, so the boundaries cut it at every place it can be cut.
	for _, ch := range []string{"é", "€", "😀"} {
		for lead := 0; lead < utf8.UTFMax; lead++ {
			s := strings.Repeat("a", lead) + strings.Repeat(ch, (3*ps+100)/len(ch))
			p := fmt.Sprintf("/valid-%d-%d.txt", len(ch), lead)
			one[int64](t, a, `SELECT fs9_write($1, $2::bytea)`, p, []byte(s))
			if got := one[string](t, a, `SELECT fs9_read($1)`, p); got != s {
				t.Errorf("%s: %d bytes read, want %d (equal prefix %t)", p, len(got), len(s), strings.HasPrefix(s, got))
			}
		}
	}
	// Valid files take the page-wise way, not to_text's repair.
	su, err := pgx.Connect(context.Background(), c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(context.Background())
	repairs := func(p string) int64 {
		tx, err := su.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		defer tx.Rollback(context.Background())
		// Counts not yet flushed to the shared statistics are in the
		// xact view still: the difference is what this read did.
		calls := func() (n int64) {
			if err := tx.QueryRow(context.Background(), `SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_xact_user_functions
				WHERE schemaname = '_db9_fs' AND funcname = 'to_text'`).Scan(&n); err != nil {
				t.Fatal(err)
			}
			return n
		}
		if _, err := tx.Exec(context.Background(), `SET LOCAL track_functions = 'all'`); err != nil {
			t.Fatal(err)
		}
		before := calls()
		if _, err := tx.Exec(context.Background(), `SELECT fs9_read($1)`, p); err != nil {
			t.Fatal(err)
		}
		return calls() - before
	}
	for _, p := range []string{"/valid-2-1.txt", "/valid-3-2.txt", "/valid-4-3.txt"} {
		if n := repairs(p); n != 0 {
			t.Errorf("%s: to_text called %d times", p, n)
		}
	}
	// The read-only role reads the same way.
	if got := one[string](t, ro, `SELECT fs9_read('/valid-4-1.txt')`); !strings.HasPrefix(got, "a😀😀") || len(got) != 1+(3*ps+100)/4*4 {
		t.Errorf("read-only role: %d bytes", len(got))
	}

	valid := []byte(strings.Repeat("€", (3*ps+10)/3)) // boundaries cut characters
	edit := func(f func(b []byte) []byte) []byte { return f(append([]byte(nil), valid...)) }
	for name, b := range map[string][]byte{
		"bad-byte-page-2":   edit(func(b []byte) []byte { b[2*ps+100] = 0xff; return b }),
		"nul-page-3":        edit(func(b []byte) []byte { b[3*ps+3] = 0; return b }),
		"cut-at-boundary":   edit(func(b []byte) []byte { b[ps-1], b[ps] = 0xe2, 'x'; return b }), // lead byte, then no continuation
		"four-continuation": edit(func(b []byte) []byte { copy(b[ps-2:], []byte{0xe2, 0x82, 0x82, 0x82, 0x82, 0x82}); return b }),
		"continuation-at-0": append([]byte{0x82, 0xac}, valid...),
		"short-last-page":   append(append([]byte(nil), valid[:3*ps]...), 0xe2, 0x82),
	} {
		p := "/" + name
		one[int64](t, a, `SELECT fs9_write($1, $2::bytea)`, p, b)
		got := one[string](t, a, `SELECT fs9_read($1)`, p)
		want := one[string](t, a, `SELECT _db9_fs.to_text(fs9_read_bytea($1))`, p)
		if got != want || !utf8.ValidString(got) || !strings.Contains(got, "\uFFFD") {
			t.Errorf("%s: %d bytes read, to_text gives %d (valid %t)", name, len(got), len(want), utf8.ValidString(got))
		}
		if n := repairs(p); n != 1 {
			t.Errorf("%s: to_text called %d times, want 1", name, n)
		}
	}

	// A sparse file (a gap of NUL bytes between two pages) and an empty one.
	one[int64](t, a, `SELECT fs9_write('/sparse.txt', 'head')`)
	one[int64](t, a, `SELECT fs9_write_at('/sparse.txt', $1, 'tail')`, 2*ps+5)
	want := "head" + strings.Repeat("\uFFFD", 2*ps+1) + "tail"
	if got := one[string](t, a, `SELECT fs9_read('/sparse.txt')`); got != want {
		t.Errorf("sparse: %d bytes read, want %d", len(got), len(want))
	}
	one[int64](t, a, `SELECT fs9_write('/empty.txt', '')`)
	if got := one[*string](t, a, `SELECT fs9_read('/empty.txt')`); got == nil || *got != "" {
		t.Errorf("empty file: %v", got)
	}
	// The same text through the table function (it reads with fs9_read).
	if got := one[string](t, a, `SELECT string_agg(line, E'\n' ORDER BY _line_number) FROM fs9('/valid-3-2.txt')`); got != strings.TrimSuffix(one[string](t, a, `SELECT fs9_read('/valid-3-2.txt')`), "\n") {
		t.Errorf("fs9() text: %d bytes", len(got))
	}
	// Byte readers are untouched.
	if got := one[[]byte](t, a, `SELECT fs9_read_bytea('/cut-at-boundary')`); !bytes.Equal(got, edit(func(b []byte) []byte { b[ps-1], b[ps] = 0xe2, 'x'; return b })) {
		t.Errorf("fs9_read_bytea: %d bytes", len(got))
	}
}

// The SQL functions pin their search_path: functions, operators and
// aggregates a tenant puts ahead of pg_catalog change nothing in what
// fs9_read and fs9_read_bytea return.
func TestSQL_ReadNotHijacked(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	const ps = 262144
	s := "x" + strings.Repeat("€", (2*ps+10)/3)
	one[int64](t, a, `SELECT fs9_write('/h.txt', $1::bytea)`, []byte(s))
	const cuts = `SELECT pg_catalog.array_to_string(pg_catalog.array_agg(cont::text || '/' || next_cont::text), ' ')
		FROM _db9_fs.text_pages('/h.txt')`
	wantCuts := one[string](t, a, cuts)
	if wantCuts != "0/0 0/2 2/0" {
		t.Fatalf("cuts of /h.txt: %q", wantCuts)
	}
	for _, sql := range []string{
		`CREATE FUNCTION public.convert_from(bytea, name) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$`,
		`CREATE FUNCTION public.substring(bytea, integer) RETURNS bytea LANGUAGE sql AS $$ SELECT '\x41'::bytea $$`,
		`CREATE FUNCTION public.substring(bytea, integer, integer) RETURNS bytea LANGUAGE sql AS $$ SELECT '\x41'::bytea $$`,
		`CREATE FUNCTION public.get_byte(bytea, integer) RETURNS integer LANGUAGE sql AS $$ SELECT 128 $$`,
		`CREATE FUNCTION public.octet_length(bytea) RETURNS integer LANGUAGE sql AS $$ SELECT 0 $$`,
		`CREATE FUNCTION public.hijack_cat(bytea, bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT '\x41'::bytea $$`,
		`CREATE OPERATOR public.|| (LEFTARG = bytea, RIGHTARG = bytea, FUNCTION = public.hijack_cat)`,
		`CREATE FUNCTION public.hijack_and(integer, integer) RETURNS integer LANGUAGE sql AS $$ SELECT 128 $$`,
		`CREATE OPERATOR public.& (LEFTARG = integer, RIGHTARG = integer, FUNCTION = public.hijack_and)`,
		`CREATE FUNCTION public.hijack_acc(text, text, text) RETURNS text LANGUAGE sql AS $$ SELECT 'hijacked' $$`,
		`CREATE AGGREGATE public.string_agg(text, text) (SFUNC = public.hijack_acc, STYPE = text)`,
		`CREATE FUNCTION public.hijack_bacc(bytea, bytea, bytea) RETURNS bytea LANGUAGE sql AS $$ SELECT '\x41'::bytea $$`,
		`CREATE AGGREGATE public.string_agg(bytea, bytea) (SFUNC = public.hijack_bacc, STYPE = bytea)`,
		`SET search_path = public, pg_catalog, extensions`,
	} {
		if msg := sqlErr(t, a, sql); msg != "" {
			t.Fatalf("%s: %s", sql, msg)
		}
	}
	if got := one[string](t, a, `SELECT public.convert_from('\x41'::bytea, 'UTF8')`); got != "hijacked" {
		t.Fatalf("the tenant's function is not in effect: %q", got)
	}
	if got := one[string](t, a, `SELECT pg_catalog.array_to_string(pg_catalog.array_agg(pg_catalog.textcat(pg_catalog.textcat(cont::text, '/'),
		next_cont::text)), ' ') FROM _db9_fs.text_pages('/h.txt')`); got != wantCuts {
		t.Errorf("text_pages under a hostile search_path: cuts %q, want %q", got, wantCuts)
	}
	// Also the SECURITY DEFINER entry points called directly: a tenant's
	// operator run by them would run as the platform superuser.
	for _, sql := range []string{`SELECT fs9_read('/h.txt')`, `SELECT fs9_read_bytea('/h.txt')`,
		`SELECT pg_catalog.string_agg(page, ''::bytea) FROM _db9_fs.text_pages('/h.txt')`, `SELECT _db9_fs.read('/h.txt', NULL, NULL)`,
		`SELECT pg_catalog.string_agg(line, E'\n') FROM fs9('/h.txt')`} {
		if got := one[[]byte](t, a, sql); string(got) != s {
			t.Errorf("%s under a hostile search_path: %d bytes, want %d", sql, len(got), len(s))
		}
	}
}
