package logkey

// Who and what a line is about.
const (
	// Component names the part of db9 that logs: server, http, control,
	// instance, postgres, catalog, proxy, ... Set once per component with
	// slog.Logger.With.
	Component = "component"
	// DB is a database id (its instance, its archive, its branch).
	DB = "db"
	// Parent is the database id a branch is made from.
	Parent = "parent"
	// Customer is a customer (account) id.
	Customer = "customer"
	// Token is an API token's id, never its secret.
	Token = "token"
	// Key is a data plane (publishable or service) key's id, never its
	// secret.
	Key = "key"
	// Role is a PostgreSQL role name.
	Role = "role"
	// Dir is a directory on disk (golden copies, instance directories).
	Dir = "dir"
	// DataDir is db9's data directory.
	DataDir = "data_dir"
	// Source says where restored data came from (the parent's archive, ...).
	Source = "source"
	// From is the id a thing came from (the anonymous account whose
	// databases were adopted).
	From = "from"
	// SnapshotAt is the moment a branch reaches back to.
	SnapshotAt = "snapshot_at"
	// Function is a function's id; Run is the id of one of its runs, Tick
	// the scheduled moment a run is for.
	Function = "function"
	Run      = "run"
	Tick     = "tick"
	// Version is a version of the platform's objects inside a database.
	Version = "version"
	// BaseBackup is the name of a base backup.
	BaseBackup = "base_backup"
)

// Requests and sessions.
const (
	// ReqID is the HTTP request id (also sent as X-Request-Id).
	ReqID = "req_id"
	// Method is the HTTP method of a request, or the authentication
	// method of a wire session.
	Method = "method"
	// Path is the HTTP request path.
	Path = "path"
	// Status is the HTTP status sent, or the outcome of a function run.
	Status = "status"
	// Code is the platform error code (platform.Code) of a failure.
	Code = "code"
	// SQLState is the SQLSTATE sent to a PostgreSQL client.
	SQLState = "sqlstate"
	// Stage is the step a wire connection or a restore was in.
	Stage = "stage"
	// PID is the process id of a child process (a function worker).
	PID = "pid"
	// Line is a line a child process wrote to its stderr.
	Line = "line"
	// Op is the operation a request or host call asked for (fs9, functions).
	Op = "op"
	// Err is the error; its text is for operators only.
	Err = "err"
)

// Addresses and versions at start.
const (
	HTTPAddr = "http_addr" // REST API listen address
	PGAddr   = "pg_addr"   // wire front door listen address
	FS9Addr  = "fs9_addr"  // fs9 WebSocket listen address ("" when none)
	Addr     = "addr"      // another address (an origin functions may fetch)
	Postgres = "postgres"  // directory of the PostgreSQL binaries
	Major    = "major"     // PostgreSQL major version
	OSUser   = "os_user"   // OS user PostgreSQL runs as
)

// Quantities. Durations are whole milliseconds in keys ending in _ms.
const (
	Ms        = "ms"         // how long the logged step took
	Seconds   = "s"          // how long a session lasted, whole seconds
	StartupMs = "startup_ms" // wire session: from accept to ready for queries
	Bytes     = "bytes"
	Count     = "count"
	Backups   = "backups"   // base backups pruned
	WALFiles  = "wal_files" // WAL segments pruned
)

// The steps of a restore (a branch made from its parent's archive), each a
// duration in milliseconds except WALMB, Standby and Fed.
const (
	CopyMs    = "copy_ms"
	StageMs   = "stage_ms"
	PrepareMs = "prepare_ms"
	ReplayMs  = "replay_ms"
	FinishMs  = "finish_ms"
	TotalMs   = "total_ms"
	WALMB     = "wal_mb"  // WAL staged ahead of replay, MB
	Standby   = "standby" // replayed in standby mode from WAL staged into pg_wal, not by restore_command
	Fed       = "fed"     // WAL was still being fed when replay started
)
