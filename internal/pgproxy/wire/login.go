package wire

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"maps"
	"net"

	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
)

// Authenticator checks a login and returns the database's instance leased.
// *control.WireAccess implements it.
type Authenticator interface {
	Login(ctx context.Context, dbRef, role, password string) (*control.PGSession, error)
}

// Gate is how both endpoints log a client in.
type Gate struct {
	Auth Authenticator
	// PublicHost is the front door's host name in connection strings: a
	// TLS server name "<database>.<PublicHost>" names the database.
	PublicHost string
	Log        *slog.Logger
}

// Login is a client startup that passed routing and authentication: the
// database is leased (woken when it was stopped).
type Login struct {
	Params map[string]string // the client's startup parameters, the route taken out
	Role   string
	Sess   *control.PGSession
	Log    *slog.Logger
}

// Login runs a client's startup from its StartupMessage to a checked
// login: protocol version, route (route.go), cleartext password,
// Authenticator, which ctx bounds. hostName is the host the client
// addressed outside the protocol ("" when none). On failure the client
// has been told why and nil is returned. The caller releases the lease.
func (g *Gate) Login(ctx context.Context, conn net.Conn, m *pgproto3.StartupMessage, hostName string) *Login {
	params := m.Parameters
	if exts := protocolExtensions(params); m.ProtocolVersion != pgproto3.ProtocolVersion30 || len(exts) > 0 {
		b, _ := (&pgproto3.NegotiateProtocolVersion{NewestMinorProtocol: 0, UnrecognizedOptions: exts}).Encode(nil)
		if _, err := conn.Write(b); err != nil {
			return nil
		}
	}
	user := params["user"]
	if user == "" {
		Fail(g.Log, conn, &Error{Code: stateInvalidAuthSpec, Msg: "no PostgreSQL user name specified in startup packet"}, "startup")
		return nil
	}
	serverName := hostName
	if tc, ok := conn.(*tls.Conn); ok && tc.ConnectionState().ServerName != "" {
		serverName = tc.ConnectionState().ServerName
	}
	dbRef, role, options, err := route(user, params["options"], serverName, g.PublicHost)
	if err == nil {
		err = checkDatabase(params["database"], user)
	}
	if err == nil {
		err = checkOptions(params)
	}
	if err != nil {
		Fail(g.Log, conn, err, "startup")
		return nil
	}
	if options != params["options"] {
		params = maps.Clone(params)
		if options == "" {
			delete(params, "options")
		} else {
			params["options"] = options
		}
	}
	b, _ := (&pgproto3.AuthenticationCleartextPassword{}).Encode(nil)
	if _, err := conn.Write(b); err != nil {
		return nil
	}
	password, err := readPassword(conn)
	if err != nil {
		Fail(g.Log, conn, err, "password")
		return nil
	}
	if dbRef == "" {
		ep, pw, ok := passwordEndpoint(password)
		if !ok {
			_, _, err := parseUser(user)
			Fail(g.Log, conn, err, "startup")
			return nil
		}
		dbRef, password = ep, pw
	}
	sess, err := g.Auth.Login(ctx, dbRef, role, password)
	if err != nil {
		if pe := (*platform.Error)(nil); errors.As(err, &pe) && pe.Code == platform.CodeNotFound {
			err = &Error{Code: StateUnknownDatabase, Msg: pe.Message, Hint: routeHint}
		}
		Fail(g.Log, conn, err, "login")
		return nil
	}
	return &Login{Params: params, Role: role, Sess: sess,
		Log: g.Log.With(logkey.DB, sess.DatabaseID, logkey.Role, role, logkey.Method, sess.Method)}
}
