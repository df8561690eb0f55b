package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// databasesHandlers serve a database's life: create, list, get, delete,
// credentials, reset-password, and branches (branch.go).
type databasesHandlers struct {
	databases *control.Databases
	branches  *control.Branches
}

// databaseJSON is the database object of API.md.
type databaseJSON struct {
	ID               string     `json:"id"`
	Name             string     `json:"name"`
	State            string     `json:"state"`
	StateReason      *string    `json:"state_reason"`
	Region           string     `json:"region"`
	CreatedAt        time.Time  `json:"created_at"`
	Host             string     `json:"host"`
	Port             int        `json:"port"`
	Database         string     `json:"database"`
	AdminUser        string     `json:"admin_user"`
	ConnectionString string     `json:"connection_string"`
	ParentDatabaseID *string    `json:"parent_database_id"`
	SnapshotAt       *time.Time `json:"snapshot_at"`
}

type createdDatabaseJSON struct {
	databaseJSON
	AdminPassword          string `json:"admin_password"`
	PooledConnectionString string `json:"pooled_connection_string,omitempty"`
}

type credentialsJSON struct {
	AdminUser              string `json:"admin_user"`
	AdminPassword          string `json:"admin_password"`
	ConnectionString       string `json:"connection_string"`
	PooledConnectionString string `json:"pooled_connection_string,omitempty"`
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func (h databasesHandlers) databaseObject(d platform.Database) databaseJSON {
	var snap *time.Time
	if d.SnapshotAt != nil {
		t := d.SnapshotAt.UTC()
		snap = &t
	}
	return databaseJSON{
		ID: d.ID, Name: d.Name, State: string(d.State), StateReason: optional(d.StateReason), Region: d.Region,
		CreatedAt: d.CreatedAt.UTC(), Host: h.databases.Host(), Port: h.databases.Port(), Database: "postgres",
		AdminUser: tenancy.AdminUser, ConnectionString: h.databases.ConnectionString(d.ID, tenancy.AdminUser, ""),
		ParentDatabaseID: optional(d.ParentDatabaseID), SnapshotAt: snap,
	}
}

// decodeCreateDatabaseRequest decodes the body of POST /customer/databases.
// Only the shape is checked here; the name and password rules are the use
// case's.
func decodeCreateDatabaseRequest(body []byte) (control.CreateDatabaseRequest, error) {
	var req struct {
		Name          *string `json:"name"`
		Region        *string `json:"region"`
		AdminPassword *string `json:"admin_password"`
	}
	if err := web.Unmarshal(body, &req, false); err != nil {
		return control.CreateDatabaseRequest{}, err
	}
	if req.Name == nil {
		return control.CreateDatabaseRequest{}, platform.Errorf(platform.CodeInvalid, "name: required")
	}
	in := control.CreateDatabaseRequest{Name: *req.Name}
	if req.Region != nil {
		in.Region = *req.Region
	}
	if req.AdminPassword != nil {
		in.AdminPassword = *req.AdminPassword
	}
	return in, nil
}

func (h databasesHandlers) createDatabase(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	in, err := decodeCreateDatabaseRequest(body)
	if err != nil {
		return err
	}
	d, err := h.databases.CreateDatabase(r.Context(), p, in)
	if err != nil {
		return err
	}
	obj := h.databaseObject(d.Database)
	obj.ConnectionString = d.ConnectionString
	web.WriteJSON(w, http.StatusCreated, createdDatabaseJSON{databaseJSON: obj, AdminPassword: d.AdminPassword, PooledConnectionString: d.PooledConnectionString})
	return nil
}

func (h databasesHandlers) listDatabases(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	all := r.URL.Query().Get("all") == "true"
	dbs, err := h.databases.ListDatabases(r.Context(), p, all)
	if err != nil {
		return err
	}
	out := make([]databaseJSON, len(dbs))
	for i, d := range dbs {
		out[i] = h.databaseObject(d)
	}
	web.WriteJSON(w, http.StatusOK, out)
	return nil
}

func (h databasesHandlers) getDatabase(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	d, err := h.databases.GetDatabase(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, h.databaseObject(d))
	return nil
}

func (h databasesHandlers) deleteDatabase(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	if err := h.databases.DeleteDatabase(r.Context(), p, r.PathValue("database_id")); err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, map[string]string{"message": "Database disabled"})
	return nil
}

func (h databasesHandlers) resetPassword(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	c, err := h.databases.ResetPassword(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, credentialsJSON{c.AdminUser, c.AdminPassword, c.ConnectionString, c.PooledConnectionString})
	return nil
}

func (h databasesHandlers) credentials(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	c, err := h.databases.Credentials(r.Context(), p, r.PathValue("database_id"))
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusOK, credentialsJSON{c.AdminUser, c.AdminPassword, c.ConnectionString, c.PooledConnectionString})
	return nil
}
