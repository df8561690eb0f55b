package controlapi

import (
	"log/slog"
	"net/http"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/control/observability"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/web"
)

// API is the /customer HTTP surface. It talks to control's use cases
// only. Its handlers are grouped by use case into small types, one per
// resource family, each holding the use case it calls (accountsHandlers
// in accounts.go, tokens.go and adopt.go; databasesHandlers in
// databases.go and branch.go; sqlHandlers in sql.go, schema.go, users.go
// and migrations.go; wireHandlers in wireaccess.go and fs9.go;
// dataPlaneHandlers in dataplane.go; functionsHandlers, runsHandlers and
// secretsHandlers in functions.go, runs.go and secrets.go;
// observabilityHandlers in observability.go). Register lists every route.
type API struct {
	svc *control.Service
	obs *observability.Observability // nil: observability answers 501
	a   web.Adapter
}

// New returns the API over the control plane's use cases.
func New(svc *control.Service, log *slog.Logger) *API {
	return &API{svc: svc, a: web.NewAdapter(log)}
}

// Register adds every route to mux.
func (api *API) Register(mux *http.ServeMux) {
	h, authed := api.a.Handle, api.authed
	svc := api.svc
	acc := accountsHandlers{svc.Accounts}
	dbs := databasesHandlers{databases: svc.Databases, branches: svc.Branches}
	in := sqlHandlers{svc.SQL}
	wire := wireHandlers{svc.Wire}
	dp := dataPlaneHandlers{svc.DataPlane}
	fn, runs, sec := functionsHandlers{svc.Functions}, runsHandlers{svc.FunctionRuns}, secretsHandlers{svc.Secrets}
	obs := observabilityHandlers{api.obs}

	mux.Handle("POST /customer/anonymous-register", h(acc.anonymousRegister))
	mux.Handle("POST /customer/anonymous-refresh", h(acc.anonymousRefresh))
	mux.Handle("GET /customer/me", authed(acc.me))
	// accounts and tokens: tokens, claim, adopt-anonymous-databases
	mux.Handle("POST /customer/tokens", authed(acc.createToken))
	mux.Handle("GET /customer/tokens", authed(acc.listTokens))
	mux.Handle("DELETE /customer/tokens/{token_id}", authed(acc.revokeToken))
	mux.Handle("POST /customer/claim", authed(acc.claim))
	mux.Handle("POST /customer/adopt-anonymous-databases/preflight", authed(acc.adoptPreflight))
	mux.Handle("POST /customer/adopt-anonymous-databases", authed(acc.adopt))

	mux.Handle("POST /customer/databases", authed(dbs.createDatabase))
	mux.Handle("GET /customer/databases", authed(dbs.listDatabases))
	mux.Handle("GET /customer/databases/{database_id}", authed(dbs.getDatabase))
	mux.Handle("DELETE /customer/databases/{database_id}", authed(dbs.deleteDatabase))
	mux.Handle("POST /customer/databases/{database_id}/reset-password", authed(dbs.resetPassword))
	mux.Handle("GET /customer/databases/{database_id}/credentials", authed(dbs.credentials))
	mux.Handle("POST /customer/databases/{database_id}/branch", authed(dbs.branchDatabase))
	mux.Handle("POST /customer/databases/{database_id}/sql", authed(in.sql))
	mux.Handle("GET /customer/databases/{database_id}/observability", authed(obs.observability))
	// schema, dump, users, migrations
	mux.Handle("GET /customer/databases/{database_id}/schema", authed(in.schema))
	mux.Handle("POST /customer/databases/{database_id}/dump", authed(in.dump))
	mux.Handle("GET /customer/databases/{database_id}/users", authed(in.listUsers))
	mux.Handle("POST /customer/databases/{database_id}/users", authed(in.createUser))
	mux.Handle("DELETE /customer/databases/{database_id}/users/{username}", authed(in.deleteUser))
	mux.Handle("GET /customer/databases/{database_id}/migrations", authed(in.listMigrations))
	mux.Handle("POST /customer/databases/{database_id}/migrations", authed(in.applyMigration))
	// wire access: connect-token, connect-keys
	mux.Handle("POST /customer/databases/{database_id}/connect-token", authed(wire.connectToken))
	mux.Handle("POST /customer/databases/{database_id}/connect-keys", authed(wire.createConnectKey))
	mux.Handle("GET /customer/databases/{database_id}/connect-keys", authed(wire.listConnectKeys))
	mux.Handle("DELETE /customer/databases/{database_id}/connect-keys/{key_id}", authed(wire.revokeConnectKey))
	mux.Handle("POST /customer/databases/{database_id}/fs-connect", authed(wire.fsConnect))
	// browser data plane: auth-config, publishable-keys, service-keys
	pk, sk := dp.dataKeys(auth.PublishableKey), dp.dataKeys(auth.ServiceKey)
	mux.Handle("GET /customer/databases/{database_id}/auth-config", authed(dp.getAuthConfig))
	mux.Handle("PUT /customer/databases/{database_id}/auth-config", authed(dp.putAuthConfig))
	mux.Handle("POST /customer/databases/{database_id}/publishable-keys", authed(pk.create))
	mux.Handle("GET /customer/databases/{database_id}/publishable-keys", authed(pk.list))
	mux.Handle("DELETE /customer/databases/{database_id}/publishable-keys/{key_id}", authed(pk.revoke))
	mux.Handle("POST /customer/databases/{database_id}/service-keys", authed(sk.create))
	mux.Handle("GET /customer/databases/{database_id}/service-keys", authed(sk.list))
	mux.Handle("DELETE /customer/databases/{database_id}/service-keys/{key_id}", authed(sk.revoke))
	// functions, runs, logs, secrets
	mux.Handle("POST /customer/databases/{database_id}/functions/bundles", authed(fn.uploadBundle))
	mux.Handle("POST /customer/databases/{database_id}/functions", authed(fn.createFunction))
	mux.Handle("GET /customer/databases/{database_id}/functions", authed(fn.listFunctions))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}", authed(fn.getFunction))
	mux.Handle("PUT /customer/databases/{database_id}/functions/{function_id}", authed(fn.updateFunction))
	mux.Handle("DELETE /customer/databases/{database_id}/functions/{function_id}", authed(fn.deleteFunction))
	mux.Handle("POST /customer/databases/{database_id}/functions/{function_id}/invoke", authed(fn.invokeFunction))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}/runs", authed(runs.listRuns))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}/runs/{run_id}", authed(runs.getRun))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}/runs/{run_id}/logs", authed(runs.runLogs))
	mux.Handle("GET /customer/databases/{database_id}/secrets", authed(sec.listSecrets))
	mux.Handle("PUT /customer/databases/{database_id}/secrets/{name}", authed(sec.putSecret))
	mux.Handle("DELETE /customer/databases/{database_id}/secrets/{name}", authed(sec.deleteSecret))
}

// authedFunc is a handler that runs for an authenticated principal.
type authedFunc func(w http.ResponseWriter, r *http.Request, p tenancy.Principal) error

func (api *API) authed(h authedFunc) http.Handler {
	return api.a.Handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := api.svc.Accounts.Authenticate(r.Context(), bearer(r))
		if err != nil {
			return err
		}
		return h(w, r, p)
	})
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	const prefix = "bearer "
	if len(h) > len(prefix) && (h[:len(prefix)] == prefix || h[:len(prefix)] == "Bearer ") {
		return h[len(prefix):]
	}
	return ""
}

// mapAll renders every element of a list response with f.
func mapAll[T, U any](in []T, f func(T) U) []U {
	out := make([]U, len(in))
	for i, v := range in {
		out[i] = f(v)
	}
	return out
}
