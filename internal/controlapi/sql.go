package controlapi

import (
	"errors"
	"net/http"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
	"github.com/db9/db9/internal/web"
)

// decodeSQLRequest decodes and validates the body of POST .../sql.
func decodeSQLRequest(body []byte) (sqlexec.Request, error) {
	var req sqlexec.Request
	if err := web.Unmarshal(body, &req, false); err != nil {
		return req, err
	}
	if err := req.Validate(); err != nil {
		var re *sqlexec.RequestError
		if errors.As(err, &re) {
			return req, platform.Errorf(platform.CodeInvalid, "%s: %s", re.Field, re.Message)
		}
		return req, platform.Wrap(platform.CodeInvalid, err, "invalid request")
	}
	return req, nil
}

func (api *API) sql(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	req, err := decodeSQLRequest(body)
	if err != nil {
		return err
	}
	res, err := api.svc.RunSQL(r.Context(), p, r.PathValue("database_id"), req)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, res)
	return nil
}
