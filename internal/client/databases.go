package client

import (
	"context"
	"encoding/json"
	"fmt"
	"time"
)

// Database is the database object of the API.
type Database struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	State            string     `json:"state"`
	StateReason      *string    `json:"state_reason"`
	Region           string     `json:"region"`
	CreatedAt        time.Time  `json:"created_at"`
	Host             string     `json:"host"`
	Port             int        `json:"port"`
	Database         string     `json:"database"`
	AdminUser        string     `json:"admin_user"`
	ConnectionString string     `json:"connection_string"`
	ParentDatabaseID *string    `json:"parent_database_id"`
	SnapshotAt       *time.Time `json:"snapshot_at"`
	// AdminPassword is set only by create (and by Credentials).
	AdminPassword string `json:"admin_password,omitempty"`
}

// Database states.
const (
	StateCreating     = "CREATING"
	StateActive       = "ACTIVE"
	StateCloning      = "CLONING"
	StateDisabling    = "DISABLING"
	StateDisabled     = "DISABLED"
	StateCreateFailed = "CREATE_FAILED"
)

// CreateDatabaseRequest is the body of POST /customer/databases.
type CreateDatabaseRequest struct {
	Name          string `json:"name"`
	Region        string `json:"region,omitempty"`
	AdminPassword string `json:"admin_password,omitempty"`
}

// DatabasesService is the databases of the caller: their life cycle,
// credentials, branches, schema, dumps and SQL over HTTP.
type DatabasesService service

// Credentials are a database's admin login.
type Credentials struct {
	AdminUser        string `json:"admin_user"`
	AdminPassword    string `json:"admin_password"`
	ConnectionString string `json:"connection_string"`
}

// Create creates a database; it is ACTIVE when this returns.
func (s *DatabasesService) Create(ctx context.Context, req CreateDatabaseRequest) (Database, error) {
	var d Database
	err := s.client.call(ctx, "POST", "/customer/databases", true, req, &d)
	return d, err
}

// List lists the caller's databases, newest first; all includes
// failed ones.
func (s *DatabasesService) List(ctx context.Context, all bool) ([]Database, error) {
	p := "/customer/databases"
	if all {
		p += "?all=true"
	}
	var ds []Database
	err := s.client.call(ctx, "GET", p, true, nil, &ds)
	return ds, err
}

// Get returns a database by id or name.
func (s *DatabasesService) Get(ctx context.Context, db string) (Database, error) {
	var d Database
	err := s.client.call(ctx, "GET", dbPath(db), true, nil, &d)
	return d, err
}

// Delete deletes a database by id or name.
func (s *DatabasesService) Delete(ctx context.Context, db string) (Message, error) {
	var m Message
	err := s.client.call(ctx, "DELETE", dbPath(db), true, nil, &m)
	return m, err
}

// ResetPassword gives the admin a new password; the old one stops working.
func (s *DatabasesService) ResetPassword(ctx context.Context, db string) (Credentials, error) {
	var cr Credentials
	err := s.client.call(ctx, "POST", dbPath(db, "reset-password"), true, nil, &cr)
	return cr, err
}

// Credentials returns the admin login of a database.
func (s *DatabasesService) Credentials(ctx context.Context, db string) (Credentials, error) {
	var cr Credentials
	err := s.client.call(ctx, "GET", dbPath(db, "credentials"), true, nil, &cr)
	return cr, err
}

// BranchRequest is the body of POST .../branch.
type BranchRequest struct {
	Name       string     `json:"name"`
	SnapshotAt *time.Time `json:"snapshot_at,omitempty"`
}

// Branch starts a branch of db; it is CLONING until it becomes ACTIVE or
// CREATE_FAILED (poll GetDatabase).
func (s *DatabasesService) Branch(ctx context.Context, db string, req BranchRequest) (Database, error) {
	var d Database
	err := s.client.call(ctx, "POST", dbPath(db, "branch"), true, req, &d)
	return d, err
}

// ConnectToken is a short-lived password for the PostgreSQL front door.
type ConnectToken struct {
	Host             string    `json:"host"`
	Port             int       `json:"port"`
	Database         string    `json:"database"`
	User             string    `json:"user"`
	Token            string    `json:"token"`
	ExpiresAt        time.Time `json:"expires_at"`
	ExpiresInSeconds int       `json:"expires_in_seconds"`
	TLS              any       `json:"tls"`
}

// ConnectToken mints a connect token for role (empty: admin).
func (s *DatabasesService) ConnectToken(ctx context.Context, db, role string) (ConnectToken, error) {
	in := map[string]string{}
	if role != "" {
		in["role"] = role
	}
	var t ConnectToken
	err := s.client.call(ctx, "POST", dbPath(db, "connect-token"), true, in, &t)
	return t, err
}

// Schema is the customer's tables and views (GET .../schema).
type Schema struct {
	Tables []Table `json:"tables"`
	Views  []View  `json:"views"`
}

// Table is a table of Schema.
type Table struct {
	Schema      string   `json:"schema"`
	Name        string   `json:"name"`
	Columns     []Column `json:"columns"`
	PrimaryKey  []string `json:"primary_key"`
	RowEstimate float64  `json:"row_estimate"`
}

// View is a view of Schema.
type View struct {
	Schema       string   `json:"schema"`
	Name         string   `json:"name"`
	Materialized bool     `json:"materialized"`
	Columns      []Column `json:"columns"`
}

// Column is a column of a table or view.
type Column struct {
	Name     string  `json:"name"`
	Type     string  `json:"type"`
	Nullable bool    `json:"nullable"`
	Default  *string `json:"default"`
	Position int     `json:"position"`
}

// Schema returns db's tables and views.
func (s *DatabasesService) Schema(ctx context.Context, db string) (Schema, error) {
	var sc Schema
	err := s.client.call(ctx, "GET", dbPath(db, "schema"), true, nil, &sc)
	return sc, err
}

// Dump is a database as SQL.
type Dump struct {
	SQL         string `json:"sql"`
	ObjectCount int    `json:"object_count"`
}

// Dump returns db's schemas (and data unless ddlOnly) as SQL.
func (s *DatabasesService) Dump(ctx context.Context, db string, ddlOnly bool) (Dump, error) {
	var d Dump
	err := s.client.call(ctx, "POST", dbPath(db, "dump"), true, map[string]bool{"ddl_only": ddlOnly}, &d)
	return d, err
}

// SQLRequest is the body of POST .../sql. FileContent, when not empty, is
// sent instead of Query; Params go only with Query.
type SQLRequest struct {
	Query       string
	FileContent string
	Params      []any
}

// MarshalJSON sends exactly one of query and file_content (an empty query
// is a valid request).
func (r SQLRequest) MarshalJSON() ([]byte, error) {
	if r.FileContent != "" {
		return json.Marshal(map[string]any{"file_content": r.FileContent})
	}
	m := map[string]any{"query": r.Query}
	if len(r.Params) > 0 {
		m["params"] = r.Params
	}
	return json.Marshal(m)
}

// SQLResult is the answer of POST .../sql. Rows keep each value's JSON as
// the API sent it. An SQL error is not a Go error: it is in Error.
type SQLResult struct {
	Columns   []SQLColumn         `json:"columns"`
	Rows      [][]json.RawMessage `json:"rows"`
	RowCount  int                 `json:"row_count"`
	Command   string              `json:"command"`
	Truncated bool                `json:"truncated,omitempty"`
	Error     *SQLError           `json:"error,omitempty"`
}

// SQLColumn names a result column and its PostgreSQL type.
type SQLColumn struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

// SQLError is PostgreSQL's error for SQL that failed.
type SQLError struct {
	Message  string `json:"message"`
	Code     string `json:"code"`
	Detail   string `json:"detail,omitempty"`
	Hint     string `json:"hint,omitempty"`
	Position int    `json:"position,omitempty"`
}

func (e *SQLError) Error() string {
	s := e.Message
	if e.Position > 0 {
		s += fmt.Sprintf(" at character %d", e.Position)
	}
	if e.Code != "" {
		s += " (SQLSTATE " + e.Code + ")"
	}
	if e.Detail != "" {
		s += "; DETAIL: " + e.Detail
	}
	if e.Hint != "" {
		s += "; HINT: " + e.Hint
	}
	return s
}

// SQL runs SQL on db. A PostgreSQL error is returned in the result's Error,
// with a nil Go error.
func (s *DatabasesService) SQL(ctx context.Context, db string, req SQLRequest) (SQLResult, error) {
	var r SQLResult
	err := s.client.call(ctx, "POST", dbPath(db, "sql"), true, req, &r)
	return r, err
}
