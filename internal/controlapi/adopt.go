package controlapi

import (
	"net/http"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

func (h accountsHandlers) claim(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	var req struct {
		IDToken *string `json:"id_token"`
	}
	if err := web.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	if req.IDToken == nil || *req.IDToken == "" {
		return platform.Errorf(platform.CodeInvalid, "id_token: required")
	}
	c, err := h.accounts.Claim(r.Context(), p, *req.IDToken)
	if err != nil {
		return err
	}
	var email *string
	if c.Email != "" {
		email = &c.Email
	}
	web.WriteJSON(w, http.StatusOK, meResponse{ID: c.ID, Email: email, IsAnonymous: c.IsAnonymous, Status: "active", CreatedAt: c.CreatedAt.UTC()})
	return nil
}

type adoptBody struct {
	AnonymousCustomerID *string  `json:"anonymous_customer_id"`
	AnonymousSecret     *string  `json:"anonymous_secret"`
	DatabaseIDs         []string `json:"database_ids"`
	IdempotencyKey      *string  `json:"idempotency_key"`
}

func (b adoptBody) source() (control.AdoptSource, error) {
	if b.AnonymousCustomerID == nil || *b.AnonymousCustomerID == "" {
		return control.AdoptSource{}, platform.Errorf(platform.CodeInvalid, "anonymous_customer_id: required")
	}
	if b.AnonymousSecret == nil || *b.AnonymousSecret == "" {
		return control.AdoptSource{}, platform.Errorf(platform.CodeInvalid, "anonymous_secret: required")
	}
	return control.AdoptSource{CustomerID: *b.AnonymousCustomerID, Secret: *b.AnonymousSecret}, nil
}

type adoptDatabaseJSON struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

type quotaJSON struct {
	Limit     *int `json:"limit"`
	Used      int  `json:"used"`
	Available *int `json:"available"`
}

type preflightJSON struct {
	Eligible  bool                `json:"eligible"`
	Databases []adoptDatabaseJSON `json:"databases"`
	Quota     quotaJSON           `json:"quota"`
	Reasons   []string            `json:"reasons"`
}

func (h accountsHandlers) adoptPreflight(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	var b adoptBody
	if err := web.DecodeJSON(r, &b, false); err != nil {
		return err
	}
	src, err := b.source()
	if err != nil {
		return err
	}
	pf, err := h.accounts.PreflightAdopt(r.Context(), p, src)
	if err != nil {
		return err
	}
	out := preflightJSON{Eligible: pf.Eligible, Databases: []adoptDatabaseJSON{}, Reasons: pf.Reasons,
		Quota: quotaJSON{Limit: pf.Quota.Limit, Used: pf.Quota.Used, Available: pf.Quota.Available}}
	for _, d := range pf.Databases {
		out.Databases = append(out.Databases, adoptDatabaseJSON{ID: d.ID, Name: d.Name})
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h accountsHandlers) adopt(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	var b adoptBody
	if err := web.DecodeJSON(r, &b, false); err != nil {
		return err
	}
	src, err := b.source()
	if err != nil {
		return err
	}
	if b.IdempotencyKey == nil {
		return platform.Errorf(platform.CodeInvalid, "idempotency_key: required")
	}
	ids, err := h.accounts.Adopt(r.Context(), p, control.AdoptRequest{AdoptSource: src, DatabaseIDs: b.DatabaseIDs, IdempotencyKey: *b.IdempotencyKey})
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]any{"adopted": ids, "idempotency_key": *b.IdempotencyKey})
	return nil
}
