package control

import (
	"context"
	"strings"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// fs9 access (FS9.md, API.md "Files (fs9)"): the WebSocket protocol logs in
// with the same credentials as the PostgreSQL front door, plus connect
// tokens for the read-only role, which is what ro API tokens get.

// WithFS9 sets the URL fs-connect hands out (ws://host:port/ or wss://);
// the server knows it only once the fs9 listener listens.
func (a *WireAccess) WithFS9(wsURL string) *WireAccess {
	a.fs9URL = wsURL
	return a
}

// FSConnect is the answer of POST .../fs-connect.
type FSConnect struct {
	WSURL     string
	Username  string
	Token     string
	ExpiresAt time.Time
}

// fileRole reports whether role has file access (FS9.md "Who may use it").
func fileRole(role string) bool {
	return role == placement.AdminRole || role == placement.ReadOnlyRole
}

// FSConnect mints a connect token for the fs9 WebSocket protocol. role
// defaults to admin, or to the read-only role for a token with read-only
// access to the database; such a token may not ask for admin (as it may
// not mint a connect token at all).
func (a *WireAccess) FSConnect(ctx context.Context, p tenancy.Principal, idOrName, role string) (FSConnect, error) {
	if a.fs9URL == "" {
		return FSConnect{}, platform.Errorf(platform.CodeNotImplemented, "fs9 is not enabled on this server")
	}
	if role != "" && !fileRole(role) {
		return FSConnect{}, platform.Errorf(platform.CodeInvalid, "role: only %q and %q have file access", placement.AdminRole, placement.ReadOnlyRole)
	}
	row, err := a.dir.ActiveLookup(ctx, p, idOrName)
	if err != nil {
		return FSConnect{}, err
	}
	rw := p.Scope.Access(row.ID) == tenancy.AccessRW
	if role == "" {
		role = placement.AdminRole
		if !rw {
			role = placement.ReadOnlyRole
		}
	}
	if role == placement.AdminRole && !rw {
		return FSConnect{}, platform.Errorf(platform.CodeForbidden, "this API token has read-only access to the database; ask for role %q", placement.ReadOnlyRole)
	}
	tok, c, err := a.signer.Sign(row.ID, role)
	if err != nil {
		return FSConnect{}, err
	}
	return FSConnect{WSURL: a.fs9URL, Username: row.ID + "." + role, Token: tok, ExpiresAt: time.Unix(c.ExpiresAt, 0).UTC()}, nil
}

// FSLogin checks the credentials of an fs9 auth frame: username
// "<db id or name>.<role>", password as for Login. The read-only role, which
// the front door refuses, is accepted here with a connect token minted for
// it (fs-connect) and nothing else. The instance is returned leased.
func (a *WireAccess) FSLogin(ctx context.Context, username, password string) (*PGSession, error) {
	dbRef, role, ok := strings.Cut(username, ".")
	if !ok || dbRef == "" || role == "" {
		return nil, platform.Errorf(platform.CodeUnauthorized, "username must be <database id or name>.<role>")
	}
	if role == placement.ReadOnlyRole {
		if !auth.LooksLikeJWT(password) {
			return nil, platform.Errorf(platform.CodeUnauthorized, "role %q logs in only with a connect token from fs-connect", role)
		}
		return a.loginToken(ctx, dbRef, role, password)
	}
	return a.Login(ctx, dbRef, role, password)
}
