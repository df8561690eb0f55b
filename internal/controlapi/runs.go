package controlapi

import (
	"net/http"
	"strconv"
	"time"

	"github.com/db9/db9/internal/control/functions"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// runsHandlers serve a function's runs and their logs.
type runsHandlers struct {
	runs *functions.Runs // nil: the routes answer 501
}

func (h runsHandlers) use() (*functions.Runs, error) {
	if h.runs == nil {
		return nil, errFunctionsOff()
	}
	return h.runs, nil
}

func (h runsHandlers) listRuns(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	runs, err := h.use()
	if err != nil {
		return err
	}
	limit := 0
	if s := r.URL.Query().Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			return platform.Errorf(platform.CodeInvalid, "limit: must be a positive number")
		}
	}
	list, err := runs.ListRuns(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), r.URL.Query().Get("status"), limit)
	if err != nil {
		return err
	}
	writeRuns(w, list)
	return nil
}

func (h runsHandlers) getRun(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	runs, err := h.use()
	if err != nil {
		return err
	}
	run, err := runs.GetRun(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), r.PathValue("run_id"))
	if err != nil {
		return err
	}
	writeRun(w, run)
	return nil
}

func (h runsHandlers) runLogs(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	runs, err := h.use()
	if err != nil {
		return err
	}
	logs, err := runs.RunLogs(r.Context(), p, r.PathValue("database_id"), r.PathValue("function_id"), r.PathValue("run_id"))
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
