package controlapi

import (
	"net/http"
	"strconv"

	"github.com/db9/db9/internal/control/observability"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// WithObservability serves GET .../observability from obs; without it the
// route answers 501. Call it before Register.
func (api *API) WithObservability(obs *observability.Observability) *API {
	api.obs = obs
	return api
}

// observabilityHandlers serve GET .../observability.
type observabilityHandlers struct {
	obs *observability.Observability // nil: answers 501
}

func (h observabilityHandlers) observability(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	if h.obs == nil {
		return platform.Errorf(platform.CodeNotImplemented, "observability is not enabled on this server")
	}
	window := observability.ObsWindowDefault
	if v := r.URL.Query().Get("window"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return platform.Errorf(platform.CodeInvalid, "window must be a whole number of seconds between %d and %d", observability.ObsWindowMin, observability.ObsWindowMax)
		}
		window = n
	}
	rep, err := h.obs.Report(r.Context(), p, r.PathValue("database_id"), window)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rep)
	return nil
}
