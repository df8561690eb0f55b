package controlapi

import (
	"log/slog"
	"net/http"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/control"
	"github.com/db9/db9/internal/web"
)

// API is the /customer HTTP surface. It talks to control's use cases
// only, one field per group.
type API struct {
	accounts  *control.Accounts
	databases *control.Databases
	branches  *control.Branches
	inside    *control.SQL           // SQL, schema, dump, users, migrations
	wire      *control.WireAccess    // nil: its routes answer 501
	dp        *control.DataPlane     // browser data plane; nil: its routes answer 501
	fn        *control.Functions     // functions and secrets; nil: their routes answer 501
	obs       *control.Observability // nil: observability answers 501
	a         web.Adapter
}

// New returns the API over the control plane's use cases.
func New(svc *control.Service, log *slog.Logger) *API {
	return &API{accounts: svc.Accounts, databases: svc.Databases, branches: svc.Branches, inside: svc.SQL, wire: svc.Wire, dp: svc.DataPlane, fn: svc.Functions,
		a: web.NewAdapter(log)}
}

// Register adds every route to mux.
func (api *API) Register(mux *http.ServeMux) {
	h, authed := api.a.Handle, api.authed
	mux.Handle("POST /customer/anonymous-register", h(api.anonymousRegister))
	mux.Handle("POST /customer/anonymous-refresh", h(api.anonymousRefresh))
	mux.Handle("GET /customer/me", authed(api.me))
	// accounts and tokens: tokens, claim, adopt-anonymous-databases
	mux.Handle("POST /customer/tokens", authed(api.createToken))
	mux.Handle("GET /customer/tokens", authed(api.listTokens))
	mux.Handle("DELETE /customer/tokens/{token_id}", authed(api.revokeToken))
	mux.Handle("POST /customer/claim", authed(api.claim))
	mux.Handle("POST /customer/adopt-anonymous-databases/preflight", authed(api.adoptPreflight))
	mux.Handle("POST /customer/adopt-anonymous-databases", authed(api.adopt))

	mux.Handle("POST /customer/databases", authed(api.createDatabase))
	mux.Handle("GET /customer/databases", authed(api.listDatabases))
	mux.Handle("GET /customer/databases/{database_id}", authed(api.getDatabase))
	mux.Handle("DELETE /customer/databases/{database_id}", authed(api.deleteDatabase))
	mux.Handle("POST /customer/databases/{database_id}/reset-password", authed(api.resetPassword))
	mux.Handle("GET /customer/databases/{database_id}/credentials", authed(api.credentials))
	mux.Handle("POST /customer/databases/{database_id}/branch", authed(api.branchDatabase))
	mux.Handle("POST /customer/databases/{database_id}/sql", authed(api.sql))
	mux.Handle("GET /customer/databases/{database_id}/observability", authed(api.observability))
	// schema, dump, users, migrations
	mux.Handle("GET /customer/databases/{database_id}/schema", authed(api.schema))
	mux.Handle("POST /customer/databases/{database_id}/dump", authed(api.dump))
	mux.Handle("GET /customer/databases/{database_id}/users", authed(api.listUsers))
	mux.Handle("POST /customer/databases/{database_id}/users", authed(api.createUser))
	mux.Handle("DELETE /customer/databases/{database_id}/users/{username}", authed(api.deleteUser))
	mux.Handle("GET /customer/databases/{database_id}/migrations", authed(api.listMigrations))
	mux.Handle("POST /customer/databases/{database_id}/migrations", authed(api.applyMigration))
	// wire access: connect-token, connect-keys
	mux.Handle("POST /customer/databases/{database_id}/connect-token", authed(api.connectToken))
	mux.Handle("POST /customer/databases/{database_id}/connect-keys", authed(api.createConnectKey))
	mux.Handle("GET /customer/databases/{database_id}/connect-keys", authed(api.listConnectKeys))
	mux.Handle("DELETE /customer/databases/{database_id}/connect-keys/{key_id}", authed(api.revokeConnectKey))
	mux.Handle("POST /customer/databases/{database_id}/fs-connect", authed(api.fsConnect))
	// browser data plane: auth-config, publishable-keys, service-keys
	pk, sk := api.dataKeys(auth.PublishableKey), api.dataKeys(auth.ServiceKey)
	mux.Handle("GET /customer/databases/{database_id}/auth-config", authed(api.getAuthConfig))
	mux.Handle("PUT /customer/databases/{database_id}/auth-config", authed(api.putAuthConfig))
	mux.Handle("POST /customer/databases/{database_id}/publishable-keys", authed(pk.create))
	mux.Handle("GET /customer/databases/{database_id}/publishable-keys", authed(pk.list))
	mux.Handle("DELETE /customer/databases/{database_id}/publishable-keys/{key_id}", authed(pk.revoke))
	mux.Handle("POST /customer/databases/{database_id}/service-keys", authed(sk.create))
	mux.Handle("GET /customer/databases/{database_id}/service-keys", authed(sk.list))
	mux.Handle("DELETE /customer/databases/{database_id}/service-keys/{key_id}", authed(sk.revoke))
	// functions, runs, logs, secrets
	mux.Handle("POST /customer/databases/{database_id}/functions/bundles", authed(api.uploadBundle))
	mux.Handle("POST /customer/databases/{database_id}/functions", authed(api.createFunction))
	mux.Handle("GET /customer/databases/{database_id}/functions", authed(api.listFunctions))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}", authed(api.getFunction))
	mux.Handle("PUT /customer/databases/{database_id}/functions/{function_id}", authed(api.updateFunction))
	mux.Handle("DELETE /customer/databases/{database_id}/functions/{function_id}", authed(api.deleteFunction))
	mux.Handle("POST /customer/databases/{database_id}/functions/{function_id}/invoke", authed(api.invokeFunction))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}/runs", authed(api.listRuns))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}/runs/{run_id}", authed(api.getRun))
	mux.Handle("GET /customer/databases/{database_id}/functions/{function_id}/runs/{run_id}/logs", authed(api.runLogs))
	mux.Handle("GET /customer/databases/{database_id}/secrets", authed(api.listSecrets))
	mux.Handle("PUT /customer/databases/{database_id}/secrets/{name}", authed(api.putSecret))
	mux.Handle("DELETE /customer/databases/{database_id}/secrets/{name}", authed(api.deleteSecret))
}

// authedFunc is a handler that runs for an authenticated principal.
type authedFunc func(w http.ResponseWriter, r *http.Request, p control.Principal) error

func (api *API) authed(h authedFunc) http.Handler {
	return api.a.Handle(func(w http.ResponseWriter, r *http.Request) error {
		p, err := api.accounts.Authenticate(r.Context(), bearer(r))
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
