package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/web"
)

type fsConnectJSON struct {
	WSURL     string    `json:"ws_url"`
	Username  string    `json:"username"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// fsConnect is POST .../fs-connect {role?}: a connect token for the fs9
// WebSocket protocol (API.md "Files (fs9)").
func (h wireHandlers) fsConnect(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	pg, err := h.use()
	if err != nil {
		return err
	}
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	role, err := decodeConnectTokenRequest(body) // the same {role?} body
	if err != nil {
		return err
	}
	c, err := pg.FSConnect(r.Context(), p, r.PathValue("database_id"), role)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, fsConnectJSON{WSURL: c.WSURL, Username: c.Username, Token: c.Token, ExpiresAt: c.ExpiresAt})
	return nil
}
