package platformsql

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

// Part is one subsystem's objects: SQL that the platform superuser can run
// again and again (CREATE ... IF NOT EXISTS, CREATE OR REPLACE, guarded DO
// blocks), in any database, old or new.
type Part struct {
	Name string
	SQL  string
}

// Set is every part, in the order they are applied, with one version.
type Set struct {
	parts   []Part
	version string
	script  string
}

// lockKey serialises concurrent applications in one database (an instance
// start and a golden build never race, but two server processes sharing an
// external catalog might).
const lockKey = 7439004

// baseSQL makes schema _db9, where the version is recorded. A schema of that
// name that the platform does not own (made by a tenant in a database older
// than the platform schema) is refused rather than trusted.
const baseSQL = `
DO $$ BEGIN
  IF EXISTS (SELECT 1 FROM pg_catalog.pg_namespace WHERE nspname = '_db9'
             AND nspowner <> (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)) THEN
    RAISE EXCEPTION 'schema _db9 is reserved for the platform' USING ERRCODE = 'D9R01';
  END IF;
END $$;
CREATE SCHEMA IF NOT EXISTS _db9;
REVOKE ALL ON SCHEMA _db9 FROM PUBLIC;
`

// New returns the set of parts, applied in the order given.
func New(parts ...Part) *Set {
	h := sha256.New()
	var b strings.Builder
	fmt.Fprintf(&b, "SELECT pg_catalog.pg_advisory_xact_lock(%d);\n", lockKey)
	b.WriteString(baseSQL)
	b.WriteString(releaseSQL)
	h.Write([]byte(baseSQL + releaseSQL))
	for _, p := range parts {
		fmt.Fprintf(h, "\x00%s\x00%s", p.Name, p.SQL)
		fmt.Fprintf(&b, "\n-- part %s\n%s\n;\n", p.Name, p.SQL)
	}
	// Every part's objects, whatever part made them, join the db9
	// pseudo-extension last (extension.go).
	b.WriteString(memberSQL)
	h.Write([]byte(memberSQL))
	s := &Set{parts: parts, version: hex.EncodeToString(h.Sum(nil))[:16]}
	fmt.Fprintf(&b, "COMMENT ON SCHEMA _db9 IS %s;\n", quoteLiteral(comment(s.version)))
	s.script = b.String()
	return s
}

// Version identifies the set's contents: it changes whenever a part does.
func (s *Set) Version() string { return s.version }

// Parts are the names of the parts, in order.
func (s *Set) Parts() []string {
	names := make([]string, len(s.parts))
	for i, p := range s.parts {
		names[i] = p.Name
	}
	return names
}

const commentPrefix = "db9 platform objects, version "

func comment(version string) string { return commentPrefix + version }

// Installed is the version recorded in the database the connection is to
// ("" when none was ever applied). conn is a platform superuser session.
func Installed(ctx context.Context, conn *pgconn.PgConn) (string, error) {
	rs := conn.ExecParams(ctx, `SELECT pg_catalog.obj_description(n.oid, 'pg_namespace')
		FROM pg_catalog.pg_namespace n WHERE n.nspname = '_db9'
		AND n.nspowner = (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user)`, nil, nil, nil, nil)
	var got string
	for rs.NextRow() {
		got = string(rs.Values()[0])
	}
	if _, err := rs.Close(); err != nil {
		return "", fmt.Errorf("read platform version: %w", err)
	}
	return strings.TrimPrefix(got, commentPrefix), nil
}

// reservedCode is the SQLSTATE baseSQL raises when a tenant owns _db9.
const reservedCode = "D9R01"

// ErrReserved reports a database in which a tenant made schema _db9 first.
var ErrReserved = errors.New("schema _db9 is reserved for the platform")

// Apply runs every part and records the version, in one transaction (one
// simple-protocol message): a database has all of a version or none of it.
// conn is a platform superuser session.
func (s *Set) Apply(ctx context.Context, conn *pgconn.PgConn) error {
	if _, err := conn.Exec(ctx, s.script).ReadAll(); err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) && pe.Code == reservedCode {
			return fmt.Errorf("apply platform objects: %w", ErrReserved)
		}
		return fmt.Errorf("apply platform objects %s: %w", s.version, err)
	}
	return nil
}

// Ensure applies the set unless the database already has this version; it
// reports whether it applied it.
func (s *Set) Ensure(ctx context.Context, conn *pgconn.PgConn) (bool, error) {
	v, err := Installed(ctx, conn)
	if err != nil {
		return false, err
	}
	if v == s.version {
		return false, nil
	}
	return true, s.Apply(ctx, conn)
}

func quoteLiteral(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
