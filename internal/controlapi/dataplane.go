package controlapi

import (
	"encoding/json"
	"net/http"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/control/dataaccess"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/ratelimit"
	"github.com/db9/db9/internal/web"
)

// dataPlaneHandlers serve the browser data plane's control routes:
// auth-config, and through dataKeyRoutes publishable-keys and service-keys.
type dataPlaneHandlers struct {
	dp *dataaccess.DataPlane // nil: the routes answer 501
}

// use is the use cases of the browser data plane's routes, when the
// server enables them.
func (h dataPlaneHandlers) use() (*dataaccess.DataPlane, error) {
	if h.dp == nil {
		return nil, platform.Errorf(platform.CodeNotImplemented, "the data plane is not enabled on this server")
	}
	return h.dp, nil
}

// dataKeyRoutes are the handlers of one kind of key: publishable-keys or
// service-keys share everything but the kind.
type dataKeyRoutes struct {
	h    dataPlaneHandlers
	kind auth.KeyKind
}

func (h dataPlaneHandlers) dataKeys(kind auth.KeyKind) dataKeyRoutes { return dataKeyRoutes{h, kind} }

// byoJWTJSON is a stored byo_jwt config; every field is present (null
// when unset), so clients read one shape.
type byoJWTJSON struct {
	JWKSURL         *string         `json:"jwks_url"`
	JWKS            json.RawMessage `json:"jwks"`
	Issuer          string          `json:"issuer"`
	Audience        *string         `json:"audience"`
	Algorithms      []string        `json:"algorithms"`
	RoleClaim       string          `json:"role_claim"`
	DefaultRole     string          `json:"default_role"`
	ClaimsAllowlist []string        `json:"claims_allowlist"`
}

type authConfigJSON struct {
	AuthMode  string      `json:"auth_mode"`
	BYOJWT    *byoJWTJSON `json:"byo_jwt"`
	UpdatedAt *time.Time  `json:"updated_at"`
}

func authConfigObject(c dataaccess.AuthConfig) authConfigJSON {
	out := authConfigJSON{AuthMode: c.Mode, UpdatedAt: utcPtr(c.UpdatedAt)}
	if b := c.BYOJWT; b != nil {
		j := &byoJWTJSON{JWKSURL: optional(b.JWKSURL), JWKS: b.JWKS, Issuer: b.Issuer, Audience: optional(b.Audience),
			Algorithms: b.Algorithms, RoleClaim: b.RoleClaim, DefaultRole: b.DefaultRole, ClaimsAllowlist: b.ClaimsAllowlist}
		if len(j.JWKS) == 0 {
			j.JWKS = json.RawMessage("null")
		}
		out.BYOJWT = j
	}
	return out
}

func (h dataPlaneHandlers) getAuthConfig(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	dp, err := h.use()
	if err != nil {
		return err
	}
	c, err := dp.GetAuthConfig(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, authConfigObject(c))
	return nil
}

// decodeAuthConfigRequest decodes PUT .../auth-config. byo_jwt is kept raw:
// the use case parses it strictly (jwtverify.ParseConfig).
func decodeAuthConfigRequest(body []byte) (dataaccess.AuthConfigRequest, error) {
	var req struct {
		AuthMode *string         `json:"auth_mode"`
		BYOJWT   json.RawMessage `json:"byo_jwt"`
	}
	if err := web.Unmarshal(body, &req, false); err != nil {
		return dataaccess.AuthConfigRequest{}, err
	}
	if req.AuthMode == nil {
		return dataaccess.AuthConfigRequest{}, platform.Errorf(platform.CodeInvalid, `auth_mode: required ("none" or "byo_jwt")`)
	}
	return dataaccess.AuthConfigRequest{Mode: *req.AuthMode, BYOJWT: req.BYOJWT}, nil
}

func (h dataPlaneHandlers) putAuthConfig(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	dp, err := h.use()
	if err != nil {
		return err
	}
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	req, err := decodeAuthConfigRequest(body)
	if err != nil {
		return err
	}
	c, err := dp.PutAuthConfig(r.Context(), p, r.PathValue("database_id"), req)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, authConfigObject(c))
	return nil
}

// publishableKeyJSON is a publishable key; Key only on creation,
// LastUsedAt only in lists.
type publishableKeyJSON struct {
	ID             string           `json:"id"`
	Name           string           `json:"name"`
	Key            string           `json:"key,omitempty"`
	AllowedOrigins []string         `json:"allowed_origins"`
	ExposedSchemas []string         `json:"exposed_schemas"`
	ExposedTables  []string         `json:"exposed_tables"`
	RateLimit      *ratelimit.Limit `json:"rate_limit"`
	CreatedAt      time.Time        `json:"created_at"`
	ExpiresAt      *time.Time       `json:"expires_at"`
}

type listedPublishableKeyJSON struct {
	publishableKeyJSON
	LastUsedAt *time.Time `json:"last_used_at"`
}

type serviceKeyJSON struct {
	ID        string     `json:"id"`
	Name      string     `json:"name"`
	Key       string     `json:"key,omitempty"`
	CreatedAt time.Time  `json:"created_at"`
	ExpiresAt *time.Time `json:"expires_at"`
}

type listedServiceKeyJSON struct {
	serviceKeyJSON
	LastUsedAt *time.Time `json:"last_used_at"`
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func dataKeyObject(k dataaccess.DataKeyInfo, secret string, listed bool) any {
	if k.Kind == auth.ServiceKey {
		o := serviceKeyJSON{ID: k.ID, Name: k.Name, Key: secret, CreatedAt: k.CreatedAt.UTC(), ExpiresAt: utcPtr(k.ExpiresAt)}
		if listed {
			return listedServiceKeyJSON{serviceKeyJSON: o, LastUsedAt: utcPtr(k.LastUsedAt)}
		}
		return o
	}
	o := publishableKeyJSON{ID: k.ID, Name: k.Name, Key: secret, AllowedOrigins: nonNil(k.AllowedOrigins),
		ExposedSchemas: nonNil(k.ExposedSchemas), ExposedTables: nonNil(k.ExposedTables), RateLimit: k.RateLimit,
		CreatedAt: k.CreatedAt.UTC(), ExpiresAt: utcPtr(k.ExpiresAt)}
	if listed {
		return listedPublishableKeyJSON{publishableKeyJSON: o, LastUsedAt: utcPtr(k.LastUsedAt)}
	}
	return o
}

// decodeDataKeyRequest decodes the (optional) body of POST
// .../publishable-keys or .../service-keys; a service key takes only name
// and expires_in_days (other fields are ignored, as unknown ones are).
func decodeDataKeyRequest(body []byte, kind auth.KeyKind) (dataaccess.DataKeyRequest, error) {
	var req struct {
		Name           *string  `json:"name"`
		ExpiresInDays  *int     `json:"expires_in_days"`
		AllowedOrigins []string `json:"allowed_origins"`
		ExposedSchemas []string `json:"exposed_schemas"`
		ExposedTables  []string `json:"exposed_tables"`
		RateLimit      *struct {
			RPS   *float64 `json:"rps"`
			Burst *int     `json:"burst"`
		} `json:"rate_limit"`
	}
	if kind == auth.ServiceKey {
		var s struct {
			Name          *string `json:"name"`
			ExpiresInDays *int    `json:"expires_in_days"`
		}
		if err := web.Unmarshal(body, &s, true); err != nil {
			return dataaccess.DataKeyRequest{}, err
		}
		return dataaccess.DataKeyRequest{Name: s.Name, ExpiresInDays: s.ExpiresInDays}, nil
	}
	if err := web.Unmarshal(body, &req, true); err != nil {
		return dataaccess.DataKeyRequest{}, err
	}
	out := dataaccess.DataKeyRequest{Name: req.Name, ExpiresInDays: req.ExpiresInDays, AllowedOrigins: req.AllowedOrigins,
		ExposedSchemas: req.ExposedSchemas, ExposedTables: req.ExposedTables}
	if rl := req.RateLimit; rl != nil {
		if rl.RPS == nil || rl.Burst == nil {
			return dataaccess.DataKeyRequest{}, platform.Errorf(platform.CodeInvalid, "rate_limit: rps and burst are both required (or rate_limit null for none)")
		}
		out.RateLimit = &ratelimit.Limit{RPS: *rl.RPS, Burst: *rl.Burst}
	}
	return out, nil
}

func (k dataKeyRoutes) create(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	dp, err := k.h.use()
	if err != nil {
		return err
	}
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	req, err := decodeDataKeyRequest(body, k.kind)
	if err != nil {
		return err
	}
	created, err := dp.CreateDataKey(r.Context(), p, r.PathValue("database_id"), k.kind, req)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusCreated, dataKeyObject(created.DataKeyInfo, created.Secret, false))
	return nil
}

func (k dataKeyRoutes) list(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	dp, err := k.h.use()
	if err != nil {
		return err
	}
	keys, err := dp.ListDataKeys(r.Context(), p, r.PathValue("database_id"), k.kind)
	if err != nil {
		return err
	}
	out := make([]any, len(keys))
	for i, key := range keys {
		out[i] = dataKeyObject(key, "", true)
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (k dataKeyRoutes) revoke(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	dp, err := k.h.use()
	if err != nil {
		return err
	}
	if err := dp.RevokeDataKey(r.Context(), p, r.PathValue("database_id"), k.kind, r.PathValue("key_id")); err != nil {
		return err
	}
	msg := "Publishable key revoked"
	if k.kind == auth.ServiceKey {
		msg = "Service key revoked"
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": msg})
	return nil
}
