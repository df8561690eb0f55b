package client

import (
	"context"
	"time"
)

// FS9Service is the way into a database's files: fs9 itself is a
// WebSocket protocol (internal/fs9/wsclient), not part of the REST API.
type FS9Service service

// FSConnect is what the fs9 WebSocket protocol needs to log in: its URL,
// the username and a connect token to send as the password.
type FSConnect struct {
	WSURL     string    `json:"ws_url"`
	Username  string    `json:"username"`
	Token     string    `json:"token"`
	ExpiresAt time.Time `json:"expires_at"`
}

// Connect asks for fs9 credentials for role (empty: admin, or the
// read-only role for a read-only API token).
func (s *FS9Service) Connect(ctx context.Context, db, role string) (FSConnect, error) {
	in := map[string]string{}
	if role != "" {
		in["role"] = role
	}
	var f FSConnect
	err := s.client.call(ctx, "POST", dbPath(db, "fs-connect"), true, in, &f)
	return f, err
}
