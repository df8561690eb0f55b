package wire

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5/pgproto3"
)

// Limits of the startup phase, as PostgreSQL's own: a startup packet is at
// most 10,000 bytes; a password message is bounded well above the longest
// connect token.
const (
	maxStartupLen  = 10_000
	maxPasswordLen = 8192
)

// Codes of the special startup packets (protocol.html, "Message Formats").
const (
	codeSSLRequest    = 80877103
	codeGSSENCRequest = 80877104
	codeCancelRequest = 80877102
)

// ReadStartupPacket reads exactly one startup packet (no read-ahead, so
// the bytes that follow — a TLS handshake — stay in the connection) and
// decodes it into a *pgproto3.StartupMessage, *SSLRequest, *GSSEncRequest
// or *CancelRequest.
func ReadStartupPacket(r io.Reader) (pgproto3.FrontendMessage, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return nil, err
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[:])))
	if n < 8 || n > maxStartupLen {
		return nil, ProtoErr(fmt.Sprintf("invalid length of startup packet: %d", n))
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return nil, err
	}
	switch code := binary.BigEndian.Uint32(body); code {
	case codeSSLRequest:
		if n != 8 {
			return nil, ProtoErr("invalid length of SSLRequest")
		}
		return &pgproto3.SSLRequest{}, nil
	case codeGSSENCRequest:
		if n != 8 {
			return nil, ProtoErr("invalid length of GSSENCRequest")
		}
		return &pgproto3.GSSEncRequest{}, nil
	case codeCancelRequest:
		m := &pgproto3.CancelRequest{}
		if err := m.Decode(body); err != nil {
			return nil, ProtoErr("invalid CancelRequest")
		}
		return m, nil
	default:
		if code>>16 != 3 {
			return nil, &Error{Code: StateFeatureNotSupp, Msg: fmt.Sprintf("unsupported frontend protocol %d.%d: server supports 3.0", code>>16, code&0xffff)}
		}
		// Any 3.x: decode as 3.0; a newer minor is answered with
		// NegotiateProtocolVersion by the caller.
		binary.BigEndian.PutUint32(body, pgproto3.ProtocolVersion30)
		m := &pgproto3.StartupMessage{}
		if err := m.Decode(body); err != nil {
			return nil, ProtoErr("invalid startup packet layout")
		}
		m.ProtocolVersion = code
		return m, nil
	}
}

// readPassword reads the client's PasswordMessage ('p').
func readPassword(r io.Reader) (string, error) {
	var hdr [5]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return "", err
	}
	if hdr[0] != 'p' {
		return "", ProtoErr(fmt.Sprintf("expected password response, got message type %d", hdr[0]))
	}
	n := int(int32(binary.BigEndian.Uint32(hdr[1:])))
	if n < 5 || n-4 > maxPasswordLen {
		return "", ProtoErr(fmt.Sprintf("invalid password packet size %d", n))
	}
	body := make([]byte, n-4)
	if _, err := io.ReadFull(r, body); err != nil {
		return "", err
	}
	if body[len(body)-1] != 0 || strings.IndexByte(string(body[:len(body)-1]), 0) >= 0 {
		return "", ProtoErr("invalid password packet: not one NUL-terminated string")
	}
	pw := string(body[:len(body)-1])
	if pw == "" {
		return "", &Error{Code: stateInvalidPassword, Msg: "empty password returned by client"}
	}
	return pw, nil
}

// parseUser splits the startup user "<database id or name>.<role>" at its
// first dot (database ids and names have none; role names may).
func parseUser(user string) (db, role string, err error) {
	db, role, ok := strings.Cut(user, ".")
	if !ok || db == "" || role == "" {
		return "", "", &Error{Code: stateInvalidAuthSpec, Msg: fmt.Sprintf("user %q names no database: it is not of the form <database>.<role>, and neither the options, the TLS server name nor the password name one", user),
			Hint: routeHint}
	}
	return db, role, nil
}

// checkDatabase accepts the startup database "postgres", none, or the user
// name (libpq's default when no database is given).
func checkDatabase(database, user string) error {
	if database == "" || database == "postgres" || database == user {
		return nil
	}
	return &Error{Code: StateUnknownDatabase, Msg: fmt.Sprintf("database %q does not exist", database),
		Hint: "every db9 database is reached as PostgreSQL database postgres; " + routeHint}
}

// BackendParams builds the startup parameters of the backend session: the
// client's own (options, application_name, client_encoding, any setting)
// minus what the proxy decides — user, database, replication, protocol
// extensions, and anything under request.jwt. — plus settings, which
// PostgreSQL applies after the options string, so they win over any -c the
// client put there too.
func BackendParams(client map[string]string, role string, settings map[string]string) map[string]string {
	out := make(map[string]string, len(client)+len(settings)+2)
	for k, v := range client {
		lk := strings.ToLower(k)
		switch {
		case lk == "user", lk == "database", lk == "replication", strings.HasPrefix(lk, "_pq_."),
			strings.HasPrefix(lk, "request.jwt."):
			continue
		}
		out[k] = v
	}
	for k, v := range settings {
		out[k] = v
	}
	out["user"] = role
	out["database"] = "postgres"
	return out
}

// protocolExtensions lists the _pq_.* options a client asked for; the
// proxy supports none.
func protocolExtensions(params map[string]string) []string {
	var out []string
	for k := range params {
		if strings.HasPrefix(k, "_pq_.") {
			out = append(out, k)
		}
	}
	return out
}

// checkOptions refuses startup options that try to set request.jwt.*: those
// carry what a connect token proved, and only the proxy sets them. (The
// options string is split by PostgreSQL with backslash escapes, so the
// check looks through them.)
func checkOptions(params map[string]string) error {
	for k, v := range params {
		if strings.ToLower(k) != "options" {
			continue
		}
		if strings.Contains(strings.ToLower(strings.ReplaceAll(v, `\`, "")), "request.jwt") {
			return &Error{Code: stateInvalidAuthSpec, Msg: "startup options may not set request.jwt.* (they are set from the connect token)"}
		}
	}
	return nil
}

// StartupAnswer is a backend's answer to a startup message.
type StartupAnswer struct {
	Msgs    []byte // as sent, BackendKeyData left out, through ReadyForQuery
	Key     *pgproto3.BackendKeyData
	Refusal []byte // the backend's ErrorResponse instead, when it refused
}

// ReadStartupAnswer reads the backend's answer to a startup message
// (AuthenticationOk, ParameterStatus..., BackendKeyData, ReadyForQuery,
// or an ErrorResponse). The backend is trusted to ask for no password.
func ReadStartupAnswer(br *bufio.Reader) (a StartupAnswer, err error) {
	a.Msgs = make([]byte, 0, 1024)
	var hdr [5]byte
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return a, err
		}
		n := int(binary.BigEndian.Uint32(hdr[1:]))
		if n < 4 || n > 1<<20 {
			return a, fmt.Errorf("backend message %q of length %d", hdr[0], n)
		}
		body := make([]byte, n-4)
		if _, err := io.ReadFull(br, body); err != nil {
			return a, err
		}
		switch hdr[0] {
		case 'R':
			if len(body) < 4 || binary.BigEndian.Uint32(body) != 0 {
				return a, fmt.Errorf("backend asked for authentication (trust expected)")
			}
		case 'K':
			if a.Key != nil {
				return a, fmt.Errorf("backend sent BackendKeyData twice")
			}
			a.Key = &pgproto3.BackendKeyData{}
			if err := a.Key.Decode(body); err != nil {
				return a, err
			}
			continue
		case 'E':
			a.Refusal = append(hdr[:], body...)
			return a, nil
		}
		a.Msgs = append(a.Msgs, hdr[:]...)
		a.Msgs = append(a.Msgs, body...)
		if hdr[0] == 'Z' {
			return a, nil
		}
	}
}
