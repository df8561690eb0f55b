package controlapi

import (
	"net/http"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/web"
)

func (api *API) schema(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	raw, err := api.inside.Schema(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, raw)
	return nil
}

func (api *API) dump(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req struct {
		DDLOnly *bool `json:"ddl_only"`
	}
	if err := web.DecodeJSON(r, &req, true); err != nil {
		return err
	}
	d, err := api.inside.DumpDatabase(r.Context(), p, r.PathValue("database_id"), req.DDLOnly != nil && *req.DDLOnly)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"sql": d.SQL, "object_count": d.ObjectCount})
	return nil
}
