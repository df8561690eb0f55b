// Package schema holds fs9's storage inside each tenant database: tables in
// the platform schema _db9_fs and the SQL functions of FS9.md in schema
// extensions, as one idempotent script (docs/adr/0004-fs9-storage.md).
// It installs; it does not decide when (the server does: in the golden
// directory, and on an instance's start when Installed is older).
package schema

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
)

//go:embed sql/*.sql
var files embed.FS

// Release is bumped by hand for changes that need more than re-running the
// script (a migration step); the script's hash is part of Version anyway.
const Release = 1

var installSQL, version = build()

func build() (string, string) {
	names, err := fs.Glob(files, "sql/*.sql")
	if err != nil {
		panic(err)
	}
	sort.Strings(names)
	var b strings.Builder
	for _, n := range names {
		data, err := files.ReadFile(n)
		if err != nil {
			panic(err)
		}
		b.Write(data)
		b.WriteString("\n")
	}
	sum := sha256.Sum256([]byte(b.String()))
	v := fmt.Sprintf("%d-%s", Release, hex.EncodeToString(sum[:])[:12])
	b.WriteString("INSERT INTO _db9_fs.meta (key, value) VALUES ('version', '" + v + "')\n" +
		"  ON CONFLICT (key) DO UPDATE SET value = excluded.value;\n")
	return b.String(), v
}

// Version identifies the install script; Installed returns the version a
// database has.
func Version() string { return version }

// InstallSQL returns the whole install script: idempotent, run by the
// platform superuser in database postgres of an instance, as one
// simple-protocol message (one transaction). It needs roles admin and
// _db9_sys_readonly to exist.
func InstallSQL() string { return installSQL }

// Installed returns the fs9 version installed in the database, "" when
// none is.
func Installed(ctx context.Context, conn *pgconn.PgConn) (string, error) {
	res := conn.ExecParams(ctx, `SELECT value FROM _db9_fs.meta WHERE key = 'version'`, nil, nil, nil, nil).Read()
	if res.Err != nil {
		var pe *pgconn.PgError
		if errors.As(res.Err, &pe) && (pe.Code == "42P01" || pe.Code == "3F000") { // no table / no schema
			return "", nil
		}
		return "", fmt.Errorf("read fs9 version: %w", res.Err)
	}
	if len(res.Rows) == 0 {
		return "", nil
	}
	return string(res.Rows[0][0]), nil
}

// Install brings the database's fs9 to Version when it is not there yet.
// conn must be a superuser session over the private socket.
func Install(ctx context.Context, conn *pgconn.PgConn) error {
	v, err := Installed(ctx, conn)
	if err != nil {
		return err
	}
	if v == version {
		return nil
	}
	if _, err := conn.Exec(ctx, installSQL).ReadAll(); err != nil {
		return fmt.Errorf("install fs9 %s: %w", version, err)
	}
	return nil
}
