package client

import (
	"context"
	"encoding/json"
	"net/url"
	"strconv"
	"time"
)

// Bundle is the answer of POST .../functions/bundles.
type Bundle struct {
	BundleRef    string `json:"bundle_ref"`
	BundleDigest string `json:"bundle_digest"`
	Size         int64  `json:"size"`
}

// FunctionLimits are a function's hard limits.
type FunctionLimits struct {
	TimeoutMS int `json:"timeout_ms"`
	MemoryMB  int `json:"memory_mb"`
}

// FS9Scope are the fs9 path prefixes a function may read and write.
type FS9Scope struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
}

// Function is the function object of the API.
type Function struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	VersionID        string         `json:"version_id"`
	Version          int            `json:"version"`
	Entrypoint       string         `json:"entrypoint"`
	BundleRef        string         `json:"bundle_ref"`
	BundleDigest     string         `json:"bundle_digest"`
	RunAs            string         `json:"run_as"`
	BypassRLS        bool           `json:"bypass_rls"`
	Limits           FunctionLimits `json:"limits"`
	NetworkAllowlist []string       `json:"network_allowlist"`
	FS9Scope         FS9Scope       `json:"fs9_scope"`
	SecretBindings   []string       `json:"secret_bindings"`
	CronSchedule     *string        `json:"cron_schedule"`
	NextRunAt        *time.Time     `json:"next_run_at"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

// FunctionRequest is the body of POST .../functions and PUT
// .../functions/{id}: nil fields are left out (the server's default on
// create, unchanged on update). Name is for create only.
type FunctionRequest struct {
	Name             *string         `json:"name,omitempty"`
	Entrypoint       *string         `json:"entrypoint,omitempty"`
	BundleRef        string          `json:"bundle_ref"`
	BundleDigest     *string         `json:"bundle_digest,omitempty"`
	RunAs            *string         `json:"run_as,omitempty"`
	BypassRLS        *bool           `json:"bypass_rls,omitempty"`
	Limits           *FunctionLimits `json:"limits,omitempty"`
	NetworkAllowlist *[]string       `json:"network_allowlist,omitempty"`
	FS9Scope         *FS9Scope       `json:"fs9_scope,omitempty"`
	SecretBindings   *[]string       `json:"secret_bindings,omitempty"`
	CronSchedule     *string         `json:"cron_schedule,omitempty"`
}

// Run is the run object of the API.
type Run struct {
	ID          string     `json:"id"`
	FunctionID  string     `json:"function_id"`
	VersionID   string     `json:"version_id"`
	Status      string     `json:"status"`
	TriggerType string     `json:"trigger_type"`
	InputJSON   *string    `json:"input_json"`
	ResultJSON  *string    `json:"result_json"`
	Error       *string    `json:"error"`
	DurationMS  *int64     `json:"duration_ms"`
	StartedAt   *time.Time `json:"started_at"`
	FinishedAt  *time.Time `json:"finished_at"`
}

// Run states.
const (
	RunQueued    = "queued"
	RunRunning   = "running"
	RunSucceeded = "succeeded"
	RunFailed    = "failed"
	RunTimedOut  = "timed_out"
)

// RunLog is one line of a run's log.
type RunLog struct {
	TS      time.Time `json:"ts"`
	Level   string    `json:"level"`
	Message string    `json:"message"`
}

// FunctionsService is a database's functions: deploying them (bundles,
// versions), invoking them and reading their runs and logs.
type FunctionsService service

func fnPath(db, fn string, suffix ...string) string {
	return dbPath(db, append([]string{"functions", url.PathEscape(fn)}, suffix...)...)
}

// UploadBundle uploads a bundle: one JavaScript file or a zip.
func (s *FunctionsService) UploadBundle(ctx context.Context, db string, raw []byte) (Bundle, error) {
	var b Bundle
	err := s.client.callBody(ctx, "POST", dbPath(db, "functions", "bundles"), true, "application/octet-stream", raw, &b)
	return b, err
}

// Create deploys a new function.
func (s *FunctionsService) Create(ctx context.Context, db string, req FunctionRequest) (Function, error) {
	var f Function
	err := s.client.call(ctx, "POST", dbPath(db, "functions"), true, req, &f)
	return f, err
}

// Update deploys a new version of a function (id or name).
func (s *FunctionsService) Update(ctx context.Context, db, fn string, req FunctionRequest) (Function, error) {
	req.Name = nil
	var f Function
	err := s.client.call(ctx, "PUT", fnPath(db, fn), true, req, &f)
	return f, err
}

// List lists a database's functions.
func (s *FunctionsService) List(ctx context.Context, db string) ([]Function, error) {
	var fs []Function
	err := s.client.call(ctx, "GET", dbPath(db, "functions"), true, nil, &fs)
	return fs, err
}

// Get returns a function by id or name.
func (s *FunctionsService) Get(ctx context.Context, db, fn string) (Function, error) {
	var f Function
	err := s.client.call(ctx, "GET", fnPath(db, fn), true, nil, &f)
	return f, err
}

// Delete deletes a function, its schedule and its runs.
func (s *FunctionsService) Delete(ctx context.Context, db, fn string) (Message, error) {
	var m Message
	err := s.client.call(ctx, "DELETE", fnPath(db, fn), true, nil, &m)
	return m, err
}

// Invoke runs a function and returns the ended run. input is JSON
// (nil: none); a non-empty key makes the call idempotent.
func (s *FunctionsService) Invoke(ctx context.Context, db, fn string, input json.RawMessage, idempotencyKey string) (Run, error) {
	body := struct {
		Input          json.RawMessage `json:"input,omitempty"`
		IdempotencyKey string          `json:"idempotency_key,omitempty"`
	}{input, idempotencyKey}
	var r Run
	err := s.client.call(ctx, "POST", fnPath(db, fn, "invoke"), true, body, &r)
	return r, err
}

// ListRuns lists a function's runs, newest first; limit 0 and status ""
// are the server's defaults (50, any).
func (s *FunctionsService) ListRuns(ctx context.Context, db, fn string, limit int, status string) ([]Run, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if status != "" {
		q.Set("status", status)
	}
	p := fnPath(db, fn, "runs")
	if len(q) > 0 {
		p += "?" + q.Encode()
	}
	var rs []Run
	err := s.client.call(ctx, "GET", p, true, nil, &rs)
	return rs, err
}

// GetRun returns one run.
func (s *FunctionsService) GetRun(ctx context.Context, db, fn, run string) (Run, error) {
	var r Run
	err := s.client.call(ctx, "GET", fnPath(db, fn, "runs", url.PathEscape(run)), true, nil, &r)
	return r, err
}

// RunLogs returns a run's log lines in order.
func (s *FunctionsService) RunLogs(ctx context.Context, db, fn, run string) ([]RunLog, error) {
	var ls []RunLog
	err := s.client.call(ctx, "GET", fnPath(db, fn, "runs", url.PathEscape(run), "logs"), true, nil, &ls)
	return ls, err
}
