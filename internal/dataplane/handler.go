package dataplane

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strings"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/control/dataaccess"
	"github.com/db9/db9/internal/control/observability"
	"github.com/db9/db9/internal/cors"
	"github.com/db9/db9/internal/dataapi"
	"github.com/db9/db9/internal/dataapi/pgrst"
	"github.com/db9/db9/internal/jwtverify"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/ratelimit"
)

// Keys is what the data plane needs of control: dataaccess.DataPlane.
type Keys interface {
	ResolveDataKey(ctx context.Context, key string) (dataaccess.DataKey, error)
	AuthConfig(ctx context.Context, databaseID string) (dataaccess.AuthConfig, error)
	KeyCache() *jwtverify.KeyCache
}

// Config wires a Handler.
type Config struct {
	Keys      Keys
	Placement placement.Connector
	Logger    *slog.Logger
	// Requests is told of every request that reaches a database
	// (observability); nil: none.
	Requests observability.RequestObserver
}

// Handler serves /data/<db>/rest/v1/... for every database.
type Handler struct {
	keys  Keys
	api   *dataapi.Handler
	users *endUsers
	limit *ratelimit.Limiter
	log   *slog.Logger
	reqs  observability.RequestObserver
}

// New returns a Handler; it does no I/O.
func New(cfg Config) *Handler {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	b := backend{pc: cfg.Placement}
	return &Handler{
		keys:  cfg.Keys,
		api:   dataapi.NewHandler(b, log),
		users: newEndUsers(cfg.Keys.KeyCache(), b),
		limit: ratelimit.New(ratelimit.Config{}),
		log:   log.With(logkey.Component, "dataplane"),
		reqs:  cfg.Requests,
	}
}

// Prefix is where the data plane is mounted.
const Prefix = "/data/"

// Register mounts the handler on mux for every method.
func (h *Handler) Register(mux *http.ServeMux) { mux.Handle(Prefix, h) }

// Forget drops what is cached for a database (schema, verifier, roles);
// the server calls it when the database is deleted.
func (h *Handler) Forget(databaseID string) {
	h.api.Forget(databaseID)
	h.users.forget(databaseID)
}

// Messages of the 401 answers. Which of the reasons applies to a key is
// not told (dataaccess.DataPlane.ResolveDataKey gives one answer for all).
const (
	keyMessage   = "Invalid API key"
	keyHint      = "Double check the apikey header: the key must be a live publishable or service key of this database."
	noKeyMessage = "No API key found in request"
	noKeyHint    = "Send a publishable or service key in the apikey header or as Authorization: Bearer <key>."
)

func unauthorized(code, message, hint string) *pgrst.Error {
	return &pgrst.Error{Status: http.StatusUnauthorized, Code: code, Message: message, Hint: hint,
		Headers: map[string]string{"WWW-Authenticate": "Bearer"}}
}

// splitPath returns the database reference and what follows /rest/v1
// ("/" at least), or ok false for a path outside the data API.
func splitPath(p string) (db, rest string, ok bool) {
	p, found := strings.CutPrefix(p, Prefix)
	if !found {
		return "", "", false
	}
	db, after, _ := strings.Cut(p, "/")
	if db == "" {
		return "", "", false
	}
	after, found = strings.CutPrefix(after, "rest/v1")
	if !found || (after != "" && after[0] != '/') {
		return "", "", false
	}
	if after == "" {
		after = "/"
	}
	return db, after, true
}

// credentials returns the data key and the end user's JWT ("" when none)
// of a request. The key is the apikey header or else the bearer token;
// supabase-js sends the key in both when no user is signed in, so a
// bearer equal to apikey is no JWT.
func credentials(r *http.Request) (key, jwt string, err *pgrst.Error) {
	key = strings.TrimSpace(r.Header.Get("apikey"))
	bearer := ""
	if a := r.Header.Get("Authorization"); a != "" {
		scheme, tok, _ := strings.Cut(a, " ")
		if !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
			return "", "", unauthorized("PGRST301", "Authorization header must be Bearer <token>", "")
		}
		bearer = strings.TrimSpace(tok)
	}
	switch {
	case key == "" && bearer == "":
		return "", "", unauthorized("PGRST302", noKeyMessage, noKeyHint)
	case key == "":
		return bearer, "", nil
	case bearer == "" || bearer == key:
		return key, "", nil
	}
	if _, perr := auth.ParseDataKey(bearer); perr == nil {
		// Two different keys: which one is meant cannot be known.
		return "", "", unauthorized("PGRST301", keyMessage, "The apikey header and the bearer token are different keys.")
	}
	return key, bearer, nil
}

// ServeHTTP authenticates the request and runs it (see the package doc for
// the order of the checks).
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	dbRef, rest, ok := splitPath(r.URL.Path)
	if !ok {
		writeError(w, &pgrst.Error{Status: 404, Code: "PGRST125", Message: "Invalid path specified in request URL",
			Hint: "The data API is at /data/<database id or name>/rest/v1/"})
		return
	}
	if cors.IsPreflight(r) {
		cors.Preflight(w, r)
		return
	}
	key, jwt, perr := credentials(r)
	if perr != nil {
		writeError(w, perr)
		return
	}
	k, err := h.keys.ResolveDataKey(r.Context(), key)
	if err != nil {
		if platform.ErrorCode(err) == platform.CodeUnauthorized {
			writeError(w, unauthorized("PGRST301", keyMessage, keyHint))
			return
		}
		h.unavailable(w, dbRef, err)
		return
	}
	if dbRef != k.DatabaseID && dbRef != k.DatabaseName {
		writeError(w, unauthorized("PGRST301", keyMessage, keyHint))
		return
	}
	p, ok := h.principal(w, r, k, jwt)
	if !ok {
		return
	}
	if h.reqs == nil {
		h.api.Serve(w, r, k.DatabaseID, rest, p)
		return
	}
	end := h.reqs.Begin(k.DatabaseID)
	sw := &statusWriter{ResponseWriter: w}
	h.api.Serve(sw, r, k.DatabaseID, rest, p)
	end(sw.failure())
}

// statusWriter remembers the status of a data API answer, for the
// request's observability record: a status of 400 or more is an error
// (PostgREST's mapping of the SQLSTATE, or a request refused before it).
type statusWriter struct {
	http.ResponseWriter
	code int
}

func (w *statusWriter) WriteHeader(code int) {
	if w.code == 0 {
		w.code = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

var errStatus = errors.New("data API request failed")

func (w *statusWriter) failure() error {
	if w.code >= 400 {
		return errStatus
	}
	return nil
}

// principal decides who the request runs as, or answers it and returns
// false.
func (h *Handler) principal(w http.ResponseWriter, r *http.Request, k dataaccess.DataKey, jwt string) (*dataapi.Principal, bool) {
	if k.Kind == auth.ServiceKey {
		if cors.RefuseBrowser(w, r) {
			return nil, false
		}
		if jwt != "" {
			writeError(w, unauthorized("PGRST301", "A service key runs as service_role; it takes no end-user JWT", ""))
			return nil, false
		}
		return &dataapi.Principal{Role: "service_role", Claims: json.RawMessage(`{"role":"service_role"}`),
			Schemas: serviceSchemas(r), Service: true}, true
	}
	if !cors.Apply(w, r, cors.Policy{AllowedOrigins: k.AllowedOrigins}) {
		return nil, false
	}
	if k.RateLimit != nil {
		d := h.limit.Allow(k.ID, *k.RateLimit)
		if !d.Allowed {
			d.Refuse(w)
			return nil, false
		}
		d.WriteHeaders(w)
	}
	p := &dataapi.Principal{Schemas: k.ExposedSchemas, Tables: k.ExposedTables}
	if jwt == "" {
		p.Role, p.Anonymous, p.Claims = "anon", true, json.RawMessage(`{"role":"anon"}`)
		return p, true
	}
	ctx := r.Context()
	cfg, err := h.keys.AuthConfig(ctx, k.DatabaseID)
	if err != nil {
		h.unavailable(w, k.DatabaseID, err)
		return nil, false
	}
	v, err := h.users.verifier(cfg, k.DatabaseID)
	if errors.Is(err, errNoAuthConfig) {
		writeError(w, unauthorized("PGRST301", "JWT not accepted: "+err.Error(), "Configure auth-config (byo_jwt) for this database, or send no JWT to run as anon."))
		return nil, false
	}
	if err != nil {
		h.unavailable(w, k.DatabaseID, err)
		return nil, false
	}
	res, err := v.Verify(ctx, jwt)
	if err != nil {
		if errors.Is(err, jwtverify.ErrUnavailable) {
			h.log.Warn("jwks unavailable", logkey.DB, k.DatabaseID, logkey.Err, err)
		}
		code := "PGRST301"
		if errors.Is(err, jwtverify.ErrExpired) {
			code = "PGRST303"
		}
		writeError(w, unauthorized(code, err.Error(), ""))
		return nil, false
	}
	allowed, err := h.users.checkRole(ctx, k.DatabaseID, res.Role)
	if err != nil {
		var pe *pgrst.Error
		if errors.As(err, &pe) {
			writeError(w, pe)
			return nil, false
		}
		h.unavailable(w, k.DatabaseID, err)
		return nil, false
	}
	if !allowed {
		writeError(w, unauthorized("PGRST301", "JWT role "+quote(res.Role)+" may not be used", "The role must exist in the database, not be admin, a superuser, BYPASSRLS or a platform role, and be granted to the data API."))
		return nil, false
	}
	p.Role, p.Claims = res.Role, res.Claims
	return p, true
}

// serviceSchemas are the schemas a service key may choose from: every
// schema of the customer's (dataapi refuses the platform's), public first
// as the default profile. A schema that does not exist behaves as an
// empty one.
func serviceSchemas(r *http.Request) []string {
	s := []string{"public"}
	for _, h := range []string{"Accept-Profile", "Content-Profile"} {
		if v := r.Header.Get(h); v != "" && v != "public" {
			s = append(s, v)
		}
	}
	return s
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// unavailable answers 503 for a failure that is not the caller's.
func (h *Handler) unavailable(w http.ResponseWriter, db string, err error) {
	h.log.Error("data api request failed", logkey.DB, db, logkey.Err, err)
	writeError(w, &pgrst.Error{Status: http.StatusServiceUnavailable, Code: "PGRST000", Message: "Database client error. Retrying the connection."})
}

func writeError(w http.ResponseWriter, e *pgrst.Error) {
	for k, v := range e.Headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(e.Status)
	b, _ := json.Marshal(e)
	_, _ = w.Write(b)
}
