package catalog

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// ErrRunInProgress is returned by Runs.StartScheduled when a run of the
// function is still queued or running: the tick is skipped.
var ErrRunInProgress = errors.New("a run of the function is still in progress")

// Runs is the function_runs table and the runs' logs.
type Runs struct{ *poolRef }

// FunctionRun is one run of a function.
type FunctionRun struct {
	ID             string
	FunctionID     string
	DatabaseID     string
	VersionID      string
	Status         string
	TriggerType    string
	InputJSON      *string
	ResultJSON     *string
	Error          *string
	DurationMS     *int64
	IdempotencyKey string
	CreatedAt      time.Time
	StartedAt      *time.Time
	FinishedAt     *time.Time
}

// RunLog is one line of a run's logs.
type RunLog struct {
	TS      time.Time
	Level   string
	Message string
}

const runColumns = `id, function_id, database_id, version_id, status, trigger_type, input_json, result_json, error, duration_ms,
	coalesce(idempotency_key, ''), created_at, started_at, finished_at`

func scanRun(row pgx.Row) (FunctionRun, error) {
	var r FunctionRun
	err := row.Scan(&r.ID, &r.FunctionID, &r.DatabaseID, &r.VersionID, &r.Status, &r.TriggerType, &r.InputJSON, &r.ResultJSON,
		&r.Error, &r.DurationMS, &r.IdempotencyKey, &r.CreatedAt, &r.StartedAt, &r.FinishedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, ErrNotFound
	}
	return r, err
}

// IdempotencyWindow is how long an idempotency key names one run.
const IdempotencyWindow = 24 * time.Hour

// Start records r as running. With an idempotency key already used for
// the function within IdempotencyWindow it records nothing and returns
// that run with created false.
func (c *Runs) Start(ctx context.Context, r FunctionRun) (FunctionRun, bool, error) {
	if r.IdempotencyKey == "" {
		out, err := c.startOne(ctx, r)
		return out, err == nil, err
	}
	var out FunctionRun
	created := false
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		var key *string
		if r.IdempotencyKey != "" {
			key = &r.IdempotencyKey
			// A key older than the window names no run any more.
			if _, err := tx.Exec(ctx, `UPDATE function_runs SET idempotency_key = NULL
				WHERE function_id = $1 AND idempotency_key = $2 AND created_at < now() - make_interval(secs => $3)`,
				r.FunctionID, r.IdempotencyKey, IdempotencyWindow.Seconds()); err != nil {
				return err
			}
		}
		var err error
		out, err = scanRun(tx.QueryRow(ctx, `INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type,
				input_json, idempotency_key, started_at)
			VALUES ($1, $2, $3, $4, 'running', $5, $6, $7, now())
			ON CONFLICT (function_id, idempotency_key) WHERE idempotency_key IS NOT NULL DO NOTHING
			RETURNING `+runColumns, r.ID, r.FunctionID, r.DatabaseID, r.VersionID, r.TriggerType, r.InputJSON, key))
		if err == nil {
			created = true
			return nil
		}
		if !errors.Is(err, ErrNotFound) || key == nil {
			return err
		}
		out, err = scanRun(tx.QueryRow(ctx, `SELECT `+runColumns+` FROM function_runs WHERE function_id = $1 AND idempotency_key = $2`,
			r.FunctionID, r.IdempotencyKey))
		return err
	})
	if err != nil {
		return FunctionRun{}, false, fmt.Errorf("record run: %w", functionGone(err))
	}
	return out, created, nil
}

// startOne records r, without an idempotency key, as running: one
// statement, one round trip. ErrNotFound when its function is gone.
func (c *Runs) startOne(ctx context.Context, r FunctionRun) (FunctionRun, error) {
	out, err := scanRun(c.pool.QueryRow(ctx, `INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type,
			input_json, started_at)
		VALUES ($1, $2, $3, $4, 'running', $5, $6, now())
		RETURNING `+runColumns, r.ID, r.FunctionID, r.DatabaseID, r.VersionID, r.TriggerType, r.InputJSON))
	if err != nil {
		return FunctionRun{}, fmt.Errorf("record run: %w", functionGone(err))
	}
	return out, nil
}

// functionGone is ErrNotFound when err is the insert of a run of a
// function that is not (any more) there, else err.
func functionGone(err error) error {
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "23503" && pe.ConstraintName == "function_runs_function_id_fkey" {
		return ErrNotFound
	}
	return err
}

// StartScheduled records r (a cron run) as running and moves the
// function's next_run_at to next, unless a run of the function is still
// queued or running (ErrRunInProgress; next_run_at moves all the same, as
// the tick is skipped). ErrNotFound when the function is gone.
func (c *Runs) StartScheduled(ctx context.Context, r FunctionRun, next *time.Time) (FunctionRun, error) {
	var out FunctionRun
	err := pgx.BeginFunc(ctx, c.pool, func(tx pgx.Tx) error {
		// The function's row lock orders concurrent ticks of one function.
		tag, err := tx.Exec(ctx, `UPDATE functions SET next_run_at = $2 WHERE id = $1`, r.FunctionID, next)
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return ErrNotFound
		}
		var busy bool
		if err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM function_runs WHERE function_id = $1 AND status IN ('queued', 'running'))`,
			r.FunctionID).Scan(&busy); err != nil {
			return err
		}
		if busy {
			return ErrRunInProgress
		}
		out, err = scanRun(tx.QueryRow(ctx, `INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type,
				input_json, started_at)
			VALUES ($1, $2, $3, $4, 'running', 'cron', $5, now()) RETURNING `+runColumns,
			r.ID, r.FunctionID, r.DatabaseID, r.VersionID, r.InputJSON))
		return err
	})
	if errors.Is(err, ErrRunInProgress) {
		// The skip must still move next_run_at: commit that alone.
		if _, uerr := c.pool.Exec(ctx, `UPDATE functions SET next_run_at = $2 WHERE id = $1`, r.FunctionID, next); uerr != nil {
			return FunctionRun{}, fmt.Errorf("record skipped tick: %w", uerr)
		}
		return FunctionRun{}, ErrRunInProgress
	}
	if err != nil {
		return FunctionRun{}, fmt.Errorf("record scheduled run: %w", err)
	}
	return out, nil
}

// Get reads a run of a function.
func (c *Runs) Get(ctx context.Context, functionID, id string) (FunctionRun, error) {
	return scanRun(c.pool.QueryRow(ctx, `SELECT `+runColumns+` FROM function_runs WHERE function_id = $1 AND id = $2`, functionID, id))
}

// List lists a function's runs newest first, of one status when
// status is not "".
func (c *Runs) List(ctx context.Context, functionID, status string, limit int) ([]FunctionRun, error) {
	rows, err := c.pool.Query(ctx, `SELECT `+runColumns+` FROM function_runs WHERE function_id = $1 AND ($2 = '' OR status = $2)
		ORDER BY created_at DESC, id LIMIT $3`, functionID, status, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (FunctionRun, error) { return scanRun(r) })
}

// Logs reads a run's logs in order.
func (c *Runs) Logs(ctx context.Context, runID string) ([]RunLog, error) {
	rows, err := c.pool.Query(ctx, `SELECT ts, level, message FROM function_run_logs WHERE run_id = $1 ORDER BY seq`, runID)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (RunLog, error) {
		var l RunLog
		err := r.Scan(&l.TS, &l.Level, &l.Message)
		return l, err
	})
}

// FailUnfinished marks every queued or running run failed with
// reason: at start, no run of a previous process can still be going.
func (c *Runs) FailUnfinished(ctx context.Context, reason string) (int64, error) {
	tag, err := c.pool.Exec(ctx, `UPDATE function_runs SET status = 'failed', error = $1, finished_at = now(),
			duration_ms = (extract(epoch FROM now() - coalesce(started_at, created_at)) * 1000)::bigint
		WHERE status IN ('queued', 'running')`, reason)
	return tag.RowsAffected(), err
}

// FailLost records as failed, with reason, the runs a stopped process
// had started and not recorded (its run journal): each one that has no
// row and whose function is still there. Runs with a row are left as they
// are. It returns how many it recorded.
func (c *Runs) FailLost(ctx context.Context, runs []FunctionRun, reason string) (int64, error) {
	var total int64
	for len(runs) > 0 {
		chunk := runs[:min(len(runs), 1000)]
		runs = runs[len(chunk):]
		var id, fn, db, ver, trig []string
		var input []*string
		var at []*time.Time
		for _, r := range chunk {
			id, fn, db, ver, trig = append(id, r.ID), append(fn, r.FunctionID), append(db, r.DatabaseID), append(ver, r.VersionID), append(trig, r.TriggerType)
			input, at = append(input, r.InputJSON), append(at, r.StartedAt)
		}
		tag, err := c.pool.Exec(ctx, `INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type, input_json,
				error, duration_ms, created_at, started_at, finished_at)
			SELECT s.id, s.fn, s.db, s.ver, 'failed', s.trig, s.input, $8,
				(extract(epoch FROM now() - coalesce(s.at, now())) * 1000)::bigint, coalesce(s.at, now()), s.at, now()
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS s (id, fn, db, ver, trig, input, at)
			WHERE EXISTS (SELECT 1 FROM functions f WHERE f.id = s.fn)
			ON CONFLICT (id) DO NOTHING`, id, fn, db, ver, trig, input, at, reason)
		if err != nil {
			return total, fmt.Errorf("record lost runs: %w", err)
		}
		total += tag.RowsAffected()
	}
	return total, nil
}

// Prune deletes the runs (and logs) older than age that are not
// among the newest keep of their function, and forgets idempotency keys
// older than IdempotencyWindow.
func (c *Runs) Prune(ctx context.Context, age time.Duration, keep int) (int64, error) {
	tag, err := c.pool.Exec(ctx, `DELETE FROM function_runs r USING (
			SELECT id FROM (SELECT id, created_at, row_number() OVER (PARTITION BY function_id ORDER BY created_at DESC) AS n
				FROM function_runs) x
			WHERE x.n > $2 AND x.created_at < now() - make_interval(secs => $1)) old
		WHERE r.id = old.id AND r.status NOT IN ('queued', 'running')`, age.Seconds(), keep)
	if err != nil {
		return 0, err
	}
	_, err = c.pool.Exec(ctx, `UPDATE function_runs SET idempotency_key = NULL
		WHERE idempotency_key IS NOT NULL AND created_at < now() - make_interval(secs => $1)`, IdempotencyWindow.Seconds())
	return tag.RowsAffected(), err
}
