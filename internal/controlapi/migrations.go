package controlapi

import (
	"errors"
	"net/http"
	"time"

	"github.com/db9/db9/internal/control/dbadmin"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/sqlexec"
	"github.com/db9/db9/internal/web"
)

type migrationJSON struct {
	Name       string    `json:"name"`
	Checksum   string    `json:"checksum"`
	AppliedAt  time.Time `json:"applied_at"`
	SQLPreview string    `json:"sql_preview"`
}

type appliedMigrationJSON struct {
	Name      string    `json:"name"`
	Checksum  string    `json:"checksum"`
	AppliedAt time.Time `json:"applied_at"`
	Status    string    `json:"status"`
}

// migrationErrorJSON is the 422 of a failing migration: the usual error
// body plus PostgreSQL's error in the shape of the SQL endpoint's.
type migrationErrorJSON struct {
	Message string            `json:"message"`
	Code    string            `json:"code"`
	Error   *sqlexec.SQLError `json:"error"`
}

func (h sqlHandlers) listMigrations(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	ms, err := h.inside.ListMigrations(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	out := make([]migrationJSON, len(ms))
	for i, m := range ms {
		out[i] = migrationJSON{Name: m.Name, Checksum: m.Checksum, AppliedAt: m.AppliedAt, SQLPreview: m.SQLPreview}
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h sqlHandlers) applyMigration(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	var req struct {
		Name     *string `json:"name"`
		SQL      *string `json:"sql"`
		Checksum *string `json:"checksum"`
	}
	if err := web.DecodeJSON(r, &req, false); err != nil {
		return err
	}
	for _, f := range []struct {
		name string
		v    *string
	}{{"name", req.Name}, {"sql", req.SQL}, {"checksum", req.Checksum}} {
		if f.v == nil {
			return platform.Errorf(platform.CodeInvalid, "%s: required", f.name)
		}
	}
	m, status, err := h.inside.ApplyMigration(r.Context(), p, r.PathValue("database_id"), *req.Name, *req.SQL, *req.Checksum)
	var me *dbadmin.MigrationError
	if errors.As(err, &me) {
		web.WriteJSON(w, http.StatusUnprocessableEntity, migrationErrorJSON{
			Message: me.Error(), Code: string(platform.CodeUnprocessable), Error: me.SQL})
		return nil
	}
	if err != nil {
		return err
	}
	code := http.StatusCreated
	if status == dbadmin.MigrationAlreadyApplied {
		code = http.StatusOK
	}
	web.WriteJSON(w, code, appliedMigrationJSON{Name: m.Name, Checksum: m.Checksum, AppliedAt: m.AppliedAt, Status: status})
	return nil
}
