package controlapi

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/db9/db9/internal/control/functions"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/functions/bundle"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// Functions, bundles and invocations (API.md "Functions, secrets, cron");
// runs and logs are in runs.go, secrets in secrets.go.

// errFunctionsOff answers the routes of functions, runs and secrets when
// the server runs without function workers.
func errFunctionsOff() error {
	return platform.Errorf(platform.CodeNotImplemented, "functions are not enabled on this server")
}

// functionsHandlers serve functions: bundles, deploys, invocations.
type functionsHandlers struct {
	fn *functions.Functions // nil: the routes answer 501
}

func (h functionsHandlers) use() (*functions.Functions, error) {
	if h.fn == nil {
		return nil, errFunctionsOff()
	}
	return h.fn, nil
}

type functionJSON struct {
	ID               string         `json:"id"`
	Name             string         `json:"name"`
	VersionID        string         `json:"version_id"`
	Version          int            `json:"version"`
	Entrypoint       string         `json:"entrypoint"`
	BundleRef        string         `json:"bundle_ref"`
	BundleDigest     string         `json:"bundle_digest"`
	RunAs            string         `json:"run_as"`
	BypassRLS        bool           `json:"bypass_rls"`
	Limits           worker.Limits  `json:"limits"`
	NetworkAllowlist []string       `json:"network_allowlist"`
	FS9Scope         hostcall.Scope `json:"fs9_scope"`
	SecretBindings   []string       `json:"secret_bindings"`
	CronSchedule     *string        `json:"cron_schedule"`
	NextRunAt        *time.Time     `json:"next_run_at"`
	CreatedAt        time.Time      `json:"created_at"`
	UpdatedAt        time.Time      `json:"updated_at"`
}

func functionObject(f functions.FunctionInfo) functionJSON {
	return functionJSON{ID: f.ID, Name: f.Name, VersionID: f.VersionID, Version: f.Version, Entrypoint: f.Entrypoint,
		BundleRef: f.BundleRef, BundleDigest: f.BundleDigest, RunAs: f.RunAs, BypassRLS: f.BypassRLS, Limits: f.Limits,
		NetworkAllowlist: f.NetworkAllowlist, FS9Scope: f.FS9Scope, SecretBindings: f.SecretBindings,
		CronSchedule: optional(f.CronSchedule), NextRunAt: utcPtr(f.NextRunAt), CreatedAt: f.CreatedAt.UTC(), UpdatedAt: f.UpdatedAt.UTC()}
}

type runJSON struct {
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

func runObject(r functions.Run) runJSON {
	return runJSON{ID: r.ID, FunctionID: r.FunctionID, VersionID: r.VersionID, Status: r.Status, TriggerType: r.TriggerType,
		InputJSON: r.InputJSON, ResultJSON: r.ResultJSON, Error: r.Error, DurationMS: r.DurationMS,
		StartedAt: utcPtr(r.StartedAt), FinishedAt: utcPtr(r.FinishedAt)}
}

type functionRequestJSON struct {
	Name             *string         `json:"name"`
	Entrypoint       *string         `json:"entrypoint"`
	BundleRef        string          `json:"bundle_ref"`
	BundleDigest     *string         `json:"bundle_digest"`
	RunAs            *string         `json:"run_as"`
	BypassRLS        *bool           `json:"bypass_rls"`
	Limits           *worker.Limits  `json:"limits"`
	NetworkAllowlist *[]string       `json:"network_allowlist"`
	FS9Scope         *hostcall.Scope `json:"fs9_scope"`
	SecretBindings   *[]string       `json:"secret_bindings"`
	CronSchedule     *string         `json:"cron_schedule"`
}

func (b functionRequestJSON) request() functions.FunctionRequest {
	return functions.FunctionRequest{Name: b.Name, Entrypoint: b.Entrypoint, BundleRef: b.BundleRef, BundleDigest: b.BundleDigest,
		RunAs: b.RunAs, BypassRLS: b.BypassRLS, Limits: b.Limits, NetworkAllowlist: b.NetworkAllowlist, FS9Scope: b.FS9Scope,
		SecretBindings: b.SecretBindings, CronSchedule: b.CronSchedule}
}

func (h functionsHandlers) uploadBundle(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	fn, err := h.use()
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(http.MaxBytesReader(w, r.Body, bundle.MaxRaw+1))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return platform.Errorf(platform.CodeTooLarge, "a bundle is at most %d bytes", bundle.MaxRaw)
	}
	if err != nil {
		return platform.Wrap(platform.CodeInvalid, err, "could not read request body")
	}
	b, err := fn.UploadBundle(r.Context(), p, r.PathValue("database_id"), raw)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, map[string]any{"bundle_ref": b.BundleRef, "bundle_digest": b.BundleDigest, "size": b.Size})
	return nil
}

func (h functionsHandlers) createFunction(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	fn, err := h.use()
	if err != nil {
		return err
	}
	var body functionRequestJSON
	if err := web.DecodeJSON(r, &body, false); err != nil {
		return err
	}
	f, err := fn.CreateFunction(r.Context(), p, r.PathValue("database_id"), body.request())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, functionObject(f))
	return nil
}

func (h functionsHandlers) updateFunction(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	fn, err := h.use()
	if err != nil {
		return err
	}
	var body functionRequestJSON
	if err := web.DecodeJSON(r, &body, false); err != nil {
		return err
	}
	f, err := fn.UpdateFunction(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), body.request())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, functionObject(f))
	return nil
}

func (h functionsHandlers) listFunctions(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	fn, err := h.use()
	if err != nil {
		return err
	}
	fs, err := fn.ListFunctions(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	out := mapAll(fs, functionObject)
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h functionsHandlers) getFunction(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	fn, err := h.use()
	if err != nil {
		return err
	}
	f, err := fn.GetFunction(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, functionObject(f))
	return nil
}

func (h functionsHandlers) deleteFunction(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	fn, err := h.use()
	if err != nil {
		return err
	}
	if err := fn.DeleteFunction(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "function deleted"})
	return nil
}

func (h functionsHandlers) invokeFunction(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	fn, err := h.use()
	if err != nil {
		return err
	}
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	req, err := decodeInvokeRequest(body)
	if err != nil {
		return err
	}
	run, err := fn.Invoke(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), req)
	if err != nil {
		return err
	}
	writeRun(w, run)
	return nil
}
