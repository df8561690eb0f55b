package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// accountsHandlers serve anonymous accounts, /customer/me, API tokens
// (tokens.go), claim and adopt-anonymous-databases (adopt.go).
type accountsHandlers struct{ accounts *control.Accounts }

type registerResponse struct {
	Token           string    `json:"token"`
	ExpiresAt       time.Time `json:"expires_at"`
	IsAnonymous     bool      `json:"is_anonymous"`
	AnonymousID     string    `json:"anonymous_id"`
	AnonymousSecret string    `json:"anonymous_secret"`
	CustomerID      string    `json:"customer_id"`
}

func (h accountsHandlers) anonymousRegister(w http.ResponseWriter, r *http.Request) error {
	if _, err := web.ReadBody(r); err != nil {
		return err
	}
	reg, err := h.accounts.RegisterAnonymous(r.Context())
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, registerResponse{
		Token: reg.Token, ExpiresAt: reg.ExpiresAt, IsAnonymous: true,
		AnonymousID: reg.CustomerID, AnonymousSecret: reg.AnonymousSecret, CustomerID: reg.CustomerID,
	})
	return nil
}

func (h accountsHandlers) anonymousRefresh(w http.ResponseWriter, r *http.Request) error {
	var req struct {
		AnonymousID     *string `json:"anonymous_id"`
		AnonymousSecret *string `json:"anonymous_secret"`
	}
	if err := web.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.AnonymousID == nil || *req.AnonymousID == "" {
		return platform.Errorf(platform.CodeInvalid, "anonymous_id: required")
	}
	if req.AnonymousSecret == nil || *req.AnonymousSecret == "" {
		return platform.Errorf(platform.CodeInvalid, "anonymous_secret: required")
	}
	token, exp, err := h.accounts.RefreshAnonymous(r.Context(), *req.AnonymousID, *req.AnonymousSecret)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"token": token, "expires_at": exp})
	return nil
}

type meResponse struct {
	ID          string    `json:"id"`
	Email       *string   `json:"email"`
	IsAnonymous bool      `json:"is_anonymous"`
	Status      string    `json:"status"`
	CreatedAt   time.Time `json:"created_at"`
}

func (h accountsHandlers) me(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	c := p.Customer
	var email *string
	if c.Email != "" {
		email = &c.Email
	}
	web.WriteJSON(w, http.StatusOK, meResponse{ID: c.ID, Email: email, IsAnonymous: c.IsAnonymous, Status: "active", CreatedAt: c.CreatedAt.UTC()})
	return nil
}
