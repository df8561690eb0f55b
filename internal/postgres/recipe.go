package postgres

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgbin"
)

// Superuser is the platform's own superuser inside every instance. It is
// used only over the private socket; tenants never learn its name matters.
const Superuser = "_db9_super"

// AdminRole is the tenant's owner role: owns database postgres and schema
// public, BYPASSRLS, and deliberately neither SUPERUSER nor CREATEROLE (on
// PostgreSQL 15 either one lets a tenant run programs on the host).
const AdminRole = "admin"

// ReadOnlyRole is the role SQL runs as for read-only API tokens.
const ReadOnlyRole = "_db9_sys_readonly"

// instanceSettings are the lean settings of every tenant instance, appended
// to the golden postgresql.conf. Tenants may override the timeouts per
// session.
var instanceSettings = []string{
	"listen_addresses = ''",
	"unix_socket_permissions = 0700",
	"max_connections = 50",
	"superuser_reserved_connections = 3",
	"shared_buffers = 16MB",
	"effective_cache_size = 256MB",
	"work_mem = 4MB",
	"maintenance_work_mem = 32MB",
	"max_worker_processes = 4",
	"max_parallel_workers = 2",
	"max_parallel_workers_per_gather = 1",
	"autovacuum_max_workers = 1",
	"min_wal_size = 2MB",
	"max_wal_size = 64MB",
	"wal_level = replica",
	// Full-page images compressed: several times less WAL to write,
	// archive, keep for the retention window and replay into branches, at
	// no measurable cost in throughput.
	"wal_compression = lz4",
	"max_wal_senders = 2",
	"shared_preload_libraries = 'pg_stat_statements'",
	"statement_timeout = 60s",
	"idle_in_transaction_session_timeout = 60s",
	"password_encryption = 'scram-sha-256'",
	"timezone = 'UTC'",
	"log_timezone = 'UTC'",
	"log_min_messages = warning",
	"log_line_prefix = '%m [%p] '",
	"huge_pages = off",
	"bytea_output = 'hex'",
	// fs9's SQL functions (FS9.md) are called unqualified.
	"search_path = '" + SearchPath + "'",
}

// SearchPath is the default search path of tenant sessions: fs9's
// functions in schema extensions resolve unqualified (FS9.md). It is in the
// recipe's settings and also passed at every start, so databases made by an
// older recipe have it too.
const SearchPath = `"$user", public, extensions`

// goldenHBA trusts the private socket (ARCHITECTURE §2), including the
// platform superuser's replication connections that pg_basebackup uses.
const goldenHBA = "local all all trust\nlocal replication all trust\n"

// goldenSetupSQL runs once, as the platform superuser, in the golden cluster.
var goldenSetupSQL = []string{
	`CREATE ROLE admin LOGIN BYPASSRLS NOSUPERUSER NOCREATEROLE NOCREATEDB NOREPLICATION`,
	`CREATE ROLE anon NOLOGIN NOINHERIT`,
	`CREATE ROLE authenticated NOLOGIN NOINHERIT`,
	`GRANT anon, authenticated TO admin`,
	`CREATE ROLE _db9_sys_readonly LOGIN`,
	`GRANT pg_read_all_data TO _db9_sys_readonly`,
	`ALTER ROLE _db9_sys_readonly SET default_transaction_read_only = on`,
	`ALTER DATABASE postgres OWNER TO admin`,
	`ALTER SCHEMA public OWNER TO admin`,
	`REVOKE ALL ON DATABASE template1 FROM PUBLIC`,
	`CREATE SCHEMA extensions`,
	`GRANT USAGE ON SCHEMA extensions TO PUBLIC`,
	`CREATE EXTENSION pg_stat_statements SCHEMA extensions`,
	`CREATE SCHEMA auth`,
	`GRANT USAGE ON SCHEMA auth TO PUBLIC`,
	`CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
	  SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $$`,
	`CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
	  SELECT nullif(coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), auth.jwt() ->> 'sub'), '')::uuid $$`,
	`CREATE FUNCTION auth.role() RETURNS text LANGUAGE sql STABLE AS $$
	  SELECT coalesce(nullif(current_setting('request.jwt.claim.role', true), ''), auth.jwt() ->> 'role') $$`,
	`GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA auth TO PUBLIC`,
	// template0 is of no use inside a tenant instance (admin may not create
	// databases) and is a large part of every copy a database, a branch
	// or a backup makes (docs/adr/0003).
	`ALTER DATABASE template0 IS_TEMPLATE false`,
	`DROP DATABASE template0`,
	`CHECKPOINT`,
}

// RecipeVersion identifies the recipe of tenant instances; a golden
// directory built by another recipe is rebuilt (existing databases are
// untouched).
func RecipeVersion() string {
	h := sha256.New()
	h.Write([]byte(goldenHBA))
	for _, s := range instanceSettings {
		h.Write([]byte(s + "\n"))
	}
	for _, s := range goldenSetupSQL {
		h.Write([]byte(s + ";\n"))
	}
	return hex.EncodeToString(h.Sum(nil))[:16]
}

// RecipeMarker is the file in a data directory built by BuildTemplate
// that names the recipe version it was built by.
const RecipeMarker = "db9_golden_version"

// BuildTemplate builds a template ("golden") data directory in dir by the
// current recipe: initdb, the instance settings, the roles and schemas of
// goldenSetupSQL run in a postmaster started on socketDir, a clean
// shutdown, and no spent WAL. dir must not exist; on error it may be left
// half made (build beside the final place and rename).
func BuildTemplate(ctx context.Context, bin pgbin.Bin, runAs pgbin.RunAs, dir, socketDir string, log *slog.Logger, extra Extra) error {
	if err := InitDB(ctx, bin, runAs, dir, Superuser, 1); err != nil {
		return err
	}
	conf, err := os.OpenFile(filepath.Join(dir, "postgresql.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, err = conf.WriteString("\n# db9 instance settings\n" + strings.Join(instanceSettings, "\n") + "\n")
	if cerr := conf.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write golden config: %w", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "pg_hba.conf"), []byte(goldenHBA), 0o600); err != nil {
		return err
	}
	if err := runAs.Chown(filepath.Join(dir, "pg_hba.conf")); err != nil {
		return err
	}
	pm, err := Start(ctx, Options{Bin: bin, RunAs: runAs, DataDir: dir, SocketDir: socketDir, Logger: log})
	if err != nil {
		return fmt.Errorf("start golden: %w", err)
	}
	err = runSetup(ctx, socketDir, goldenSetupSQL)
	if err == nil && extra.Apply != nil {
		err = applyExtra(ctx, socketDir, extra)
	}
	if stopErr := pm.Stop(30 * time.Second); err == nil && stopErr != nil {
		err = fmt.Errorf("stop golden: %w", stopErr)
	}
	if err != nil {
		return err
	}
	if err := trimWAL(ctx, bin, dir); err != nil {
		return err
	}
	if extra.Apply != nil {
		if err := WriteMarker(dir, PlatformMarker, extra.Version, runAs); err != nil {
			return err
		}
	}
	return WriteMarker(dir, RecipeMarker, Recipe(extra.Version), runAs)
}

// Extra is what a template gets beyond the recipe: the platform's objects
// inside every database (internal/platformsql), applied as the superuser
// after the recipe's own setup.
type Extra struct {
	Version string
	Apply   func(ctx context.Context, conn *pgconn.PgConn) error
}

// Recipe is the version of templates built by this recipe with extras of
// extraVersion ("" for none).
func Recipe(extraVersion string) string {
	if extraVersion == "" {
		return RecipeVersion()
	}
	return RecipeVersion() + "-" + extraVersion
}

// PlatformMarker is the file in a data directory that names the version of
// the platform objects the database holds (see Extra). Being in the data
// directory, copies, base backups and branches carry it with the objects.
const PlatformMarker = "db9_platform_version"

// ReadMarker returns a marker file's content ("" when missing).
func ReadMarker(dir, name string) string {
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// WriteMarker writes a marker file, owned by the instances' OS user (base
// backups read every file of the data directory as that user).
func WriteMarker(dir, name, value string, runAs pgbin.RunAs) error {
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(value+"\n"), 0o600); err != nil {
		return err
	}
	return runAs.Chown(p)
}

func applyExtra(ctx context.Context, sock string, extra Extra) error {
	conn, err := pgconn.Connect(ctx, SuperuserConnString(sock))
	if err != nil {
		return fmt.Errorf("connect golden: %w", err)
	}
	defer conn.Close(ctx)
	return extra.Apply(ctx, conn)
}

// BuiltBy returns the recipe version a data directory made by
// BuildTemplate was built by ("" when it has no marker).
func BuiltBy(dir string) string {
	b, err := os.ReadFile(filepath.Join(dir, RecipeMarker))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func runSetup(ctx context.Context, sock string, stmts []string) error {
	conn, err := pgconn.Connect(ctx, SuperuserConnString(sock))
	if err != nil {
		return fmt.Errorf("connect golden: %w", err)
	}
	defer conn.Close(ctx)
	for _, s := range stmts {
		if _, err := conn.Exec(ctx, s).ReadAll(); err != nil {
			return fmt.Errorf("golden setup %q: %w", firstLine(s), err)
		}
	}
	return nil
}

// superuserOptions override, for the platform's own sessions, the defaults
// that admin may set with ALTER DATABASE postgres SET (as the database's
// owner): startup options outrank per-database settings. Without them a
// tenant decides which role platform sessions run as, which functions
// their unqualified names resolve to, and can make them fail.
const superuserOptions = "-c role=none -c search_path=pg_catalog,pg_temp -c default_transaction_read_only=off -c local_preload_libraries="

// SuperuserConnString is the connection string of a platform session as
// Superuser on the cluster listening in socketDir.
func SuperuserConnString(socketDir string) string {
	return ConnString(socketDir, Superuser) + " options='" + superuserOptions + "'"
}

// ConnString is the connection string of a session as user, database
// postgres, on the cluster listening in socketDir.
func ConnString(socketDir, user string) string {
	return fmt.Sprintf("host=%s port=%d user=%s dbname=postgres sslmode=disable application_name=db9", socketDir, layout.Port, user)
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// trimWAL removes the WAL segments a cleanly shut down cluster no longer
// needs — all but the one holding its shutdown checkpoint (older ones are
// spent, newer ones are preallocated and empty) — so every copy of the
// golden directory is smaller. PostgreSQL creates segments as it needs them.
func trimWAL(ctx context.Context, bin pgbin.Bin, dataDir string) error {
	cd, err := controlData(ctx, bin, dataDir)
	if err != nil {
		return err
	}
	if st := cd["Database cluster state"]; st != "shut down" {
		return fmt.Errorf("golden cluster not cleanly shut down: %s", st)
	}
	redo := cd[redoKey]
	if len(redo) != 24 {
		return fmt.Errorf("pg_controldata: no REDO WAL file in output")
	}
	entries, err := os.ReadDir(filepath.Join(dataDir, "pg_wal"))
	if err != nil {
		return err
	}
	for _, e := range entries {
		if n := e.Name(); len(n) == 24 && !e.IsDir() && n != redo {
			if err := os.Remove(filepath.Join(dataDir, "pg_wal", n)); err != nil {
				return err
			}
		}
	}
	return nil
}

const redoKey = "Latest checkpoint's REDO WAL file"

// controlData runs pg_controldata on a data directory.
func controlData(ctx context.Context, bin pgbin.Bin, dataDir string) (map[string]string, error) {
	out, err := exec.CommandContext(ctx, bin.Path("pg_controldata"), "-D", dataDir).Output()
	if err != nil {
		return nil, fmt.Errorf("pg_controldata: %w", err)
	}
	m := map[string]string{}
	for _, line := range strings.Split(string(out), "\n") {
		if k, v, ok := strings.Cut(line, ":"); ok {
			m[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return m, nil
}

// RedoSegment reads the WAL segment of the latest checkpoint's redo point
// of a stopped data directory: where replay from a copy of it starts.
func RedoSegment(ctx context.Context, bin pgbin.Bin, dataDir string) (string, error) {
	cd, err := controlData(ctx, bin, dataDir)
	if err != nil {
		return "", err
	}
	if s := cd[redoKey]; len(s) == 24 {
		return s, nil
	}
	return "", fmt.Errorf("pg_controldata: no REDO WAL file in output")
}

// SetRolePassword sets a role's password as a SCRAM verifier computed
// here, so the plaintext never reaches the instance (its logs or
// pg_stat_statements).
func SetRolePassword(ctx context.Context, conn *pgconn.PgConn, role, password string) error {
	if _, err := conn.Exec(ctx, SetPasswordSQL(role, auth.SCRAMVerifier(password))).ReadAll(); err != nil {
		return fmt.Errorf("set password of %s: %w", role, err)
	}
	return nil
}

// SetPasswordSQL is the statement that gives role the SCRAM verifier.
func SetPasswordSQL(role, verifier string) string {
	return fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", QuoteIdent(role), verifier)
}

// QuoteIdent quotes an SQL identifier.
func QuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }
