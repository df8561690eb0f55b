package dbadmin

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"strings"
	"time"

	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// Dump is the answer of POST .../dump.
type Dump struct {
	SQL         string
	ObjectCount int
}

// maxDumpBytes bounds a dump held in memory and sent as one JSON string.
const maxDumpBytes = 64 << 20

// dumpTimeout bounds one pg_dump run.
const dumpTimeout = 5 * time.Minute

// customerSchemasSQL lists the customer's schemas: all but PostgreSQL's and
// the platform's ($1).
const customerSchemasSQL = `SELECT nspname FROM pg_namespace
	WHERE nspname <> ALL ($1::text[]) AND nspname <> 'information_schema' AND nspname NOT LIKE 'pg\_%' AND nspname NOT LIKE '\_db9%'
	ORDER BY nspname`

// customerExtensionsSQL lists extensions installed into the customer's
// schemas ($1), which a dump restricted to those schemas would otherwise
// leave out (pg_dump skips extensions when schemas are named).
const customerExtensionsSQL = `SELECT e.extname, n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
	WHERE n.nspname = ANY ($1::text[]) ORDER BY e.extname`

// DumpDatabase dumps the customer's schemas (and, unless ddlOnly, their
// data) as SQL that POST .../sql with file_content and psql both accept:
// pg_dump over the instance's socket as the platform superuser, the
// customer's schemas only, data as multi-row INSERTs with column names (the
// SQL endpoint has no COPY FROM STDIN), without owners, privileges or roles.
func (q *SQL) DumpDatabase(ctx context.Context, p tenancy.Principal, idOrName string, ddlOnly bool) (Dump, error) {
	d, err := q.openDB(ctx, p, idOrName, false)
	if err != nil {
		return Dump{}, err
	}
	defer d.close()
	schemas, exts, err := d.customerSchemas(ctx)
	if err != nil {
		return Dump{}, err
	}
	if len(schemas) == 0 {
		return Dump{SQL: "-- db9 dump: the database has no schemas of its own\n"}, nil
	}
	host, port := d.lease.Endpoint().HostPort()
	args := []string{"-h", host, "-p", port, "-U", placement.Superuser, "-d", "postgres",
		"--no-owner", "--no-privileges", "--no-publications", "--no-subscriptions", "--no-security-labels",
		"--no-tablespaces", "--column-inserts", "--rows-per-insert=100"}
	if ddlOnly {
		args = append(args, "--schema-only")
	}
	for _, n := range schemas {
		// A double-quoted pattern matches the name literally.
		args = append(args, "-n", `"`+strings.ReplaceAll(n, `"`, `""`)+`"`)
	}
	ctx, cancel := context.WithTimeout(ctx, dumpTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, q.bin.Path("pg_dump"), args...)
	// The options outrank per-database settings the tenant may have made
	// (ALTER DATABASE postgres SET role = ...), as for every platform session.
	cmd.Env = []string{"PGOPTIONS=-c role=none -c local_preload_libraries= -c default_transaction_read_only=off",
		"PGAPPNAME=db9-dump", "PGSSLMODE=disable", "PGCONNECT_TIMEOUT=10", "LC_ALL=C"}
	out := &limitedBuffer{max: maxDumpBytes}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = out, &limitedWriter{w: &stderr, n: 64 << 10}
	if err := cmd.Run(); err != nil {
		if out.over {
			return Dump{}, platform.Errorf(platform.CodeUnprocessable, "the dump is larger than %d MiB; use pg_dump through the PostgreSQL front door", maxDumpBytes>>20)
		}
		if ctx.Err() != nil {
			return Dump{}, platform.Wrap(platform.CodeUnavailable, ctx.Err(), "the dump did not finish in time")
		}
		return Dump{}, fmt.Errorf("pg_dump %s: %w: %s", d.row.ID, err, strings.TrimSpace(stderr.String()))
	}
	sql, count := rewriteDump(out.String(), exts)
	return Dump{SQL: sql, ObjectCount: count}, nil
}

type extension struct{ name, schema string }

func (d *dbSession) customerSchemas(ctx context.Context) ([]string, []extension, error) {
	conn, err := d.superuser(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	res := conn.ExecParams(ctx, customerSchemasSQL, [][]byte{[]byte(pgTextArray(tenancy.PlatformSchemas()))}, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, nil, fmt.Errorf("list schemas of %s: %w", d.row.ID, res.Err)
	}
	var schemas []string
	for _, r := range res.Rows {
		schemas = append(schemas, string(r[0]))
	}
	if len(schemas) == 0 {
		return nil, nil, nil
	}
	quoted := make([]string, len(schemas))
	for i, n := range schemas {
		quoted[i] = `"` + strings.NewReplacer(`\`, `\\`, `"`, `\"`).Replace(n) + `"`
	}
	res = conn.ExecParams(ctx, customerExtensionsSQL, [][]byte{[]byte(pgTextArray(quoted))}, nil, nil, nil).Read()
	if res.Err != nil {
		return nil, nil, fmt.Errorf("list extensions of %s: %w", d.row.ID, res.Err)
	}
	var exts []extension
	for _, r := range res.Rows {
		exts = append(exts, extension{string(r[0]), string(r[1])})
	}
	return schemas, exts, nil
}

// rewriteDump makes pg_dump's plain output acceptable to POST .../sql and
// to a db9 database, and counts its objects (table of contents entries):
//   - the psql meta-commands \restrict and \unrestrict (pg_dump 15.14+)
//     are dropped: the SQL endpoint speaks SQL only, and psql needs them not;
//   - CREATE SCHEMA gets IF NOT EXISTS: every database already has public,
//     which pg_dump creates when schemas are named;
//   - the customer's extensions are created after the session settings.
func rewriteDump(dump string, exts []extension) (string, int) {
	var b strings.Builder
	b.Grow(len(dump) + 256)
	count := 0
	settingsDone := false
	for line := range strings.Lines(dump) {
		switch {
		case strings.HasPrefix(line, `\restrict `), strings.HasPrefix(line, `\unrestrict `):
			continue
		case strings.HasPrefix(line, "CREATE SCHEMA "):
			line = "CREATE SCHEMA IF NOT EXISTS " + strings.TrimPrefix(line, "CREATE SCHEMA ")
		case strings.HasPrefix(line, "-- Name: "), strings.HasPrefix(line, "-- Data for Name: "):
			count++
		}
		b.WriteString(line)
		if !settingsDone && strings.HasPrefix(line, "SET row_security = ") {
			settingsDone = true
			for _, e := range exts {
				fmt.Fprintf(&b, "CREATE SCHEMA IF NOT EXISTS %s;\nCREATE EXTENSION IF NOT EXISTS %s WITH SCHEMA %s;\n",
					quoteIdent(e.schema), quoteIdent(e.name), quoteIdent(e.schema))
				count++
			}
		}
	}
	return b.String(), count
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// limitedBuffer collects up to max bytes and fails the write after that,
// which ends pg_dump (broken pipe) instead of letting it fill memory.
type limitedBuffer struct {
	bytes.Buffer
	max  int
	over bool
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.Len()+len(p) > l.max {
		l.over = true
		return 0, errors.New("dump too large")
	}
	return l.Buffer.Write(p)
}

// limitedWriter keeps the first n bytes and discards the rest.
type limitedWriter struct {
	w io.Writer
	n int
}

func (l *limitedWriter) Write(p []byte) (int, error) {
	if l.n > 0 {
		k := min(len(p), l.n)
		_, _ = l.w.Write(p[:k])
		l.n -= k
	}
	return len(p), nil
}
