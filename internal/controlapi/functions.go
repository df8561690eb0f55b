package controlapi

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/functions/bundle"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// Functions, runs, logs and secrets (API.md "Functions, secrets, cron").

func (api *API) functions() (*control.Functions, error) {
	if api.fn == nil {
		return nil, platform.Errorf(platform.CodeNotImplemented, "functions are not enabled on this server")
	}
	return api.fn, nil
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

func functionObject(f control.FunctionInfo) functionJSON {
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

func runObject(r control.Run) runJSON {
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

func (b functionRequestJSON) request() control.FunctionRequest {
	return control.FunctionRequest{Name: b.Name, Entrypoint: b.Entrypoint, BundleRef: b.BundleRef, BundleDigest: b.BundleDigest,
		RunAs: b.RunAs, BypassRLS: b.BypassRLS, Limits: b.Limits, NetworkAllowlist: b.NetworkAllowlist, FS9Scope: b.FS9Scope,
		SecretBindings: b.SecretBindings, CronSchedule: b.CronSchedule}
}

func (api *API) uploadBundle(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
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

func (api *API) createFunction(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
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

func (api *API) updateFunction(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
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

func (api *API) listFunctions(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
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

func (api *API) getFunction(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
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

func (api *API) deleteFunction(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	if err := fn.DeleteFunction(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "function deleted"})
	return nil
}

func (api *API) invokeFunction(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	var body struct {
		Input          json.RawMessage `json:"input"`
		IdempotencyKey string          `json:"idempotency_key"`
	}
	if err := web.DecodeJSON(r, &body, true); err != nil {
		return err
	}
	run, err := fn.Invoke(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"),
		control.InvokeRequest{Input: body.Input, IdempotencyKey: body.IdempotencyKey})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, runObject(run))
	return nil
}

func (api *API) listRuns(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			return platform.Errorf(platform.CodeInvalid, "limit: must be a positive number")
		}
	}
	runs, err := fn.ListRuns(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), r.URL.Query().Get("status"), limit)
	if err != nil {
		return err
	}
	out := mapAll(runs, runObject)
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (api *API) getRun(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	run, err := fn.GetRun(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), r.PathValue("run_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, runObject(run))
	return nil
}

func (api *API) runLogs(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	logs, err := fn.RunLogs(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), r.PathValue("run_id"))
	if err != nil {
		return err
	}
	type logJSON struct {
		TS      time.Time `json:"ts"`
		Level   string    `json:"level"`
		Message string    `json:"message"`
	}
	out := make([]logJSON, len(logs))
	for i, l := range logs {
		out[i] = logJSON{TS: l.TS.UTC(), Level: l.Level, Message: l.Message}
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

type secretJSON struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func secretObject(s control.SecretInfo) secretJSON {
	return secretJSON{Name: s.Name, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
}

func (api *API) listSecrets(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	ss, err := fn.ListSecrets(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	out := mapAll(ss, secretObject)
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (api *API) putSecret(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	var body struct {
		Value *string `json:"value"`
	}
	if err := web.DecodeJSON(r, &body, false); err != nil {
		return err
	}
	if body.Value == nil {
		return platform.Errorf(platform.CodeInvalid, "value: required")
	}
	s, err := fn.PutSecret(r.Context(), p, r.PathValue("database_id"), r.PathValue("name"), *body.Value)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, secretObject(s))
	return nil
}

func (api *API) deleteSecret(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	fn, err := api.functions()
	if err != nil {
		return err
	}
	if err := fn.DeleteSecret(r.Context(), p, r.PathValue("database_id"), r.PathValue("name")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "secret deleted"})
	return nil
}
