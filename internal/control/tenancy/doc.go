// Package tenancy is the vocabulary the control plane's use cases share
// about a tenant's request: who is calling (Principal, the Scope of a
// token, RequireWrite and RequireUnscoped), which databases that reaches
// (Directory, a cached lookup; DatabaseLookup), how to get one running
// (Instances, over the placement driver, with its errors made public),
// the anonymous Quota, the FrontDoor address in connection strings, and
// what inside a database is the platform's rather than the tenant's
// (ReservedRole, PlatformSchemas).
//
// It exists so that the use cases can live in packages of their own
// (control/functions, control/dataaccess, control/dbadmin, …) without
// importing control, which assembles them. It holds no use case itself
// and knows nothing of HTTP.
package tenancy
