package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// userJSON is a listed user; name repeats username because DB9's SDK
// reads name.
type userJSON struct {
	Username      string     `json:"username"`
	Name          string     `json:"name"`
	CanLogin      bool       `json:"can_login"`
	IsSuperuser   bool       `json:"is_superuser"`
	CanCreateDB   bool       `json:"can_create_db"`
	CanCreateRole bool       `json:"can_create_role"`
	CreatedAt     *time.Time `json:"created_at,omitempty"`
}

func (h sqlHandlers) listUsers(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	us, err := h.inside.ListUsers(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	out := make([]userJSON, len(us))
	for i, u := range us {
		out[i] = userJSON{Username: u.Username, Name: u.Username, CanLogin: u.CanLogin, IsSuperuser: u.IsSuperuser,
			CanCreateDB: u.CanCreateDB, CanCreateRole: u.CanCreateRole, CreatedAt: u.CreatedAt}
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h sqlHandlers) createUser(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
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
	pw, err := h.inside.CreateUser(r.Context(), p, r.PathValue("database_id"), *req.Username, pw)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, map[string]string{"username": *req.Username, "password": pw})
	return nil
}

func (h sqlHandlers) deleteUser(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	if err := h.inside.DeleteUser(r.Context(), p, r.PathValue("database_id"), r.PathValue("username")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "User deleted"})
	return nil
}
