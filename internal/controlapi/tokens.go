package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// tokenJSON is an API token in lists; scope is "full" or the parsed scope.
type tokenJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Scope      any        `json:"scope"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  time.Time  `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

type createdTokenJSON struct {
	ID        string    `json:"id"`
	Name      string    `json:"name"`
	Token     string    `json:"token"`
	Scope     any       `json:"scope"`
	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`
}

func scopeJSON(s *tenancy.Scope) any {
	if s == nil {
		return "full"
	}
	return s
}

// decodeCreateTokenRequest decodes POST /customer/tokens. scope_json must
// be a JSON string holding the scope, not the scope object itself; a
// token without a name (DB9's SDK sends none) gets a generated one.
func decodeCreateTokenRequest(body []byte) (control.CreateTokenRequest, error) {
	var req struct {
		Name          *string `json:"name"`
		ExpiresInDays *int    `json:"expires_in_days"`
		ScopeJSON     *string `json:"scope_json"`
	}
	if err := web.Unmarshal(body, &req, false); err != nil {
		return control.CreateTokenRequest{}, err
	}
	out := control.CreateTokenRequest{ExpiresInDays: req.ExpiresInDays, ScopeJSON: req.ScopeJSON}
	if req.Name != nil {
		if *req.Name == "" {
			return control.CreateTokenRequest{}, platform.Errorf(platform.CodeInvalid, "name: must not be empty (omit it to have one generated)")
		}
		out.Name = *req.Name
	}
	return out, nil
}

func (h accountsHandlers) createToken(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	in, err := decodeCreateTokenRequest(body)
	if err != nil {
		return err
	}
	t, err := h.accounts.CreateToken(r.Context(), p, in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, createdTokenJSON{ID: t.ID, Name: t.Name, Token: t.Token, Scope: scopeJSON(t.Scope),
		CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC()})
	return nil
}

func (h accountsHandlers) listTokens(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	ts, err := h.accounts.ListTokens(r.Context(), p)
	if err != nil {
		return err
	}
	out := make([]tokenJSON, len(ts))
	for i, t := range ts {
		var used *time.Time
		if t.LastUsedAt != nil {
			u := t.LastUsedAt.UTC()
			used = &u
		}
		out[i] = tokenJSON{ID: t.ID, Name: t.Name, Scope: scopeJSON(t.Scope), CreatedAt: t.CreatedAt.UTC(), ExpiresAt: t.ExpiresAt.UTC(), LastUsedAt: used}
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h accountsHandlers) revokeToken(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	if err := h.accounts.RevokeToken(r.Context(), p, r.PathValue("token_id")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "Token revoked"})
	return nil
}
