package scheduler

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
)

// Statuses of cron.job_run_details, as pg_cron writes them.
const (
	statusStarting  = "starting"
	statusRunning   = "running"
	statusSucceeded = "succeeded"
	statusFailed    = "failed"
)

// cutOffMessage is the return_message of a run that never recorded its end
// (the server stopped or crashed while it went on).
const cutOffMessage = "the run was cut off: the server stopped or crashed before it ended"

// runSQLJob runs one cron.job for a tick: it wakes the database, re-reads
// the job there (the catalog's copy may be stale), records the run in
// cron.job_run_details and runs the command in a session of the job's own
// role, then lets the database go.
func (s *Scheduler) runSQLJob(ctx context.Context, db string, jobid int64, tick time.Time) {
	log := s.log.With(logkey.DB, db, "jobid", jobid, logkey.Tick, tick)
	lease, err := s.cfg.Placement.Acquire(ctx, db)
	if errors.Is(err, placement.ErrNotFound) {
		log.Info("cron job's database is gone")
		return
	}
	if err != nil {
		if ctx.Err() == nil {
			log.Error("wake database for a cron job", logkey.Err, err)
		}
		return
	}
	defer lease.Release()
	defer s.syncLease(context.WithoutCancel(ctx), lease)
	su, err := lease.Pool(placement.Superuser)
	if err != nil {
		log.Error("connect for a cron job", logkey.Err, err)
		return
	}
	var username, command, schedule string
	var active bool
	err = su.QueryRow(ctx, `SELECT username, command, schedule, active FROM cron.job WHERE jobid = $1`, jobid).
		Scan(&username, &command, &schedule, &active)
	if errors.Is(err, pgx.ErrNoRows) {
		log.Debug("cron job was unscheduled")
		return
	}
	if err != nil {
		log.Error("read cron job", logkey.Err, err)
		return
	}
	if sc, err := ParseSchedule(schedule); err != nil || !active || !sc.Matches(s.clk.minute(tick)) {
		log.Debug("cron job changed since it was copied; not due")
		return
	}
	// A run that is still alive in the instance (started before a restart,
	// or by another server) is not overlapped; one whose session is gone
	// was cut off and is recorded so.
	var alive bool
	if err := su.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM cron.job_run_details d
		JOIN pg_catalog.pg_stat_activity a ON a.pid = d.job_pid
		WHERE d.jobid = $1 AND d.status IN ('starting', 'running'))`, jobid).Scan(&alive); err != nil {
		log.Error("check for a cron job's previous run", logkey.Err, err)
		return
	}
	if alive {
		log.Warn("tick skipped: the previous run is still going")
		return
	}
	if _, err := su.Exec(ctx, `UPDATE cron.job_run_details SET status = 'failed', return_message = $2, end_time = pg_catalog.now()
		WHERE jobid = $1 AND status IN ('starting', 'running')`, jobid, cutOffMessage); err != nil {
		log.Error("close a cron job's cut-off runs", logkey.Err, err)
		return
	}
	var runid int64
	if err := su.QueryRow(ctx, `INSERT INTO cron.job_run_details (jobid, database, username, command, status, start_time)
		VALUES ($1, pg_catalog.current_database(), $2, $3, $4, pg_catalog.clock_timestamp()) RETURNING runid`,
		jobid, username, command, statusStarting).Scan(&runid); err != nil {
		log.Error("record a cron job's run", logkey.Err, err)
		return
	}
	finish := func(status, msg string) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if _, err := su.Exec(fctx, `UPDATE cron.job_run_details SET status = $2, return_message = $3, end_time = pg_catalog.clock_timestamp()
			WHERE runid = $1`, runid, status, msg); err != nil {
			log.Error("record the end of a cron job's run", "runid", runid, logkey.Err, err)
		}
		log.Info("cron job ran", "runid", runid, logkey.Role, username, "status", status)
	}
	// The job's own login: a session that SET ROLE'd from a platform role
	// could RESET ROLE out of it. Its settings are the role's and the
	// instance's (statement_timeout included).
	conn, err := lease.Connect(ctx, username)
	if err != nil {
		finish(statusFailed, fmt.Sprintf("connect as role %q: %s", username, connectMessage(err)))
		return
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if _, err := su.Exec(ctx, `UPDATE cron.job_run_details SET status = $2, job_pid = $3 WHERE runid = $1`,
		runid, statusRunning, int32(conn.PID())); err != nil {
		log.Error("record a cron job's session", logkey.Err, err)
	}
	msg, err := execute(ctx, conn, command, tick)
	switch {
	case err != nil && ctx.Err() != nil:
		finish(statusFailed, "canceled: the server is shutting down")
	case err != nil:
		finish(statusFailed, msg)
	default:
		finish(statusSucceeded, msg)
	}
}

// execute runs a job's command (one or more statements, as the simple
// query protocol takes them) and returns pg_cron's return_message: the
// last command tag, or the error. The session is named as pg_cron names
// its own, and carries the tick it runs for as db9.cron_tick (so a job
// can tell its schedule's time from the time it happened to start).
func execute(ctx context.Context, conn *pgconn.PgConn, command string, tick time.Time) (string, error) {
	set := fmt.Sprintf(`SET application_name = 'pg_cron'; SET db9.cron_tick = '%s'`, tick.UTC().Format(time.RFC3339Nano))
	if _, err := conn.Exec(ctx, set).ReadAll(); err != nil {
		return err.Error(), err
	}
	results, err := conn.Exec(ctx, command).ReadAll()
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			return "ERROR:  " + pe.Message, err
		}
		return err.Error(), err
	}
	if len(results) == 0 {
		return "", nil
	}
	return results[len(results)-1].CommandTag.String(), nil
}

func connectMessage(err error) string {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Message
	}
	return err.Error()
}

// syncLease copies a running database's active jobs into the catalog,
// when they changed since the last copy.
func (s *Scheduler) syncLease(ctx context.Context, lease placement.Lease) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	db := lease.ID()
	jobs, err := readJobs(ctx, lease)
	if err != nil {
		s.log.Warn("read cron jobs", logkey.DB, db, logkey.Err, err)
		return
	}
	var b strings.Builder
	for _, j := range jobs {
		fmt.Fprintf(&b, "%d %s\n", j.JobID, j.Schedule)
	}
	fp := "jobs:" + b.String() // never "", which means never copied
	s.mu.Lock()
	same := s.synced[db] == fp
	s.mu.Unlock()
	if same {
		return
	}
	if err := s.cfg.Store.ReplaceCronJobs(ctx, db, jobs); err != nil {
		s.logErr("copy cron jobs", err)
		return
	}
	s.mu.Lock()
	s.synced[db] = fp
	s.mu.Unlock()
}

func readJobs(ctx context.Context, lease placement.Lease) ([]catalog.CronJob, error) {
	su, err := lease.Pool(placement.Superuser)
	if err != nil {
		return nil, err
	}
	rows, err := su.Query(ctx, `SELECT jobid, schedule FROM cron.job WHERE active ORDER BY jobid`)
	if err != nil {
		return nil, err
	}
	jobs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (catalog.CronJob, error) {
		j := catalog.CronJob{DatabaseID: lease.ID()}
		err := r.Scan(&j.JobID, &j.Schedule)
		return j, err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42P01" { // no cron schema yet (upgraded at its next start)
		return nil, nil
	}
	return jobs, err
}

// syncRunning copies the jobs of every running database, without waking
// the stopped ones or keeping the running ones awake.
func (s *Scheduler) syncRunning(ctx context.Context) {
	ids, err := s.cfg.Store.ActiveDatabaseIDs(ctx)
	if err != nil {
		s.logErr("list databases", err)
		return
	}
	sem := make(chan struct{}, 4)
	var wg sync.WaitGroup
	for _, id := range ids {
		lease, ok := s.cfg.Placement.Peek(id)
		if !ok {
			continue
		}
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			defer lease.Release()
			s.syncLease(ctx, lease)
		}()
	}
	wg.Wait()
}

// beforeIdleStop copies a database's jobs once more before it stops, so
// jobs scheduled since the last tick wake it on time.
func (s *Scheduler) beforeIdleStop(ctx context.Context, lease placement.Lease) {
	if s.closed.Load() {
		return
	}
	s.syncLease(ctx, lease)
}

// jobKey names a job in logs and claims.
func jobKey(jobid int64) string { return strconv.FormatInt(jobid, 10) }
