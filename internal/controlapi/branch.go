package controlapi

import (
	"net/http"
	"time"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// decodeBranchRequest decodes {name, snapshot_at?}; snapshot_at is an RFC
// 3339 time (null means now).
func decodeBranchRequest(body []byte) (control.BranchRequest, error) {
	var req struct {
		Name       *string `json:"name"`
		SnapshotAt *string `json:"snapshot_at"`
	}
	if err := web.Unmarshal(body, &req, false); err != nil {
		return control.BranchRequest{}, err
	}
	if req.Name == nil {
		return control.BranchRequest{}, platform.Errorf(platform.CodeInvalid, "name: required")
	}
	in := control.BranchRequest{Name: *req.Name}
	if req.SnapshotAt != nil {
		t, err := time.Parse(time.RFC3339Nano, *req.SnapshotAt)
		if err != nil {
			return control.BranchRequest{}, platform.Errorf(platform.CodeInvalid, "snapshot_at: want an RFC 3339 time like 2025-06-01T12:00:00Z")
		}
		in.SnapshotAt = &t
	}
	return in, nil
}

func (h databasesHandlers) branchDatabase(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error {
	body, err := web.ReadBody(r)
	if err != nil {
		return err
	}
	in, err := decodeBranchRequest(body)
	if err != nil {
		return err
	}
	d, err := h.branches.BranchDatabase(r.Context(), p, r.PathValue("database_id"), in)
	if err != nil {
		return err
	}
	web.WriteJSON(w, http.StatusAccepted, h.databaseObject(d))
	return nil
}
