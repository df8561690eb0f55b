// Package schema holds fs9's storage inside each tenant database: tables in
// the platform schema _db9_fs and the SQL functions of FS9.md in schema
// extensions, as one idempotent script (docs/adr/0004-fs9-storage.md).
// It installs; it does not decide when (the server does: in the golden
// directory, and on an instance's start when Installed is older).
package schema

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"sort"
	"strings"
)

//go:embed sql/*.sql
var files embed.FS

// Release is bumped by hand for changes that need more than re-running the
// script (a migration step); the script's hash is part of the version it records anyway.
const Release = 1

var installSQL = build()

// build joins the scripts and records their version (Release and a hash
// of the text) in _db9_fs.meta.
func build() string {
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
	return b.String()
}

// InstallSQL returns the whole install script: idempotent, run by the
// platform superuser in database postgres of an instance, as one
// simple-protocol message (one transaction). It needs roles admin and
// _db9_sys_readonly to exist.
func InstallSQL() string { return installSQL }
