package dataaccess

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"

	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/platform"
)

// AuthConfigRequest is the body of PUT .../auth-config. BYOJWT is the raw
// byo_jwt object (nil when absent or null).
type AuthConfigRequest struct {
	Mode   string
	BYOJWT json.RawMessage
}

// GetAuthConfig returns a caller's database's auth-config; a database never
// configured answers mode none. Read-only tokens may read it.
func (d *DataPlane) GetAuthConfig(ctx context.Context, p tenancy.Principal, idOrName string) (AuthConfig, error) {
	db, err := d.lookup(ctx, p, idOrName)
	if err != nil {
		return AuthConfig{}, err
	}
	return d.readAuthConfig(ctx, db.ID)
}

// PutAuthConfig validates and stores a database's auth-config. A malformed
// or unsafe config is a 400 (CodeInvalid); a jwks_url whose host does not
// resolve, or resolves to a loopback, private, link-local or metadata
// address (unless the server allows private JWKS), a 422
// (CodeUnprocessable). The data API uses the new config from its next
// request in this process.
func (d *DataPlane) PutAuthConfig(ctx context.Context, p tenancy.Principal, idOrName string, req AuthConfigRequest) (AuthConfig, error) {
	db, err := d.lookup(ctx, p, idOrName)
	if err != nil {
		return AuthConfig{}, err
	}
	if err := tenancy.RequireWrite(p, db.ID); err != nil {
		return AuthConfig{}, err
	}
	present := len(req.BYOJWT) > 0 && string(req.BYOJWT) != "null"
	var stored []byte
	switch req.Mode {
	case AuthModeNone:
		if present {
			return AuthConfig{}, platform.Errorf(platform.CodeInvalid, `byo_jwt: must be null or left out with auth_mode "none"`)
		}
	case AuthModeBYOJWT:
		if !present {
			return AuthConfig{}, platform.Errorf(platform.CodeInvalid, `byo_jwt: required with auth_mode "byo_jwt"`)
		}
		if t := bytes.TrimLeft(req.BYOJWT, " \t\r\n"); len(t) == 0 || t[0] != '{' {
			return AuthConfig{}, platform.Errorf(platform.CodeInvalid, "byo_jwt: must be a JSON object")
		}
		cfg, err := jwtverify.ParseConfig(req.BYOJWT)
		if err != nil {
			return AuthConfig{}, err
		}
		if err := d.kc.CheckNetwork(ctx, cfg); err != nil {
			return AuthConfig{}, err
		}
		if stored, err = json.Marshal(cfg); err != nil {
			return AuthConfig{}, fmt.Errorf("encode auth-config: %w", err)
		}
	case "":
		return AuthConfig{}, platform.Errorf(platform.CodeInvalid, `auth_mode: required ("none" or "byo_jwt")`)
	default:
		return AuthConfig{}, platform.Errorf(platform.CodeInvalid, `auth_mode: must be "none" or "byo_jwt"`)
	}
	row, err := d.cat.DataPlane.PutAuthConfig(ctx, db.ID, req.Mode, stored)
	if err != nil {
		return AuthConfig{}, fmt.Errorf("store auth-config: %w", err)
	}
	d.invalidate(db.ID, nil)
	return authConfigFromRow(row)
}
