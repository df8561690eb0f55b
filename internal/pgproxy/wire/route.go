package wire

import (
	"fmt"
	"net"
	"strings"
)

// A client names its db9 database in one of three ways:
//
//   - in the user name, "<database id or name>.<role>" (db9's own form);
//   - in the startup options, "endpoint=<database id or name>" (Neon's
//     convention for clients without SNI; "--endpoint=" and Neon's older
//     "project=" too), with the plain role as the user;
//   - in the TLS server name, "<database id or name>.<public host>", with
//     the plain role as the user;
//   - in front of the password, "endpoint=<database>$<password>" (Neon's
//     workaround for clients that can set neither options nor SNI; ";"
//     may stand for "$", "project=" for "endpoint="), with the plain role
//     as the user, when nothing else names the database.
//
// With the last three, the role is the user exactly as the driver sent
// it, so current_user and session_user equal what the client connected as.

// routeHint is the hint of every refusal that is about naming the database.
const routeHint = "name the db9 database in the user (<database>.<role>, e.g. 4f8a1c2b9d0e.admin), " +
	"in the options (options=endpoint=<database>), in the host name (<database id>.<public host>, TLS only), " +
	"or in front of the password (endpoint=<database>$<password>)"

// route decides the database and role of a session from its startup user,
// its options string and the TLS server name (empty without TLS), and
// returns the options to pass on to the backend (without the endpoint).
// dbRef is empty when only the password may still name the database.
// publicHost is the host name of the front door in connection strings.
func route(user, options, serverName, publicHost string) (dbRef, role, backendOptions string, err error) {
	ep, backendOptions, err := splitEndpointOption(options)
	if err != nil {
		return "", "", "", err
	}
	sni := sniDatabase(serverName, publicHost)
	if ep != "" && sni != "" && !strings.EqualFold(ep, sni) {
		return "", "", "", &Error{Code: stateInvalidAuthSpec,
			Msg:  fmt.Sprintf("options endpoint=%s and the TLS server name %s name different databases", ep, serverName),
			Hint: routeHint}
	}
	named := ep
	if named == "" {
		named = sni
	}
	if named == "" {
		if !strings.Contains(user, ".") {
			// Perhaps the password names it (passwordEndpoint); the
			// caller asks for the password first.
			return "", user, backendOptions, nil
		}
		db, role, err := parseUser(user)
		return db, role, backendOptions, err
	}
	// The database is named apart from the user: the user is the role as
	// it is (role names may hold dots), unless it is the usual
	// "<same database>.<role>" (a wildcard host name in front of an old
	// connection string).
	if db, r, ok := strings.Cut(user, "."); ok && r != "" && strings.EqualFold(db, named) {
		return named, r, backendOptions, nil
	}
	return named, user, backendOptions, nil
}

// endpointKeys are the options that name the database, and are not passed
// on to PostgreSQL (which would take "--endpoint=x" for a setting named
// endpoint and refuse a bare "endpoint=x").
var endpointKeys = []string{"endpoint=", "--endpoint=", "project="}

// splitEndpointOption takes the database named in a startup options string
// out of it. The string is split as PostgreSQL splits it (pg_split_opts:
// white space separates, a backslash takes the next byte literally); the
// other words are kept as they were written.
func splitEndpointOption(options string) (endpoint, rest string, err error) {
	var kept []string
	for _, w := range splitOptions(options) {
		value, isEndpoint := "", false
		for _, k := range endpointKeys {
			if len(w.text) >= len(k) && strings.EqualFold(w.text[:len(k)], k) {
				value, isEndpoint = w.text[len(k):], true
				break
			}
		}
		if !isEndpoint {
			kept = append(kept, w.raw)
			continue
		}
		switch {
		case value == "":
			return "", "", &Error{Code: stateInvalidAuthSpec, Msg: fmt.Sprintf("options %q names no database", w.text), Hint: routeHint}
		case endpoint != "" && !strings.EqualFold(endpoint, value):
			return "", "", &Error{Code: stateInvalidAuthSpec,
				Msg: fmt.Sprintf("options name two databases, %s and %s", endpoint, value), Hint: routeHint}
		}
		endpoint = value
	}
	if endpoint == "" {
		return "", options, nil
	}
	return endpoint, strings.Join(kept, " "), nil
}

// optionWord is one word of an options string: as written (raw) and with
// its escapes resolved (text).
type optionWord struct{ raw, text string }

// splitOptions splits an options string as PostgreSQL's pg_split_opts does.
func splitOptions(s string) []optionWord {
	isSpace := func(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v' }
	var out []optionWord
	for i := 0; i < len(s); {
		for i < len(s) && isSpace(s[i]) {
			i++
		}
		if i == len(s) {
			break
		}
		start := i
		var text strings.Builder
		for i < len(s) && !isSpace(s[i]) {
			if s[i] == '\\' && i+1 < len(s) {
				i++
			}
			text.WriteByte(s[i])
			i++
		}
		out = append(out, optionWord{raw: s[start:i], text: text.String()})
	}
	return out
}

// sniDatabase returns the database a TLS server name "<database>.<public
// host>" names, or "" when it names none (no TLS, no SNI, the public host
// itself, another name, or a public host that is an IP address).
func sniDatabase(serverName, publicHost string) string {
	if serverName == "" || publicHost == "" || net.ParseIP(publicHost) != nil {
		return ""
	}
	sn := strings.ToLower(strings.TrimSuffix(serverName, "."))
	suffix := "." + strings.ToLower(strings.TrimSuffix(publicHost, "."))
	label, ok := strings.CutSuffix(sn, suffix)
	if !ok || label == "" || strings.Contains(label, ".") {
		return ""
	}
	return label
}

// passwordEndpoint splits a password "endpoint=<database>$<password>" (or
// with ";" for "$", or "project=" for "endpoint=") into the database and
// the password proper. ok is false for any other password.
func passwordEndpoint(password string) (endpoint, rest string, ok bool) {
	for _, k := range []string{"endpoint=", "project="} {
		if v, found := strings.CutPrefix(password, k); found {
			i := strings.IndexAny(v, "$;")
			if i <= 0 || i == len(v)-1 {
				return "", "", false
			}
			return v[:i], v[i+1:], true
		}
	}
	return "", "", false
}

// Route applies the front door's routing to a login that does not come
// through it (Neon's SQL over HTTP): the database and role named by the
// user, the options string, the host the client addressed and, when none
// of those names the database, the password ("endpoint=<db>$<password>"),
// and the password proper. Errors carry the SQLSTATE the front door would
// send (ErrorFields).
func Route(user, options, hostName, publicHost, password string) (dbRef, role, pw string, err error) {
	dbRef, role, _, err = route(user, options, hostName, publicHost)
	if err != nil {
		return "", "", "", err
	}
	if dbRef != "" {
		return dbRef, role, password, nil
	}
	ep, rest, ok := passwordEndpoint(password)
	if !ok {
		_, _, err = parseUser(user)
		return "", "", "", err
	}
	return ep, role, rest, nil
}
