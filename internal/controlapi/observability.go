package controlapi

import (
	"net/http"
	"strconv"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// WithObservability serves GET .../observability from obs; without it the
// route answers 501.
func (api *API) WithObservability(obs *control.Observability) *API {
	api.obs = obs
	return api
}

func (api *API) observability(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	if api.obs == nil {
		return platform.Errorf(platform.CodeNotImplemented, "observability is not enabled on this server")
	}
	window := control.ObsWindowDefault
	if v := r.URL.Query().Get("window"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil {
			return platform.Errorf(platform.CodeInvalid, "window must be a whole number of seconds between %d and %d", control.ObsWindowMin, control.ObsWindowMax)
		}
		window = n
	}
	rep, err := api.obs.Report(r.Context(), p, r.PathValue("database_id"), window)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, rep)
	return nil
}
