package functions

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/functions/bundle"
	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/worker"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/s3store"
)

// FunctionRequest is the body of POST .../functions (create) and PUT
// .../functions/{id} (a new version). A nil field is absent: create takes
// the default, update keeps the current version's value.
type FunctionRequest struct {
	Name             *string
	Entrypoint       *string
	BundleRef        string
	BundleDigest     *string
	RunAs            *string
	BypassRLS        *bool
	Limits           *worker.Limits
	NetworkAllowlist *[]string
	FS9Scope         *hostcall.Scope
	SecretBindings   *[]string
	// CronSchedule: "" removes the schedule.
	CronSchedule *string
}

// DefaultRunAs is the role ctx.db runs as when a deploy names none.
const DefaultRunAs = "authenticated"

func unprocessable(format string, args ...any) error {
	return platform.Errorf(platform.CodeUnprocessable, format, args...)
}

// cronParser reads five-field schedules (minute hour dom month dow), no
// descriptors and no time zone: schedules are UTC. The scheduler uses
// NextRun, so both agree on what a schedule means.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow)

// NextRun is the first tick of a five-field UTC cron schedule after t.
func NextRun(schedule string, t time.Time) (time.Time, error) {
	if strings.Contains(schedule, "TZ=") {
		return time.Time{}, errors.New("cron_schedule: time zones are not accepted; schedules are UTC")
	}
	s, err := cronParser.Parse(schedule)
	if err != nil {
		return time.Time{}, fmt.Errorf("cron_schedule: %v", err)
	}
	return s.Next(t.UTC()).UTC(), nil
}

var (
	roleName    = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,54}$`)
	secretName  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,127}$`)
	uploadedRef = regexp.MustCompile(`^db9://bundles/(sha256:[0-9a-f]{64})$`)
)

// CreateFunction deploys a new function (its version 1).
func (f *Functions) CreateFunction(ctx context.Context, p tenancy.Principal, dbRef string, req FunctionRequest) (FunctionInfo, error) {
	db, err := f.database(ctx, p, dbRef, true)
	if err != nil {
		return FunctionInfo{}, err
	}
	if req.Name == nil || !functionName.MatchString(*req.Name) {
		return FunctionInfo{}, platform.Errorf(platform.CodeInvalid, "name: required, 1-63 letters, digits, '_' or '-', starting with a letter or digit")
	}
	if _, err := f.cat.Functions.Get(ctx, db.ID, *req.Name); err == nil {
		return FunctionInfo{}, platform.Errorf(platform.CodeConflict, "a function named %q already exists", *req.Name)
	}
	fn := catalog.Function{ID: platform.NewID(16), DatabaseID: db.ID, Name: *req.Name}
	v, schedule, next, err := f.deploy(ctx, db, fn.ID, catalog.FunctionVersion{Entrypoint: "index.handler", RunAs: DefaultRunAs}, "", req)
	if err != nil {
		return FunctionInfo{}, err
	}
	fn.Active, fn.CronSchedule, fn.NextRunAt = v, schedule, next
	fn, err = f.cat.Functions.Create(ctx, fn)
	if errors.Is(err, catalog.ErrFunctionNameTaken) {
		return FunctionInfo{}, platform.Errorf(platform.CodeConflict, "a function named %q already exists", *req.Name)
	}
	if err != nil {
		return FunctionInfo{}, err
	}
	f.log.Info("function deployed", logkey.DB, db.ID, logkey.Function, fn.ID, logkey.Version, 1)
	return functionInfo(fn), nil
}

// UpdateFunction deploys a new active version of a function; absent
// fields keep the current version's values.
func (f *Functions) UpdateFunction(ctx context.Context, p tenancy.Principal, dbRef, fnRef string, req FunctionRequest) (FunctionInfo, error) {
	db, err := f.database(ctx, p, dbRef, true)
	if err != nil {
		return FunctionInfo{}, err
	}
	if req.Name != nil {
		return FunctionInfo{}, platform.Errorf(platform.CodeInvalid, "name: a function cannot be renamed")
	}
	cur, err := f.function(ctx, db.ID, fnRef)
	if err != nil {
		return FunctionInfo{}, err
	}
	v, schedule, next, err := f.deploy(ctx, db, cur.ID, cur.Active, cur.CronSchedule, req)
	if err != nil {
		return FunctionInfo{}, err
	}
	fn, err := f.cat.Functions.Update(ctx, db.ID, cur.ID, v, schedule, next)
	f.fns.forget(cur.ID) // the next invoke here runs the new version
	if errors.Is(err, catalog.ErrNotFound) {
		return FunctionInfo{}, platform.NotFound("function")
	}
	if err != nil {
		return FunctionInfo{}, err
	}
	f.log.Info("function deployed", logkey.DB, db.ID, logkey.Function, fn.ID, logkey.Version, fn.Active.Version)
	return functionInfo(fn), nil
}

// deploy checks a request over base (the defaults, or the current
// version) and builds the new version: bundle, allowlist, scope, limits,
// run_as, schedule, and finally a load of the module in a worker. Every
// failure of the customer's input is 422 with what to fix.
func (f *Functions) deploy(ctx context.Context, db platform.Database, fnID string, base catalog.FunctionVersion, schedule string,
	req FunctionRequest) (catalog.FunctionVersion, string, *time.Time, error) {
	v := base
	v.ID, v.FunctionID = platform.NewID(16), fnID
	if req.BundleRef == "" {
		return v, "", nil, platform.Errorf(platform.CodeInvalid, "bundle_ref: required")
	}
	v.BundleRef = req.BundleRef
	if req.Entrypoint != nil {
		v.Entrypoint = *req.Entrypoint
	}
	if req.RunAs != nil {
		v.RunAs = *req.RunAs
	}
	if req.BypassRLS != nil {
		v.BypassRLS = *req.BypassRLS
	}
	lim := worker.Limits{TimeoutMS: v.TimeoutMS, MemoryMB: v.MemoryMB}
	if req.Limits != nil {
		lim = *req.Limits
	}
	if req.NetworkAllowlist != nil {
		v.NetworkAllowlist = *req.NetworkAllowlist
	}
	if req.FS9Scope != nil {
		v.FS9Read, v.FS9Write = req.FS9Scope.Read, req.FS9Scope.Write
	}
	if req.SecretBindings != nil {
		v.SecretBindings = *req.SecretBindings
	}
	if req.CronSchedule != nil {
		schedule = strings.TrimSpace(*req.CronSchedule)
	}
	v.NetworkAllowlist, v.FS9Read, v.FS9Write, v.SecretBindings = nonNil(v.NetworkAllowlist), nonNil(v.FS9Read), nonNil(v.FS9Write), nonNil(v.SecretBindings)

	raw, err := f.bundles.read(ctx, db, req.BundleRef)
	if err != nil {
		return v, "", nil, err
	}
	digest := bundle.Digest(raw)
	if req.BundleDigest != nil && *req.BundleDigest != digest {
		return v, "", nil, unprocessable("bundle_digest: %s does not match the bundle's digest %s", *req.BundleDigest, digest)
	}
	v.BundleDigest = digest
	built, err := bundle.Build(raw, v.Entrypoint)
	if err != nil {
		var be *bundle.Error
		if errors.As(err, &be) {
			return v, "", nil, unprocessable("%s", be.Error())
		}
		return v, "", nil, fmt.Errorf("build bundle: %w", err)
	}
	v.Script, v.Export = built.Script, built.Export
	allow, err := egress.ParseAllowlist(v.NetworkAllowlist)
	if err != nil {
		return v, "", nil, unprocessable("network_allowlist: %v", err)
	}
	scope := hostcall.Scope{Read: v.FS9Read, Write: v.FS9Write}
	if err := hostcall.ValidateScope(scope); err != nil {
		return v, "", nil, unprocessable("%v", err)
	}
	if lim, err = lim.Normalize(); err != nil {
		return v, "", nil, unprocessable("%v", err)
	}
	v.TimeoutMS, v.MemoryMB = lim.TimeoutMS, lim.MemoryMB
	for _, s := range v.SecretBindings {
		if !secretName.MatchString(s) {
			return v, "", nil, unprocessable("secret_bindings: %q is not a secret name (letters, digits and '_', not starting with a digit)", s)
		}
	}
	var next *time.Time
	if schedule != "" {
		t, err := NextRun(schedule, time.Now())
		if err != nil {
			return v, "", nil, unprocessable("%v", err)
		}
		next = &t
	}
	if err := f.host.prepareRole(ctx, db.ID, v.RunAs, v.BypassRLS); err != nil {
		return v, "", nil, err
	}
	err = f.pool.Validate(ctx, worker.Invocation{DatabaseID: db.ID, FunctionID: fnID, VersionID: v.ID, Script: v.Script,
		Export: v.Export, Limits: lim, RunAs: v.RunAs, BypassRLS: v.BypassRLS, Allowlist: allow, Scope: scope})
	if err != nil {
		var le *worker.LoadError
		if errors.As(err, &le) {
			return v, "", nil, unprocessable("the bundle does not load: %s", le.Message)
		}
		return v, "", nil, platform.Wrap(platform.CodeUnavailable, err, "could not load the function; try again")
	}
	return v, schedule, next, nil
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// bundleReader reads the bundles deploys name: uploaded ones from the
// catalog, fs9:// from the database, s3:// from the server's storage.
type bundleReader struct {
	cat  *catalog.Catalog
	host *fnHost
	s3   *s3store.Store // nil: no S3-compatible storage
}

// read reads what bundle_ref names.
func (b bundleReader) read(ctx context.Context, db platform.Database, ref string) ([]byte, error) {
	if m := uploadedRef.FindStringSubmatch(ref); m != nil {
		raw, err := b.cat.Functions.GetBundle(ctx, db.CustomerID, m[1])
		if errors.Is(err, catalog.ErrNotFound) {
			return nil, unprocessable("bundle_ref: no bundle %s was uploaded (POST .../functions/bundles)", m[1])
		}
		return raw, err
	}
	if p, ok := strings.CutPrefix(ref, "fs9://"); ok {
		clean, err := hostcall.CleanPath(p)
		if err != nil {
			return nil, unprocessable("bundle_ref: %v", err)
		}
		raw, err := b.host.Read(ctx, db.ID, clean)
		var fe *hostcall.FSError
		if errors.As(err, &fe) {
			return nil, unprocessable("bundle_ref: %s: %s", clean, fe.Message)
		}
		if err != nil {
			return nil, platform.Wrap(platform.CodeUnavailable, err, "could not read the bundle from fs9; try again")
		}
		if len(raw) > bundle.MaxRaw {
			return nil, unprocessable("bundle_ref: %s is %d bytes, more than the %d allowed", clean, len(raw), bundle.MaxRaw)
		}
		return raw, nil
	}
	if strings.HasPrefix(ref, "s3://") {
		return b.s3Bundle(ctx, ref)
	}
	return nil, unprocessable(`bundle_ref: must be "db9://bundles/sha256:<hex>", "fs9:///<path>" or "s3://<bucket>/<key>"`)
}

// s3Bundle reads an s3:// bundle from the server's S3-compatible storage.
func (b bundleReader) s3Bundle(ctx context.Context, ref string) ([]byte, error) {
	if b.s3 == nil {
		return nil, unprocessable("bundle_ref: this server has no S3-compatible storage configured (db9 server --s3-endpoint)")
	}
	bucket, key, err := s3store.ParseRef(ref)
	if err == nil {
		var raw []byte
		if raw, err = b.s3.Get(ctx, bucket, key, bundle.MaxRaw); err == nil {
			return raw, nil
		}
	}
	var oe *s3store.ObjectError
	if errors.As(err, &oe) {
		return nil, unprocessable("bundle_ref: %s", oe.Message)
	}
	return nil, platform.Wrap(platform.CodeUnavailable, err, "could not read the bundle from S3-compatible storage; try again")
}

// UploadedBundle is the answer of POST .../functions/bundles.
type UploadedBundle struct {
	BundleRef    string
	BundleDigest string
	Size         int
}

// UploadBundle stores raw bundle bytes for the database's customer.
func (f *Functions) UploadBundle(ctx context.Context, p tenancy.Principal, dbRef string, raw []byte) (UploadedBundle, error) {
	db, err := f.database(ctx, p, dbRef, true)
	if err != nil {
		return UploadedBundle{}, err
	}
	if len(raw) == 0 {
		return UploadedBundle{}, platform.Errorf(platform.CodeInvalid, "the body must be the bundle: one JavaScript or TypeScript file, or a zip")
	}
	if len(raw) > bundle.MaxRaw {
		return UploadedBundle{}, platform.Errorf(platform.CodeTooLarge, "a bundle is at most %d bytes", bundle.MaxRaw)
	}
	digest := bundle.Digest(raw)
	if err := f.cat.Functions.PutBundle(ctx, db.CustomerID, digest, raw); err != nil {
		return UploadedBundle{}, fmt.Errorf("store bundle: %w", err)
	}
	return UploadedBundle{BundleRef: "db9://bundles/" + digest, BundleDigest: digest, Size: len(raw)}, nil
}
