package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

type userJSON struct {
	Username  string     `json:"username"`
	CanLogin  bool       `json:"can_login"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

func (api *API) listUsers(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	us, err := api.svc.ListUsers(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = userJSON{Username: u.Username, CanLogin: u.CanLogin, CreatedAt: u.CreatedAt}
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (api *API) createUser(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	var req struct {
		Username *string `json:"username"`
		Password *string `json:"password"`
	}
	if err := web.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.Username == nil {
		return platform.Errorf(platform.CodeInvalid, "username: required")
	}
	pw := ""
	if req.Password != nil {
		pw = *req.Password
		if pw == "" {
			return platform.Errorf(platform.CodeInvalid, "password: must not be empty (omit it to have one generated)")
		}
	}
	pw, err := api.svc.CreateUser(r.Context(), p, r.PathValue("database_id"), *req.Username, pw)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, map[string]string{"username": *req.Username, "password": pw})
	return nil
}

func (api *API) deleteUser(w http.ResponseWriter, r *http.Request, p control.Principal) error {
	if err := api.svc.DeleteUser(r.Context(), p, r.PathValue("database_id"), r.PathValue("username")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "User deleted"})
	return nil
}
