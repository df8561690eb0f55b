package neon

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/coder/websocket"

	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/pgproxy/wire"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/web"
)

// Authenticator checks a login and returns the database's instance leased;
// *control.PGAccess implements it, as for the front door.
type Authenticator interface {
	Login(ctx context.Context, dbRef, role, password string) (*control.PGSession, error)
}

// Tunnel serves a wire-protocol connection; *pgproxy.Proxy implements it.
type Tunnel interface {
	ServeConn(conn net.Conn, hostName string)
}

// Config configures a Handler.
type Config struct {
	Auth   Authenticator
	Tunnel Tunnel // nil: no WebSocket endpoint
	// PublicHost is the front door's host name: a connection string's host
	// "<database>.<PublicHost>" names the database, as the TLS server name
	// does at the front door.
	PublicHost string
	// MaxResponseBytes bounds the rows of one answer (default 10 MiB, as
	// Neon's proxy); past it the request fails with status 507.
	MaxResponseBytes int
	Logger           *slog.Logger
}

// Handler serves Neon's serverless-driver endpoints.
type Handler struct {
	cfg Config
	log *slog.Logger
}

// New returns a Handler; it does no I/O.
func New(cfg Config) *Handler {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.MaxResponseBytes <= 0 {
		cfg.MaxResponseBytes = 10 << 20
	}
	return &Handler{cfg: cfg, log: cfg.Logger.With(logkey.Component, "neon")}
}

// Register adds POST /sql (and its CORS preflight) and, with a Tunnel, the
// WebSocket at /v2 and below.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.HandleFunc("POST /sql", h.serveSQL)
	mux.HandleFunc("OPTIONS /sql", preflight)
	if h.cfg.Tunnel != nil {
		mux.HandleFunc("GET /v2", h.serveWS)
		mux.HandleFunc("GET /v2/", h.serveWS)
	}
}

// allowHeaders are the request headers the driver sends from a browser.
const allowHeaders = "Authorization, Content-Type, Neon-Connection-String, Neon-Raw-Text-Output, Neon-Array-Mode, " +
	"Neon-Pool-Opt-In, Neon-Batch-Isolation-Level, Neon-Batch-Read-Only, Neon-Batch-Deferrable"

// preflight allows the driver in any web page: the credentials are in the
// request itself, never in cookies.
func preflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "POST, OPTIONS")
	h.Set("Access-Control-Allow-Headers", allowHeaders)
	h.Set("Access-Control-Max-Age", "86400")
	w.WriteHeader(http.StatusNoContent)
}

// serveWS upgrades to a WebSocket and hands the protocol bytes it carries
// to the front door.
func (h *Handler) serveWS(w http.ResponseWriter, r *http.Request) {
	// Origins are not checked: the session authenticates inside the
	// tunnel with a password, token or key, never with cookies.
	c, err := websocket.Accept(w, r, &websocket.AcceptOptions{InsecureSkipVerify: true})
	if err != nil {
		return // Accept answered the client
	}
	// The front door ends the session (and closes the conn) on its own,
	// also when the server closes.
	conn := websocket.NetConn(context.Background(), c, websocket.MessageBinary)
	h.cfg.Tunnel.ServeConn(conn, tunnelHost(r))
}

// tunnelHost is the host the client meant: Neon's wsproxy convention
// passes it as ?address=host:port, else it is the request's own host.
func tunnelHost(r *http.Request) string {
	host := r.URL.Query().Get("address")
	if host == "" {
		host = r.Host
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		return h
	}
	return host
}

// serveSQL answers POST /sql.
func (h *Handler) serveSQL(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Access-Control-Allow-Origin", "*")
	body, status, err := h.sql(w, r)
	if err != nil {
		status, body = h.errorBody(r, err)
	}
	web.WriteJSONBody(w, status, append(body, '\n'))
}

func (h *Handler) sql(w http.ResponseWriter, r *http.Request) ([]byte, int, error) {
	opts, err := parseHeaders(r.Header)
	if err != nil {
		return nil, 0, err
	}
	ci, err := parseConnString(r.Header.Get("Neon-Connection-String"))
	if err != nil {
		return nil, 0, err
	}
	if ci.database != "" && ci.database != "postgres" && ci.database != ci.user {
		return nil, 0, &loginError{err: platform.Errorf(platform.CodeNotFound,
			"database %q does not exist: every db9 database is reached as PostgreSQL database postgres", ci.database)}
	}
	raw, err := web.ReadBody(r)
	if err != nil {
		return nil, 0, err
	}
	p, err := decodePayload(raw)
	if err != nil {
		return nil, 0, err
	}
	if p.single == nil { // Neon's proxy echoes the batch's options
		for k, v := range opts.batchHdrs {
			w.Header()[k] = v
		}
	}
	dbRef, role, password, err := wire.Route(ci.user, ci.options, ci.host, h.cfg.PublicHost, ci.password)
	if err != nil {
		return nil, 0, &loginError{err: err}
	}
	if strings.Contains(strings.ToLower(ci.options), "request.jwt") {
		return nil, 0, &loginError{err: platform.Errorf(platform.CodeForbidden, "options may not set request.jwt.* (they are set from the connect token)")}
	}
	sess, err := h.cfg.Auth.Login(r.Context(), dbRef, role, password)
	if err != nil {
		return nil, 0, &loginError{err: err}
	}
	defer sess.Lease.Release()
	out, err := h.run(r.Context(), sess, p, opts)
	if err != nil {
		return nil, 0, err
	}
	return out, http.StatusOK, nil
}

// userError is a mistake in the request, answered with status 400.
type userError string

func (e userError) Error() string { return string(e) }

// loginError is a refused or failed login, with the SQLSTATE the front
// door would give it.
type loginError struct{ err error }

func (e *loginError) Error() string { return e.err.Error() }
func (e *loginError) Unwrap() error { return e.err }

// tooLarge is an answer past MaxResponseBytes.
type tooLarge int

func (e tooLarge) Error() string { return "" }

// errorBody renders err in Neon's error shape: status 400 for what the
// client can fix (SQL errors included), 5xx for the rest.
func (h *Handler) errorBody(r *http.Request, err error) (int, []byte) {
	var pe *pgError
	var le *loginError
	var ue userError
	var tl tooLarge
	switch {
	case errors.As(err, &pe):
		return http.StatusBadRequest, pe.body
	case errors.As(err, &tl):
		return http.StatusInsufficientStorage, mustJSON(map[string]any{"message": "response is too large (max is " + itoa(int(tl)) + " bytes)"})
	case errors.As(err, &ue):
		return http.StatusBadRequest, mustJSON(map[string]any{"message": string(ue)})
	case errors.As(err, &le):
		code, msg, hint := wire.ErrorFields(le.err)
		status := http.StatusBadRequest // the front door's own refusals too
		if code == "XX000" {
			status = http.StatusInternalServerError
		} else if pe := (*platform.Error)(nil); errors.As(le.err, &pe) {
			switch pe.Code {
			case platform.CodeUnavailable:
				status = http.StatusServiceUnavailable
			case platform.CodeInternal:
				status = http.StatusInternalServerError
			}
		}
		if status != http.StatusBadRequest {
			h.log.Warn("login failed", logkey.ReqID, web.RequestID(r), logkey.Err, le.err)
		}
		return status, errorJSON(errorFields{message: msg, code: code, hint: hint, severity: "FATAL"})
	}
	var plat *platform.Error
	if errors.As(err, &plat) && plat.Code != platform.CodeInternal && plat.Code != platform.CodeUnavailable {
		return web.Status(plat.Code), mustJSON(map[string]any{"message": plat.Message})
	}
	h.log.Warn("sql over http failed", logkey.ReqID, web.RequestID(r), logkey.Err, err)
	if errors.As(err, &plat) && plat.Code == platform.CodeUnavailable {
		return http.StatusServiceUnavailable, mustJSON(map[string]any{"message": plat.Message})
	}
	return http.StatusInternalServerError, mustJSON(map[string]any{"message": "internal error"})
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}
