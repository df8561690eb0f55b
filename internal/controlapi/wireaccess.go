package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// wireHandlers serve access over the PostgreSQL wire protocol:
// connect-token, connect-keys, and fs-connect (fs9.go).
type wireHandlers struct {
	wire *control.WireAccess // nil: the routes answer 501
}

// use is the use cases of the wire access routes, when the server enables
// them.
func (h wireHandlers) use() (*control.WireAccess, error) {
	if h.wire == nil {
		return nil, platform.Errorf(platform.CodeNotImplemented, "PostgreSQL access is not enabled on this server")
	}
	return h.wire, nil
}

type connectTokenJSON struct {
	Host             string    `json:"host"`
	Port             int       `json:"port"`
	Database         string    `json:"database"`
	User             string    `json:"user"`
	Token            string    `json:"token"`
	ExpiresAt        time.Time `json:"expires_at"`
	ExpiresInSeconds int       `json:"expires_in_seconds"`
	TLS              bool      `json:"tls"`
}

// decodeConnectTokenRequest decodes the (optional) body of POST .../connect-token.
func decodeConnectTokenRequest(body []byte) (role string, err error) {
	var req struct {
		Role *string `json:"role"`
	}
	if err := web.Unmarshal(body, &req, true); err != nil {
		return "", err
	}
	if req.Role != nil {
		return *req.Role, nil
	}
	return "", nil
}

func (h wireHandlers) connectToken(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	pg, err := h.use()
	if err != nil {
		return err
	}
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	role, err := decodeConnectTokenRequest(body)
	if err != nil {
		return err
	}
	t, err := pg.ConnectToken(r.Context(), p, r.PathValue("database_id"), role)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, connectTokenJSON{Host: t.Host, Port: t.Port, Database: "postgres", User: t.User,
		Token: t.Token, ExpiresAt: t.ExpiresAt, ExpiresInSeconds: t.ExpiresIn, TLS: t.TLS})
	return nil
}

type connectKeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Scopes     []string   `json:"scopes"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
	LastUsedAt *time.Time `json:"last_used_at"`
}

type createdConnectKeyJSON struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Scopes     []string   `json:"scopes"`
	ConnectKey string     `json:"connect_key"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at"`
}

func utcPtr(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}

func connectKeyObject(k control.ConnectKey) connectKeyJSON {
	return connectKeyJSON{ID: k.ID, Name: k.Name, Role: k.Role, Scopes: k.Scopes, CreatedAt: k.CreatedAt.UTC(),
		ExpiresAt: utcPtr(k.ExpiresAt), LastUsedAt: utcPtr(k.LastUsedAt)}
}

// decodeConnectKeyRequest decodes the (optional) body of POST .../connect-keys.
func decodeConnectKeyRequest(body []byte) (control.ConnectKeyRequest, error) {
	var req struct {
		Name          *string  `json:"name"`
		Role          *string  `json:"role"`
		Scopes        []string `json:"scopes"`
		ExpiresInDays *int     `json:"expires_in_days"`
	}
	if err := web.Unmarshal(body, &req, true); err != nil {
		return control.ConnectKeyRequest{}, err
	}
	return control.ConnectKeyRequest{Name: req.Name, Role: req.Role, Scopes: req.Scopes, ExpiresInDays: req.ExpiresInDays}, nil
}

func (h wireHandlers) createConnectKey(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	pg, err := h.use()
	if err != nil {
		return err
	}
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	req, err := decodeConnectKeyRequest(body)
	if err != nil {
		return err
	}
	k, err := pg.CreateConnectKey(r.Context(), p, r.PathValue("database_id"), req)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, createdConnectKeyJSON{ID: k.ID, Name: k.Name, Role: k.Role, Scopes: k.Scopes,
		ConnectKey: k.Secret, CreatedAt: k.CreatedAt.UTC(), ExpiresAt: utcPtr(k.ExpiresAt)})
	return nil
}

func (h wireHandlers) listConnectKeys(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	pg, err := h.use()
	if err != nil {
		return err
	}
	keys, err := pg.ListConnectKeys(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	out := mapAll(keys, connectKeyObject)
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h wireHandlers) revokeConnectKey(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	pg, err := h.use()
	if err != nil {
		return err
	}
	if err := pg.RevokeConnectKey(r.Context(), p, r.PathValue("database_id"), r.PathValue("key_id")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "Connect key revoked"})
	return nil
}
