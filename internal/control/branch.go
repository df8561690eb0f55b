package control

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
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

// cloner owns the background work of branches being made, so that a
// shutdown can stop it and wait (the rows stay CLONING and the next start
// makes them again).
type cloner struct {
	once   sync.Once
	ctx    context.Context
	cancel context.CancelFunc
	mu     sync.Mutex
	closed bool
	wg     sync.WaitGroup
}

func (c *cloner) init() *cloner {
	c.once.Do(func() { c.ctx, c.cancel = context.WithCancel(context.Background()) })
	return c
}

// Close stops branches being cloned and waits for their goroutines. Their
// rows stay CLONING; Reconcile makes them again at the next start.
func (s *Service) Close() {
	c := s.clones.init()
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// BranchDatabase records a branch of a database as CLONING and makes it in
// the background: a new database restored from the parent's base backup
// and archived WAL up to SnapshotAt (inclusive), with an admin password of
// its own. The caller polls until ACTIVE or CREATE_FAILED.
func (s *Service) BranchDatabase(ctx context.Context, p Principal, parentRef string, req BranchRequest) (platform.Database, error) {
	if err := requireUnscoped(p); err != nil {
		return platform.Database{}, err
	}
	if !platform.ValidDatabaseName(req.Name) {
		return platform.Database{}, platform.Errorf(platform.CodeInvalid, "name: must be 1-63 characters of a-z, 0-9 and '-', starting with a letter or digit")
	}
	parent, err := s.activeLookup(ctx, p, parentRef)
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
	if err := s.checkRestorable(ctx, parent, target, now); err != nil {
		return platform.Database{}, err
	}
	limit := 0
	if p.Customer.IsAnonymous {
		limit = s.cfg.AnonymousDBLimit
	}
	row, err := s.cat.InsertBranch(ctx, catalog.DatabaseRow{
		Database: platform.Database{
			ID: platform.NewID(platform.DatabaseIDLen), CustomerID: p.Customer.ID, Name: req.Name,
			State: platform.StateCloning, Region: parent.Region, ParentDatabaseID: parent.ID, SnapshotAt: &target,
		},
		AdminPasswordEnc: s.sealer.Seal(auth.NewPassword()),
	}, limit, maxCloning)
	switch {
	case errors.Is(err, catalog.ErrNameTaken):
		return platform.Database{}, platform.Errorf(platform.CodeConflict, "a database named %q already exists", req.Name)
	case errors.Is(err, catalog.ErrQuota):
		return platform.Database{}, s.quotaError()
	case errors.Is(err, catalog.ErrTooManyClones):
		return platform.Database{}, platform.Errorf(platform.CodeRateLimited, "at most %d branches may be cloning at once; try again when one is ACTIVE", maxCloning)
	case err != nil:
		return platform.Database{}, fmt.Errorf("record branch: %w", err)
	}
	s.log.Info("branch requested", "component", "control", "db", row.ID, "parent", parent.ID, "snapshot_at", target, "customer", p.Customer.ID)
	s.startClone(row)
	return row.Database, nil
}

// checkRestorable refuses a moment the parent's history cannot serve.
func (s *Service) checkRestorable(ctx context.Context, parent catalog.DatabaseRow, target, now time.Time) error {
	at := target.UTC().Format(time.RFC3339Nano)
	if target.Before(parent.CreatedAt) {
		return platform.Errorf(platform.CodeUnprocessable, "snapshot_at: %s is before the database was created (%s)", at, parent.CreatedAt.UTC().Format(time.RFC3339Nano))
	}
	if r := s.cfg.PITRRetention; r > 0 && target.Before(now.Add(-r)) {
		return platform.Errorf(platform.CodeUnprocessable, "snapshot_at: %s is outside the point-in-time window (%s back)", at, r)
	}
	earliest, err := s.place.EarliestRestorable(ctx, parent.ID)
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

func (s *Service) startClone(row catalog.DatabaseRow) {
	c := s.clones.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		s.runClone(c.ctx, row)
	}()
}

// runClone makes the branch and records the outcome. Cut off by a
// shutdown it records nothing: the row stays CLONING and the next start
// makes the branch again.
func (s *Service) runClone(ctx context.Context, row catalog.DatabaseRow) {
	start := time.Now()
	err := s.clone(ctx, row)
	if err != nil && ctx.Err() != nil {
		s.log.Info("branch interrupted by shutdown; it is made again at the next start", "component", "control", "db", row.ID)
		return
	}
	// Recording the outcome must not be cut short by a shutdown either.
	fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	defer s.forgetDatabase(row.ID)
	if err == nil {
		ok, ferr := s.cat.FinishClone(fctx, row.ID, platform.StateActive, "")
		if ferr == nil && ok {
			s.log.Info("branch active", "component", "control", "db", row.ID, "parent", row.ParentDatabaseID, "ms", time.Since(start).Milliseconds())
			return
		}
		if ferr == nil { // deleted while cloning
			_ = s.place.Destroy(fctx, row.ID)
			return
		}
		err = fmt.Errorf("record branch active: %w", ferr)
	}
	s.log.Error("branch failed", "component", "control", "db", row.ID, "parent", row.ParentDatabaseID, "err", err)
	if derr := s.place.Destroy(fctx, row.ID); derr != nil {
		s.log.Error("remove failed branch instance", "component", "control", "db", row.ID, "err", derr)
	}
	if _, ferr := s.cat.FinishClone(fctx, row.ID, platform.StateCreateFailed, cloneFailureReason(err)); ferr != nil {
		s.log.Error("record branch failure", "component", "control", "db", row.ID, "err", ferr)
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
func (s *Service) clone(ctx context.Context, row catalog.DatabaseRow) error {
	pw, err := s.sealer.Open(row.AdminPasswordEnc)
	if err != nil {
		return err
	}
	// The driver wakes the parent if it is stopped and has it archive
	// through the target while the branch's base backup is copied.
	prov, err := s.place.Restore(ctx, row.ID, placement.RestoreTarget{
		Source: row.ParentDatabaseID, Time: *row.SnapshotAt, AdminPassword: pw,
	})
	if err != nil {
		// A parent deleted meanwhile takes its archive along: whichever
		// step noticed first, that is the reason to give.
		if errors.Is(err, placement.ErrNotFound) {
			return fmt.Errorf("%w (%v)", errParentGone, err)
		}
		if _, gerr := s.cat.GetDatabase(ctx, row.CustomerID, row.ParentDatabaseID); errors.Is(gerr, catalog.ErrNotFound) {
			return fmt.Errorf("%w (%v)", errParentGone, err)
		}
		return err
	}
	prov.Commit()
	return nil
}

// resumeClones makes again, after a restart, the branches a crash or a
// shutdown cut off (their half-made instances were removed by Open).
func (s *Service) resumeClones(ctx context.Context, rows []catalog.DatabaseRow, active map[string]bool) error {
	for _, d := range rows {
		if d.State != platform.StateCloning {
			continue
		}
		if !active[d.ParentDatabaseID] {
			s.log.Warn("branch's parent is gone; marking CREATE_FAILED", "component", "control", "db", d.ID, "parent", d.ParentDatabaseID)
			if _, err := s.cat.FinishClone(ctx, d.ID, platform.StateCreateFailed, errParentGone.Error()); err != nil {
				return err
			}
			continue
		}
		s.log.Info("resuming interrupted branch", "component", "control", "db", d.ID, "parent", d.ParentDatabaseID)
		s.startClone(d)
	}
	return nil
}
