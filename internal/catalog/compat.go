package catalog

import (
	"context"
	"time"

	"github.com/db9/db9/internal/platform"
)

// Forwarding methods for the names call sites used before the stores
// split; they go once catalogrewrite has moved the call sites.

// ActiveDatabaseIDs forwards to Scheduler.ActiveDatabaseIDs.
func (c *Catalog) ActiveDatabaseIDs(ctx context.Context) ([]string, error) {
	return c.Scheduler.ActiveDatabaseIDs(ctx)
}

// AddObsMinute forwards to Observe.AddObsMinute.
func (c *Catalog) AddObsMinute(ctx context.Context, db string, m ObsMinute, queries []ObsQuery) error {
	return c.Observe.AddObsMinute(ctx, db, m, queries)
}

// AddToken forwards to Tokens.Add.
func (c *Catalog) AddToken(ctx context.Context, customerID string, tokenID string, name string, hash []byte, expires time.Time) error {
	return c.Tokens.Add(ctx, customerID, tokenID, name, hash, expires)
}

// Adopt forwards to Accounts.Adopt.
func (c *Catalog) Adopt(ctx context.Context, req AdoptRequest) (AdoptResult, error) {
	return c.Accounts.Adopt(ctx, req)
}

// AdoptAnswer forwards to Accounts.AdoptAnswer.
func (c *Catalog) AdoptAnswer(ctx context.Context, customerID string, key string, requestHash []byte) ([]string, error) {
	return c.Accounts.AdoptAnswer(ctx, customerID, key, requestHash)
}

// AnonymousSecretHash forwards to Accounts.AnonymousSecretHash.
func (c *Catalog) AnonymousSecretHash(ctx context.Context, customerID string) ([]byte, error) {
	return c.Accounts.AnonymousSecretHash(ctx, customerID)
}

// BeginDelete forwards to Databases.BeginDelete.
func (c *Catalog) BeginDelete(ctx context.Context, customerID string, id string) error {
	return c.Databases.BeginDelete(ctx, customerID, id)
}

// ClaimCustomer forwards to Accounts.Claim.
func (c *Catalog) ClaimCustomer(ctx context.Context, customerID string, id Identity) error {
	return c.Accounts.Claim(ctx, customerID, id)
}

// ClaimTick forwards to Scheduler.ClaimTick.
func (c *Catalog) ClaimTick(ctx context.Context, kind string, databaseID string, job string, tick time.Time) (bool, error) {
	return c.Scheduler.ClaimTick(ctx, kind, databaseID, job, tick)
}

// CreateChecks forwards to Databases.CreateChecks.
func (c *Catalog) CreateChecks(ctx context.Context, customerID string, name string) (int, bool, error) {
	return c.Databases.CreateChecks(ctx, customerID, name)
}

// CreateCustomer forwards to Accounts.Create.
func (c *Catalog) CreateCustomer(ctx context.Context, cust platform.Customer, secretHash []byte, tokenID string, tokenName string, tokenHash []byte, tokenExpires time.Time) (platform.Customer, error) {
	return c.Accounts.Create(ctx, cust, secretHash, tokenID, tokenName, tokenHash, tokenExpires)
}

// CreateFunction forwards to Functions.Create.
func (c *Catalog) CreateFunction(ctx context.Context, f Function) (Function, error) {
	return c.Functions.Create(ctx, f)
}

// CronJobs forwards to Scheduler.CronJobs.
func (c *Catalog) CronJobs(ctx context.Context) ([]CronJob, error) { return c.Scheduler.CronJobs(ctx) }

// DatabasesInStates forwards to Databases.InStates.
func (c *Catalog) DatabasesInStates(ctx context.Context, states ...platform.DatabaseState) ([]DatabaseRow, error) {
	return c.Databases.InStates(ctx, states...)
}

// DeleteDatabaseFunctions forwards to Functions.DeleteForDatabase.
func (c *Catalog) DeleteDatabaseFunctions(ctx context.Context, databaseID string) error {
	return c.Functions.DeleteForDatabase(ctx, databaseID)
}

// DeleteFunction forwards to Functions.Delete.
func (c *Catalog) DeleteFunction(ctx context.Context, databaseID string, id string) error {
	return c.Functions.Delete(ctx, databaseID, id)
}

// DeleteRow forwards to Databases.DeleteRow.
func (c *Catalog) DeleteRow(ctx context.Context, id string) error {
	return c.Databases.DeleteRow(ctx, id)
}

// DeleteSecret forwards to Secrets.Delete.
func (c *Catalog) DeleteSecret(ctx context.Context, databaseID string, name string) error {
	return c.Secrets.Delete(ctx, databaseID, name)
}

// DueFunctions forwards to Functions.Due.
func (c *Catalog) DueFunctions(ctx context.Context, now time.Time, limit int) ([]ScheduledFunction, error) {
	return c.Functions.Due(ctx, now, limit)
}

// FailUnfinishedRuns forwards to Runs.FailUnfinished.
func (c *Catalog) FailUnfinishedRuns(ctx context.Context, reason string) (int64, error) {
	return c.Runs.FailUnfinished(ctx, reason)
}

// FindDatabase forwards to Databases.Find.
func (c *Catalog) FindDatabase(ctx context.Context, idOrName string) (DatabaseRow, error) {
	return c.Databases.Find(ctx, idOrName)
}

// FinishClone forwards to Branches.FinishClone.
func (c *Catalog) FinishClone(ctx context.Context, id string, state platform.DatabaseState, reason string) (bool, error) {
	return c.Branches.FinishClone(ctx, id, state, reason)
}

// FinishDelete forwards to Databases.FinishDelete.
func (c *Catalog) FinishDelete(ctx context.Context, id string) error {
	return c.Databases.FinishDelete(ctx, id)
}

// FinishRun forwards to Runs.Finish.
func (c *Catalog) FinishRun(ctx context.Context, id string, status string, result *string, errText *string, duration time.Duration, logs []RunLog) (FunctionRun, error) {
	return c.Runs.Finish(ctx, id, status, result, errText, duration, logs)
}

// GetAuthConfig forwards to DataPlane.AuthConfig.
func (c *Catalog) GetAuthConfig(ctx context.Context, databaseID string) (AuthConfig, error) {
	return c.DataPlane.AuthConfig(ctx, databaseID)
}

// GetBundle forwards to Functions.GetBundle.
func (c *Catalog) GetBundle(ctx context.Context, customerID string, digest string) ([]byte, error) {
	return c.Functions.GetBundle(ctx, customerID, digest)
}

// GetCustomer forwards to Accounts.Get.
func (c *Catalog) GetCustomer(ctx context.Context, id string) (*string, bool, time.Time, error) {
	return c.Accounts.Get(ctx, id)
}

// GetDatabase forwards to Databases.Get.
func (c *Catalog) GetDatabase(ctx context.Context, customerID string, idOrName string) (DatabaseRow, error) {
	return c.Databases.Get(ctx, customerID, idOrName)
}

// GetFunction forwards to Functions.Get.
func (c *Catalog) GetFunction(ctx context.Context, databaseID string, idOrName string) (Function, error) {
	return c.Functions.Get(ctx, databaseID, idOrName)
}

// GetRun forwards to Runs.Get.
func (c *Catalog) GetRun(ctx context.Context, functionID string, id string) (FunctionRun, error) {
	return c.Runs.Get(ctx, functionID, id)
}

// InsertBranch forwards to Branches.Insert.
func (c *Catalog) InsertBranch(ctx context.Context, d DatabaseRow, limit int, maxCloning int) (DatabaseRow, error) {
	return c.Branches.Insert(ctx, d, limit, maxCloning)
}

// InsertConnectKey forwards to ConnectKeys.Insert.
func (c *Catalog) InsertConnectKey(ctx context.Context, k ConnectKey, hash []byte) (ConnectKey, error) {
	return c.ConnectKeys.Insert(ctx, k, hash)
}

// InsertDataKey forwards to DataPlane.InsertKey.
func (c *Catalog) InsertDataKey(ctx context.Context, k DataKey, hash []byte) (DataKey, error) {
	return c.DataPlane.InsertKey(ctx, k, hash)
}

// InsertDatabase forwards to Databases.Insert.
func (c *Catalog) InsertDatabase(ctx context.Context, d DatabaseRow, limit int) (DatabaseRow, error) {
	return c.Databases.Insert(ctx, d, limit)
}

// InsertToken forwards to Tokens.Insert.
func (c *Catalog) InsertToken(ctx context.Context, customerID string, id string, name string, hash []byte, scope []byte, expires time.Time) (TokenInfo, error) {
	return c.Tokens.Insert(ctx, customerID, id, name, hash, scope, expires)
}

// LastTick forwards to Scheduler.LastTick.
func (c *Catalog) LastTick(ctx context.Context) (time.Time, error) { return c.Scheduler.LastTick(ctx) }

// ListConnectKeys forwards to ConnectKeys.List.
func (c *Catalog) ListConnectKeys(ctx context.Context, databaseID string) ([]ConnectKey, error) {
	return c.ConnectKeys.List(ctx, databaseID)
}

// ListDataKeys forwards to DataPlane.ListKeys.
func (c *Catalog) ListDataKeys(ctx context.Context, databaseID string, kind string) ([]DataKey, error) {
	return c.DataPlane.ListKeys(ctx, databaseID, kind)
}

// ListDatabases forwards to Databases.List.
func (c *Catalog) ListDatabases(ctx context.Context, customerID string, all bool) ([]DatabaseRow, error) {
	return c.Databases.List(ctx, customerID, all)
}

// ListFunctions forwards to Functions.List.
func (c *Catalog) ListFunctions(ctx context.Context, databaseID string) ([]Function, error) {
	return c.Functions.List(ctx, databaseID)
}

// ListRuns forwards to Runs.List.
func (c *Catalog) ListRuns(ctx context.Context, functionID string, status string, limit int) ([]FunctionRun, error) {
	return c.Runs.List(ctx, functionID, status, limit)
}

// ListSecrets forwards to Secrets.List.
func (c *Catalog) ListSecrets(ctx context.Context, databaseID string) ([]Secret, error) {
	return c.Secrets.List(ctx, databaseID)
}

// ListTokens forwards to Tokens.List.
func (c *Catalog) ListTokens(ctx context.Context, customerID string) ([]TokenInfo, error) {
	return c.Tokens.List(ctx, customerID)
}

// LookupDataKey forwards to DataPlane.LookupKey.
func (c *Catalog) LookupDataKey(ctx context.Context, hash []byte) (DataKey, string, error) {
	return c.DataPlane.LookupKey(ctx, hash)
}

// LookupToken forwards to Tokens.Lookup.
func (c *Catalog) LookupToken(ctx context.Context, hash []byte) (Token, error) {
	return c.Tokens.Lookup(ctx, hash)
}

// ObsBaseline forwards to Observe.ObsBaseline.
func (c *Catalog) ObsBaseline(ctx context.Context, db string) ([]byte, error) {
	return c.Observe.ObsBaseline(ctx, db)
}

// ObsLastSizes forwards to Observe.ObsLastSizes.
func (c *Catalog) ObsLastSizes(ctx context.Context, db string) (int64, int64, error) {
	return c.Observe.ObsLastSizes(ctx, db)
}

// ObsMinutes forwards to Observe.ObsMinutes.
func (c *Catalog) ObsMinutes(ctx context.Context, db string, since time.Time) ([]ObsMinute, error) {
	return c.Observe.ObsMinutes(ctx, db, since)
}

// ObsTopQueries forwards to Observe.ObsTopQueries.
func (c *Catalog) ObsTopQueries(ctx context.Context, db string, since time.Time, limit int) ([]ObsQuery, error) {
	return c.Observe.ObsTopQueries(ctx, db, since, limit)
}

// PruneClaims forwards to Scheduler.PruneClaims.
func (c *Catalog) PruneClaims(ctx context.Context, before time.Time) error {
	return c.Scheduler.PruneClaims(ctx, before)
}

// PruneObs forwards to Observe.PruneObs.
func (c *Catalog) PruneObs(ctx context.Context, before time.Time) error {
	return c.Observe.PruneObs(ctx, before)
}

// PruneRuns forwards to Runs.Prune.
func (c *Catalog) PruneRuns(ctx context.Context, age time.Duration, keep int) (int64, error) {
	return c.Runs.Prune(ctx, age, keep)
}

// PutAuthConfig forwards to DataPlane.PutAuthConfig.
func (c *Catalog) PutAuthConfig(ctx context.Context, databaseID string, mode string, byoJWT []byte) (AuthConfig, error) {
	return c.DataPlane.PutAuthConfig(ctx, databaseID, mode, byoJWT)
}

// PutBundle forwards to Functions.PutBundle.
func (c *Catalog) PutBundle(ctx context.Context, customerID string, digest string, content []byte) error {
	return c.Functions.PutBundle(ctx, customerID, digest, content)
}

// PutObsBaseline forwards to Observe.PutObsBaseline.
func (c *Catalog) PutObsBaseline(ctx context.Context, db string, xactCommit int64, state []byte) error {
	return c.Observe.PutObsBaseline(ctx, db, xactCommit, state)
}

// PutSecret forwards to Secrets.Put.
func (c *Catalog) PutSecret(ctx context.Context, databaseID string, name string, enc []byte) (Secret, error) {
	return c.Secrets.Put(ctx, databaseID, name, enc)
}

// ReplaceCronJobs forwards to Scheduler.ReplaceCronJobs.
func (c *Catalog) ReplaceCronJobs(ctx context.Context, databaseID string, jobs []CronJob) error {
	return c.Scheduler.ReplaceCronJobs(ctx, databaseID, jobs)
}

// RevokeConnectKey forwards to ConnectKeys.Revoke.
func (c *Catalog) RevokeConnectKey(ctx context.Context, databaseID string, id string) error {
	return c.ConnectKeys.Revoke(ctx, databaseID, id)
}

// RevokeDataKey forwards to DataPlane.RevokeKey.
func (c *Catalog) RevokeDataKey(ctx context.Context, databaseID string, kind string, id string) error {
	return c.DataPlane.RevokeKey(ctx, databaseID, kind, id)
}

// RevokeToken forwards to Tokens.Revoke.
func (c *Catalog) RevokeToken(ctx context.Context, customerID string, id string) error {
	return c.Tokens.Revoke(ctx, customerID, id)
}

// RunLogs forwards to Runs.Logs.
func (c *Catalog) RunLogs(ctx context.Context, runID string) ([]RunLog, error) {
	return c.Runs.Logs(ctx, runID)
}

// ScheduledFunctions forwards to Functions.Scheduled.
func (c *Catalog) ScheduledFunctions(ctx context.Context) ([]ScheduledFunction, error) {
	return c.Functions.Scheduled(ctx)
}

// SetAdminPassword forwards to Databases.SetAdminPassword.
func (c *Catalog) SetAdminPassword(ctx context.Context, id string, enc []byte) error {
	return c.Databases.SetAdminPassword(ctx, id, enc)
}

// SetLastTick forwards to Scheduler.SetLastTick.
func (c *Catalog) SetLastTick(ctx context.Context, tick time.Time) error {
	return c.Scheduler.SetLastTick(ctx, tick)
}

// SetState forwards to Databases.SetState.
func (c *Catalog) SetState(ctx context.Context, id string, state platform.DatabaseState, reason string) error {
	return c.Databases.SetState(ctx, id, state, reason)
}

// StartRun forwards to Runs.Start.
func (c *Catalog) StartRun(ctx context.Context, r FunctionRun) (FunctionRun, bool, error) {
	return c.Runs.Start(ctx, r)
}

// StartScheduledRun forwards to Runs.StartScheduled.
func (c *Catalog) StartScheduledRun(ctx context.Context, r FunctionRun, next *time.Time) (FunctionRun, error) {
	return c.Runs.StartScheduled(ctx, r, next)
}

// TouchDataKey forwards to DataPlane.TouchKey.
func (c *Catalog) TouchDataKey(ctx context.Context, id string) error {
	return c.DataPlane.TouchKey(ctx, id)
}

// TouchToken forwards to Tokens.Touch.
func (c *Catalog) TouchToken(ctx context.Context, id string) error { return c.Tokens.Touch(ctx, id) }

// UpdateFunction forwards to Functions.Update.
func (c *Catalog) UpdateFunction(ctx context.Context, databaseID string, id string, v FunctionVersion, cron string, nextRun *time.Time) (Function, error) {
	return c.Functions.Update(ctx, databaseID, id, v, cron, nextRun)
}

// UseConnectKey forwards to ConnectKeys.Use.
func (c *Catalog) UseConnectKey(ctx context.Context, hash []byte) (ConnectKey, DatabaseRow, error) {
	return c.ConnectKeys.Use(ctx, hash)
}
