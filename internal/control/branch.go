package control

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// maxCloning bounds the branches one customer may have cloning at once.
const maxCloning = 2

// BranchRequest is the input of BranchDatabase.
type BranchRequest struct {
	Name string
	// SnapshotAt is the moment to branch at; nil means the request's time.
	SnapshotAt *time.Time
}

// Branches holds the use case of branching a database and the background
// work of branches being made, so that a shutdown can stop it and wait
// (the rows stay CLONING and the next start makes them again).
type Branches struct {
	retention time.Duration // PITR window; 0: unbounded
	cat       *catalog.Catalog
	place     placement.Provisioner
	sealer    *auth.Sealer
	dir       *tenancy.Directory
	quota     tenancy.Quota
	log       *slog.Logger

	ctx    context.Context // ends at close: cuts the clones off
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func newBranches(retention time.Duration, cat *catalog.Catalog, place placement.Provisioner, sealer *auth.Sealer,
	dir *tenancy.Directory, q tenancy.Quota, log *slog.Logger) *Branches {
	ctx, cancel := context.WithCancel(context.Background())
	return &Branches{retention: retention, cat: cat, place: place, sealer: sealer, dir: dir, quota: q, log: log,
		ctx: ctx, cancel: cancel}
}

// close stops branches being cloned and waits for their goroutines. Their
// rows stay CLONING; Service.Open makes them again at the next start. It
// is idempotent.
func (b *Branches) close() {
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.cancel()
	b.wg.Wait()
}

// BranchDatabase records a branch of a database as CLONING and makes it in
// the background: a new database restored from the parent's base backup
// and archived WAL up to SnapshotAt (inclusive), with an admin password of
// its own. The caller polls until ACTIVE or CREATE_FAILED.
func (b *Branches) BranchDatabase(ctx context.Context, p tenancy.Principal, parentRef string, req BranchRequest) (platform.Database, error) {
	if err := tenancy.RequireUnscoped(p); err != nil {
		return platform.Database{}, err
	}
	if !platform.ValidDatabaseName(req.Name) {
		return platform.Database{}, platform.Errorf(platform.CodeInvalid, "name: must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	parent, err := b.dir.ActiveLookup(ctx, p, parentRef)
	if err != nil {
		return platform.Database{}, err
	}
	now := time.Now().Truncate(time.Microsecond)
	target := now
	if req.SnapshotAt != nil {
		// Commit times have microseconds; "at or before" compares at that precision.
		target = req.SnapshotAt.Truncate(time.Microsecond)
		if target.After(now) {
			return platform.Database{}, platform.Errorf(platform.CodeInvalid, "snapshot_at: %s is in the future", target.UTC().Format(time.RFC3339Nano))
		}
	}
	if err := b.checkRestorable(ctx, parent, target, now); err != nil {
		return platform.Database{}, err
	}
	row, err := b.cat.Branches.Insert(ctx, catalog.DatabaseRow{
		Database: platform.Database{
			ID: platform.NewID(platform.DatabaseIDLen), CustomerID: p.Customer.ID, Name: req.Name,
			State: platform.StateCloning, Region: parent.Region, ParentDatabaseID: parent.ID, SnapshotAt: &target,
		},
		AdminPasswordEnc: b.sealer.Seal(auth.NewPassword()),
	}, b.quota.Limit(p), maxCloning)
	switch {
	case errors.Is(err, catalog.ErrNameTaken):
		return platform.Database{}, platform.Errorf(platform.CodeConflict, "a database named %q already exists", req.Name)
	case errors.Is(err, catalog.ErrQuota):
		return platform.Database{}, b.quota.Err()
	case errors.Is(err, catalog.ErrTooManyClones):
		return platform.Database{}, platform.Errorf(platform.CodeRateLimited, "at most %d branches may be cloning at once; try again when one is ACTIVE", maxCloning)
	case err != nil:
		return platform.Database{}, fmt.Errorf("record branch: %w", err)
	}
	b.log.Info("branch requested", logkey.DB, row.ID, logkey.Parent, parent.ID, logkey.SnapshotAt, target, logkey.Customer, p.Customer.ID)
	b.startClone(row)
	return row.Database, nil
}

// checkRestorable refuses a moment the parent's history cannot serve.
func (b *Branches) checkRestorable(ctx context.Context, parent catalog.DatabaseRow, target, now time.Time) error {
	at := target.UTC().Format(time.RFC3339Nano)
	if target.Before(parent.CreatedAt) {
		return platform.Errorf(platform.CodeUnprocessable, "snapshot_at: %s is before the database was created (%s)", at, parent.CreatedAt.UTC().Format(time.RFC3339Nano))
	}
	if r := b.retention; r > 0 && target.Before(now.Add(-r)) {
		return platform.Errorf(platform.CodeUnprocessable, "snapshot_at: %s is outside the point-in-time window (%s back)", at, r)
	}
	earliest, err := b.place.EarliestRestorable(ctx, parent.ID)
	if err != nil {
		return fmt.Errorf("earliest restorable moment of %s: %w", parent.ID, err)
	}
	if earliest.IsZero() {
		return platform.Errorf(platform.CodeUnprocessable, "the database has no archived history to branch from")
	}
	if target.Before(earliest) {
		return platform.Errorf(platform.CodeUnprocessable, "snapshot_at: %s is before the earliest moment this database can be restored to (%s)", at, earliest.UTC().Format(time.RFC3339Nano))
	}
	return nil
}

func (b *Branches) startClone(row catalog.DatabaseRow) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.runClone(b.ctx, row)
	}()
}

// runClone makes the branch and records the outcome. Cut off by a
// shutdown it records nothing: the row stays CLONING and the next start
// makes the branch again.
func (b *Branches) runClone(ctx context.Context, row catalog.DatabaseRow) {
	start := time.Now()
	err := b.clone(ctx, row)
	if err != nil && ctx.Err() != nil {
		b.log.Info("branch interrupted by shutdown; it is made again at the next start", logkey.DB, row.ID)
		return
	}
	// Recording the outcome must not be cut short by a shutdown either.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer b.dir.Forget(row.ID)
	if err == nil {
		ok, ferr := b.cat.Branches.FinishClone(fctx, row.ID, platform.StateActive, "")
		if ferr == nil && ok {
			b.log.Info("branch active", logkey.DB, row.ID, logkey.Parent, row.ParentDatabaseID, logkey.Ms, time.Since(start).Milliseconds())
			return
		}
		if ferr == nil { // deleted while cloning
			_ = b.place.Destroy(fctx, row.ID)
			return
		}
		err = fmt.Errorf("record branch active: %w", ferr)
	}
	b.log.Error("branch failed", logkey.DB, row.ID, logkey.Parent, row.ParentDatabaseID, logkey.Err, err)
	if derr := b.place.Destroy(fctx, row.ID); derr != nil {
		b.log.Error("remove failed branch instance", logkey.DB, row.ID, logkey.Err, derr)
	}
	if _, ferr := b.cat.Branches.FinishClone(fctx, row.ID, platform.StateCreateFailed, cloneFailureReason(err)); ferr != nil {
		b.log.Error("record branch failure", logkey.DB, row.ID, logkey.Err, ferr)
	}
}

var errParentGone = errors.New("the parent database was deleted before the branch was made")

func cloneFailureReason(err error) string {
	if errors.Is(err, errParentGone) {
		return errParentGone.Error()
	}
	return "the branch could not be restored from the parent's history (details are in the server log)"
}

// clone makes the branch's instance: the parent's WAL archived through the
// target, then a restore of it under the branch's id.
func (b *Branches) clone(ctx context.Context, row catalog.DatabaseRow) error {
	pw, err := b.sealer.Open(row.AdminPasswordEnc)
	if err != nil {
		return err
	}
	// The driver wakes the parent if it is stopped and has it archive
	// through the target while the branch's base backup is copied.
	prov, err := b.place.Restore(ctx, row.ID, placement.RestoreTarget{
		Source: row.ParentDatabaseID, Time: *row.SnapshotAt, AdminPassword: pw,
	})
	if err != nil {
		// A parent deleted meanwhile takes its archive along: whichever
		// step noticed first, that is the reason to give.
		if errors.Is(err, placement.ErrNotFound) {
			return fmt.Errorf("%w (%v)", errParentGone, err)
		}
		if _, gerr := b.cat.Databases.Get(ctx, row.CustomerID, row.ParentDatabaseID); errors.Is(gerr, catalog.ErrNotFound) {
			return fmt.Errorf("%w (%v)", errParentGone, err)
		}
		return err
	}
	prov.Commit()
	return nil
}

// resumeClones makes again, after a restart, the branches a crash or a
// shutdown cut off (their half-made instances were removed by Open).
func (b *Branches) resume(ctx context.Context, rows []catalog.DatabaseRow, active map[string]bool) error {
	for _, d := range rows {
		if d.State != platform.StateCloning {
			continue
		}
		if !active[d.ParentDatabaseID] {
			b.log.Warn("branch's parent is gone; marking CREATE_FAILED", logkey.DB, d.ID, logkey.Parent, d.ParentDatabaseID)
			if _, err := b.cat.Branches.FinishClone(ctx, d.ID, platform.StateCreateFailed, errParentGone.Error()); err != nil {
				return err
			}
			continue
		}
		b.log.Info("resuming interrupted branch", logkey.DB, d.ID, logkey.Parent, d.ParentDatabaseID)
		b.startClone(d)
	}
	return nil
}
