package platformsql_test

import (
	"context"
	osexec "os/exec"
	"strings"
	"testing"

	"github.com/db9/db9/internal/pgtest"
	"github.com/db9/db9/internal/platformsql"
)

// platformPart makes objects of every kind the pseudo-extension collects,
// in a schema no list names, and drops and recreates an event trigger as
// the data API's part does (a DROP of an extension member would fail).
const platformPart = `
CREATE SCHEMA IF NOT EXISTS plat;
CREATE TABLE IF NOT EXISTS plat.items (id bigint GENERATED ALWAYS AS IDENTITY, v text);
CREATE SEQUENCE IF NOT EXISTS plat.counter;
CREATE OR REPLACE VIEW plat.items_v AS SELECT id FROM plat.items;
DO $$ BEGIN
  IF NOT EXISTS (SELECT FROM pg_type WHERE typname = 'mood') THEN CREATE TYPE plat.mood AS ENUM ('ok'); END IF;
  IF NOT EXISTS (SELECT FROM pg_type WHERE typname = 'pair') THEN CREATE TYPE plat.pair AS (a int, b int); END IF;
END $$;
CREATE OR REPLACE FUNCTION plat.uid() RETURNS int LANGUAGE sql STABLE AS 'SELECT 1';
CREATE OR REPLACE FUNCTION plat.on_ddl() RETURNS event_trigger LANGUAGE plpgsql AS 'BEGIN END';
DROP EVENT TRIGGER IF EXISTS plat_ddl;
CREATE EVENT TRIGGER plat_ddl ON ddl_command_end EXECUTE FUNCTION plat.on_ddl();
CREATE EXTENSION IF NOT EXISTS pg_stat_statements SCHEMA plat;
GRANT USAGE ON SCHEMA plat TO PUBLIC;
`

func TestSet_Apply_PlatformObjectsLeaveDumps(t *testing.T) {
	ctx := context.Background()
	c := pgtest.Start(t)
	conn := connect(t, c, pgtest.Superuser)
	v1 := platformsql.New(platformsql.Part{Name: "plat", SQL: platformPart})
	if err := v1.Apply(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// An upgrade runs the parts again: their DROPs must still work.
	v2 := platformsql.New(platformsql.Part{Name: "plat", SQL: platformPart},
		platformsql.Part{Name: "more", SQL: `CREATE OR REPLACE FUNCTION plat.more() RETURNS int LANGUAGE sql AS 'SELECT 2'`})
	if err := v2.Apply(ctx, conn); err != nil {
		t.Fatalf("re-apply over members of db9: %v", err)
	}
	var n int
	if err := c.QueryRowInt(t, `SELECT count(*) FROM pg_extension WHERE oid < 16384 AND extname IN ('db9', 'pg_stat_statements')`, &n); err != nil || n != 2 {
		t.Fatalf("built-in-numbered extensions db9 and pg_stat_statements: %d, %v; want 2", n, err)
	}
	// pg_stat_statements still works after its renumbering.
	exec(t, conn, `ALTER EXTENSION pg_stat_statements UPDATE`)
	// The tenant's objects, some using the platform's.
	exec(t, conn, `CREATE ROLE tenant LOGIN;
		CREATE TABLE public.notes (id int PRIMARY KEY, who int DEFAULT plat.uid(), body text);
		INSERT INTO public.notes (id, body) VALUES (1, 'kept');
		CREATE VIEW public.mine AS SELECT * FROM public.notes WHERE who = plat.uid();
		GRANT SELECT ON public.notes TO tenant`)

	bin, _ := pgtest.Env(t)
	out, err := osexec.Command(bin.Path("pg_dump"), "-d", c.ConnString(pgtest.Superuser)).CombinedOutput()
	if err != nil {
		t.Fatalf("pg_dump: %v\n%s", err, out)
	}
	dump := string(out)
	for _, want := range []string{"CREATE TABLE public.notes", "CREATE VIEW public.mine", "kept", "GRANT SELECT ON TABLE public.notes TO tenant"} {
		if !strings.Contains(dump, want) {
			t.Errorf("dump lacks the tenant's %q", want)
		}
	}
	for _, line := range strings.Split(dump, "\n") {
		if strings.HasPrefix(line, "--") {
			continue
		}
		for _, bad := range []string{"SCHEMA plat", "plat.items", "plat.counter", "plat.mood", "plat.pair", "plat_ddl", "EXTENSION", "FUNCTION plat.", "_db9"} {
			if strings.Contains(line, bad) {
				t.Errorf("dump has a platform object (%s): %s", bad, line)
			}
		}
	}
}
