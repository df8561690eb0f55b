package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control/functions"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// secretsHandlers serve a database's secrets, which functions bind.
type secretsHandlers struct {
	secrets *functions.Secrets // nil: the routes answer 501
}

func (h secretsHandlers) use() (*functions.Secrets, error) {
	if h.secrets == nil {
		return nil, errFunctionsOff()
	}
	return h.secrets, nil
}

type secretJSON struct {
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

func secretObject(s functions.SecretInfo) secretJSON {
	return secretJSON{Name: s.Name, CreatedAt: s.CreatedAt.UTC(), UpdatedAt: s.UpdatedAt.UTC()}
}

func (h secretsHandlers) listSecrets(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	sec, err := h.use()
	if err != nil {
		return err
	}
	ss, err := sec.ListSecrets(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	out := mapAll(ss, secretObject)
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h secretsHandlers) putSecret(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	sec, err := h.use()
	if err != nil {
		return err
	}
	var body struct {
		Value *string `json:"value"`
	}
	if err := web.DecodeJSON(r, &body, false); err != nil {
		return err
	}
	if body.Value == nil {
		return platform.Errorf(platform.CodeInvalid, "value: required")
	}
	s, err := sec.PutSecret(r.Context(), p, r.PathValue("database_id"), r.PathValue("name"), *body.Value)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, secretObject(s))
	return nil
}

func (h secretsHandlers) deleteSecret(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	sec, err := h.use()
	if err != nil {
		return err
	}
	if err := sec.DeleteSecret(r.Context(), p, r.PathValue("database_id"), r.PathValue("name")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "secret deleted"})
	return nil
}
