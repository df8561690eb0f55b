package neon

import (
	"net"
	"net/url"
	"strings"
)

// connInfo is what a Neon-Connection-String names.
type connInfo struct {
	user, password, host, database, options string
}

// parseConnString reads a postgres:// or postgresql:// URL the way the
// driver builds it (user and password percent-encoded, options and
// application_name among the query parameters).
func parseConnString(s string) (connInfo, error) {
	if s == "" {
		return connInfo{}, userError("missing Neon-Connection-String header")
	}
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return connInfo{}, userError("Neon-Connection-String is not a postgres:// or postgresql:// URL")
	}
	ci := connInfo{database: strings.TrimPrefix(u.Path, "/"), options: u.Query().Get("options")}
	if u.User != nil {
		ci.user = u.User.Username()
		ci.password, _ = u.User.Password()
	}
	if ci.user == "" {
		return connInfo{}, userError("Neon-Connection-String names no user")
	}
	ci.host = u.Hostname()
	if h, _, err := net.SplitHostPort(u.Host); err == nil {
		ci.host = h
	}
	return ci, nil
}
