package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Scheduler is what the scheduler keeps in the catalog: the copies of
// databases' cron jobs, the last tick and the claims of ticks, so a
// restart or a second server fires nothing twice. It satisfies
// scheduler.Store.
type Scheduler struct{ *poolRef }

// CronJob is the catalog's copy of one active job of a database's
// cron.job: enough to know when to wake the database for it.
type CronJob struct {
	DatabaseID string
	JobID      int64
	Schedule   string
}

// CronJobs lists the copied jobs of every ACTIVE database.
func (c *Scheduler) CronJobs(ctx context.Context) ([]CronJob, error) {
	rows, err := c.pool.Query(ctx, `SELECT j.database_id, j.jobid, j.schedule FROM cron_jobs j
		JOIN databases d ON d.id = j.database_id AND d.state = 'ACTIVE' ORDER BY 1, 2`)
	if err != nil {
		return nil, fmt.Errorf("list cron jobs: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (CronJob, error) {
		var j CronJob
		err := r.Scan(&j.DatabaseID, &j.JobID, &j.Schedule)
		return j, err
	})
}

// ReplaceCronJobs makes jobs the copy of a database's active jobs. A
// database without a row (being created or removed) is left alone.
func (c *Scheduler) ReplaceCronJobs(ctx context.Context, databaseID string, jobs []CronJob) error {
	ids := make([]int64, len(jobs))
	schedules := make([]string, len(jobs))
	for i, j := range jobs {
		ids[i], schedules[i] = j.JobID, j.Schedule
	}
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM cron_jobs WHERE database_id = $1`, databaseID); err != nil {
			return err
		}
		_, err := tx.Exec(ctx, `INSERT INTO cron_jobs (database_id, jobid, schedule)
			SELECT $1, u.id, u.schedule FROM unnest($2::bigint[], $3::text[]) AS u(id, schedule)
			WHERE EXISTS (SELECT 1 FROM databases WHERE id = $1)`, databaseID, ids, schedules)
		return err
	})
	if err != nil {
		return fmt.Errorf("replace cron jobs of %s: %w", databaseID, err)
	}
	return nil
}

// ActiveDatabaseIDs lists the ids of ACTIVE databases.
func (c *Scheduler) ActiveDatabaseIDs(ctx context.Context) ([]string, error) {
	return activeDatabaseIDs(ctx, c.poolRef)
}

// activeDatabaseIDs is shared by the Scheduler and Observe, which both
// walk the running databases.
func activeDatabaseIDs(ctx context.Context, p *poolRef) ([]string, error) {
	rows, err := p.pool.Query(ctx, `SELECT id FROM databases WHERE state = 'ACTIVE' ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("list active databases: %w", err)
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// LastTick is the last tick the scheduler processed (zero when none).
func (c *Scheduler) LastTick(ctx context.Context) (time.Time, error) {
	var t time.Time
	err := c.pool.QueryRow(ctx, `SELECT last_tick FROM scheduler_state`).Scan(&t)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, nil
	}
	if err != nil {
		return time.Time{}, fmt.Errorf("read last tick: %w", err)
	}
	return t.UTC(), nil
}

// SetLastTick records a processed tick; it never moves the record back.
func (c *Scheduler) SetLastTick(ctx context.Context, tick time.Time) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO scheduler_state (last_tick) VALUES ($1)
		ON CONFLICT (id) DO UPDATE SET last_tick = greatest(scheduler_state.last_tick, excluded.last_tick)`, tick)
	if err != nil {
		return fmt.Errorf("record last tick: %w", err)
	}
	return nil
}

// ClaimTick records that job of a database fires at tick; it reports
// false when that was claimed before (by this server before a restart, or
// by another one).
func (c *Scheduler) ClaimTick(ctx context.Context, kind, databaseID, job string, tick time.Time) (bool, error) {
	tag, err := c.pool.Exec(ctx, `INSERT INTO scheduler_claims (kind, database_id, job, tick) VALUES ($1, $2, $3, $4)
		ON CONFLICT DO NOTHING`, kind, databaseID, job, tick)
	if err != nil {
		return false, fmt.Errorf("claim tick: %w", err)
	}
	return tag.RowsAffected() == 1, nil
}

// PruneClaims removes claims of ticks before t.
func (c *Scheduler) PruneClaims(ctx context.Context, before time.Time) error {
	if _, err := c.pool.Exec(ctx, `DELETE FROM scheduler_claims WHERE tick < $1`, before); err != nil {
		return fmt.Errorf("prune tick claims: %w", err)
	}
	return nil
}
