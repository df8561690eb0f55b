package controlapi

import (
	"net/http"

	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/web"
)

func (h sqlHandlers) schema(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	raw, err := h.inside.Schema(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, raw)
	return nil
}

func (h sqlHandlers) dump(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	var req struct {
		DDLOnly *bool `json:"ddl_only"`
	}
	if err := web.DecodeJSON(r, &req, true); err != nil {
		return err
	}
	d, err := h.inside.DumpDatabase(r.Context(), p, r.PathValue("database_id"), req.DDLOnly != nil && *req.DDLOnly)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"sql": d.SQL, "object_count": d.ObjectCount})
	return nil
}
