package catalog

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
)

// Observe is the observability figures per database and minute, with
// the collectors' baselines. It satisfies observe.Store and
// control.ObsStore.
type Observe struct{ *poolRef }

// ObsMinute is one database's figures of one wall-clock minute: deltas
// (calls, total time, commits, errors) and the largest or latest values
// seen in it.
type ObsMinute struct {
	Minute      time.Time
	Calls       int64
	TotalMS     float64
	P99MS       float64
	XactCommit  int64
	Errors      int64
	Connections int
	// DBSizeBytes and FSLogicalBytes are nil when the minute had no
	// reading of them (the instance was stopped).
	DBSizeBytes    *int64
	FSLogicalBytes *int64
}

// ObsQuery is one normalized statement's delta in one minute.
type ObsQuery struct {
	QueryID int64
	Query   string
	Calls   int64
	TotalMS float64
	Rows    int64
}

// AddObsMinute merges a collection into its minute: deltas add up, the
// p99 estimate and connections keep their maximum, sizes their latest
// known value.
func (c *Observe) AddObsMinute(ctx context.Context, db string, m ObsMinute, queries []ObsQuery) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO obs_minutes AS t (database_id, minute, calls, total_ms, p99_ms, xact_commit, errors, connections, db_size_bytes, fs_logical_bytes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
		ON CONFLICT (database_id, minute) DO UPDATE SET calls = t.calls + excluded.calls, total_ms = t.total_ms + excluded.total_ms,
			p99_ms = greatest(t.p99_ms, excluded.p99_ms), xact_commit = t.xact_commit + excluded.xact_commit,
			errors = t.errors + excluded.errors, connections = greatest(t.connections, excluded.connections),
			db_size_bytes = coalesce(excluded.db_size_bytes, t.db_size_bytes),
			fs_logical_bytes = coalesce(excluded.fs_logical_bytes, t.fs_logical_bytes)`,
		db, m.Minute, m.Calls, m.TotalMS, m.P99MS, m.XactCommit, m.Errors, m.Connections, m.DBSizeBytes, m.FSLogicalBytes)
	for _, q := range queries {
		b.Queue(`INSERT INTO obs_query_minutes AS t (database_id, minute, queryid, query, calls, total_ms, rows) VALUES ($1, $2, $3, $4, $5, $6, $7)
			ON CONFLICT (database_id, minute, queryid) DO UPDATE SET calls = t.calls + excluded.calls,
				total_ms = t.total_ms + excluded.total_ms, rows = t.rows + excluded.rows`,
			db, m.Minute, q.QueryID, q.Query, q.Calls, q.TotalMS, q.Rows)
	}
	return c.pool.SendBatch(ctx, b).Close()
}

// ObsMinutes returns a database's minutes from since on, oldest first.
func (c *Observe) ObsMinutes(ctx context.Context, db string, since time.Time) ([]ObsMinute, error) {
	rows, err := c.pool.Query(ctx, `SELECT minute, calls, total_ms, p99_ms, xact_commit, errors, connections, db_size_bytes, fs_logical_bytes
		FROM obs_minutes WHERE database_id = $1 AND minute >= $2 ORDER BY minute`, db, since)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ObsMinute, error) {
		var m ObsMinute
		err := r.Scan(&m.Minute, &m.Calls, &m.TotalMS, &m.P99MS, &m.XactCommit, &m.Errors, &m.Connections, &m.DBSizeBytes, &m.FSLogicalBytes)
		return m, err
	})
}

// ObsLastSizes returns the latest known storage figures of a database
// (zero when none was ever read).
func (c *Observe) ObsLastSizes(ctx context.Context, db string) (dbSize, fsBytes int64, err error) {
	err = c.pool.QueryRow(ctx, `SELECT
		coalesce((SELECT db_size_bytes FROM obs_minutes WHERE database_id = $1 AND db_size_bytes IS NOT NULL ORDER BY minute DESC LIMIT 1), 0),
		coalesce((SELECT fs_logical_bytes FROM obs_minutes WHERE database_id = $1 AND fs_logical_bytes IS NOT NULL ORDER BY minute DESC LIMIT 1), 0)`,
		db).Scan(&dbSize, &fsBytes)
	return dbSize, fsBytes, err
}

// ObsTopQueries sums a database's per-query deltas from since on and
// returns the limit largest by total time.
func (c *Observe) ObsTopQueries(ctx context.Context, db string, since time.Time, limit int) ([]ObsQuery, error) {
	rows, err := c.pool.Query(ctx, `SELECT queryid, (array_agg(query ORDER BY minute DESC))[1], sum(calls)::bigint, sum(total_ms), sum(rows)::bigint
		FROM obs_query_minutes WHERE database_id = $1 AND minute >= $2
		GROUP BY queryid ORDER BY sum(total_ms) DESC, queryid LIMIT $3`, db, since, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (ObsQuery, error) {
		var q ObsQuery
		err := r.Scan(&q.QueryID, &q.Query, &q.Calls, &q.TotalMS, &q.Rows)
		return q, err
	})
}

// ObsBaseline returns the last cumulative counters stored for a database
// (the JSON its collector wrote); ErrNotFound when none.
func (c *Observe) ObsBaseline(ctx context.Context, db string) ([]byte, error) {
	var b []byte
	err := c.pool.QueryRow(ctx, `SELECT queries FROM obs_baselines WHERE database_id = $1`, db).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ErrNotFound
	}
	return b, err
}

// PutObsBaseline stores a database's cumulative counters.
func (c *Observe) PutObsBaseline(ctx context.Context, db string, xactCommit int64, state []byte) error {
	_, err := c.pool.Exec(ctx, `INSERT INTO obs_baselines (database_id, xact_commit, queries) VALUES ($1, $2, $3)
		ON CONFLICT (database_id) DO UPDATE SET xact_commit = excluded.xact_commit, queries = excluded.queries, updated_at = now()`,
		db, xactCommit, state)
	return err
}

// PruneObs removes figures older than before, and baselines of databases
// that no longer exist.
func (c *Observe) PruneObs(ctx context.Context, before time.Time) error {
	b := &pgx.Batch{}
	b.Queue(`DELETE FROM obs_minutes WHERE minute < $1`, before)
	b.Queue(`DELETE FROM obs_query_minutes WHERE minute < $1`, before)
	b.Queue(`DELETE FROM obs_baselines b WHERE NOT EXISTS (SELECT 1 FROM databases d WHERE d.id = b.database_id AND d.deleted_at IS NULL)`)
	return c.pool.SendBatch(ctx, b).Close()
}

// ActiveDatabaseIDs lists the ids of ACTIVE databases (those a collector
// may find running).
func (c *Observe) ActiveDatabaseIDs(ctx context.Context) ([]string, error) {
	return activeDatabaseIDs(ctx, c.poolRef)
}
