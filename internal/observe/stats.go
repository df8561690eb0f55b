package observe

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"sort"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/dataapi"
	"github.com/db9/db9/internal/postgres"
)

// snapshot is one reading of an instance's cumulative statistics.
type snapshot struct {
	commits int64
	dbSize  int64
	fsBytes *int64 // nil when fs9's counter could not be read
	reset   string // pg_stat_statements_info.stats_reset
	queries map[string]queryStat
}

// queryStat is one pg_stat_statements entry, cumulative. SumSq (the sum
// of squared execution times) is derived from mean and stddev, so that a
// difference of two readings gives the variance of the calls between
// them.
type queryStat struct {
	Calls int64   `json:"c"`
	Total float64 `json:"t"`
	SumSq float64 `json:"s"`
	Rows  int64   `json:"r"`
	text  string
}

// globalsSQL reads the instance-wide counters. It runs as the platform
// superuser in one implicit transaction with statementsSQL: one commit per
// collection (counted in tps; see docs/API-NOTES.md).
const globalsSQL = `SELECT (SELECT sum(xact_commit) FROM pg_stat_database)::bigint,
	pg_database_size(current_database()),
	coalesce((SELECT stats_reset FROM extensions.pg_stat_statements_info)::text, '')`

// statementsSQL reads the tenant's statements: top-level ones not run by
// the platform's plumbing roles (the superuser: the collector, password
// checks; the data API's authenticator: its schema checks). Statements of
// read-only API tokens (_db9_sys_readonly) and of functions (which run as
// their run_as role) are the tenant's and count.
const statementsSQL = `SELECT queryid::text, query, calls, total_exec_time, stddev_exec_time, rows
	FROM extensions.pg_stat_statements(true)
	WHERE toplevel AND queryid IS NOT NULL AND calls > 0
	AND userid NOT IN (SELECT oid FROM pg_roles WHERE rolname IN ('` + postgres.Superuser + `', '` + dataapi.AuthenticatorRole + `'))`

// fsSQL reads fs9's kept-up-to-date size counter (FS9.md).
const fsSQL = `SELECT total_logical_bytes::bigint FROM extensions.fs9_storage_stats()`

// framing matches statements that only frame others (transaction control
// and the session reset db9 sends before each SQL-over-HTTP call): they
// are not counted as statements, and their commits count in tps.
//
// Also left out: the data API's per-request setup statement and its
// RESET ALL (they start with dataapi.SetupMarker; pg_stat_statements files it under the role
// it switched to, so the role filter of statementsSQL misses it).
var framing = regexp.MustCompile(`(?i)^\s*(begin|start\s+transaction|commit|end|rollback|abort|discard\s+all)\b|^\s*select\s+_db9\.|^\s*` + regexp.QuoteMeta(dataapi.SetupMarker))

func readSnapshot(ctx context.Context, pool *pgxpool.Pool) (*snapshot, error) {
	b := &pgx.Batch{}
	b.Queue(globalsSQL)
	b.Queue(statementsSQL)
	b.Queue(fsSQL)
	br := pool.SendBatch(ctx, b)
	defer br.Close()
	s := &snapshot{queries: map[string]queryStat{}}
	if err := br.QueryRow().Scan(&s.commits, &s.dbSize, &s.reset); err != nil {
		return nil, fmt.Errorf("read pg_stat_database: %w", err)
	}
	rows, err := br.Query()
	if err != nil {
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	for rows.Next() {
		var id, text string
		var q queryStat
		var stddev float64
		if err := rows.Scan(&id, &text, &q.Calls, &q.Total, &stddev, &q.Rows); err != nil {
			rows.Close()
			return nil, fmt.Errorf("read pg_stat_statements: %w", err)
		}
		if framing.MatchString(text) {
			continue
		}
		mean := q.Total / float64(q.Calls)
		q.SumSq = float64(q.Calls) * (stddev*stddev + mean*mean)
		q.text = text
		s.queries[id] = q
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read pg_stat_statements: %w", err)
	}
	var fs int64
	if err := br.QueryRow().Scan(&fs); err == nil {
		s.fsBytes = &fs
	}
	return s, nil
}

// baseline is the last snapshot's cumulative counters, stored in the
// catalog so that deltas stay right across server restarts.
type baseline struct {
	Commits int64                `json:"commits"`
	Reset   string               `json:"reset"`
	Queries map[string]queryStat `json:"queries"`
}

// delta is what happened between two snapshots.
type delta struct {
	calls   int64
	totalMS float64
	p99MS   float64 // 0 without calls
	commits int64
	queries []catalog.ObsQuery
}

// maxQueriesPerCollection bounds the per-query rows one collection
// stores: the statements that took the most time in it.
const maxQueriesPerCollection = 50

// diff computes what happened since base. A counter that went down was
// reset (the instance restarted after a crash, pg_stat_statements_reset,
// an entry evicted and seen again): its whole current value is new. With
// no base (a database never read) everything is new.
func diff(base *baseline, s *snapshot) delta {
	var d delta
	reset := base == nil || base.Reset != s.reset
	switch {
	case base == nil || s.commits < base.Commits:
		d.commits = s.commits
	default:
		d.commits = s.commits - base.Commits
	}
	var parts []queryStat
	for id, q := range s.queries {
		dq := q
		if prev, ok := base.query(id); ok && !reset && q.Calls >= prev.Calls {
			dq = queryStat{Calls: q.Calls - prev.Calls, Total: q.Total - prev.Total, SumSq: q.SumSq - prev.SumSq, Rows: q.Rows - prev.Rows, text: q.text}
		}
		if dq.Calls <= 0 {
			continue
		}
		dq.Total, dq.SumSq = max(dq.Total, 0), max(dq.SumSq, 0)
		d.calls += dq.Calls
		d.totalMS += dq.Total
		parts = append(parts, dq)
		qid, _ := strconv.ParseInt(id, 10, 64)
		d.queries = append(d.queries, catalog.ObsQuery{QueryID: qid, Query: dq.text, Calls: dq.Calls, TotalMS: dq.Total, Rows: dq.Rows})
	}
	sort.Slice(d.queries, func(i, j int) bool { return d.queries[i].TotalMS > d.queries[j].TotalMS })
	if len(d.queries) > maxQueriesPerCollection {
		d.queries = d.queries[:maxQueriesPerCollection]
	}
	d.p99MS = mixtureP99(parts)
	return d
}

func (b *baseline) query(id string) (queryStat, bool) {
	if b == nil {
		return queryStat{}, false
	}
	q, ok := b.Queries[id]
	return q, ok
}

// mixtureP99 estimates the 99th percentile of the execution times of the
// calls in parts. pg_stat_statements keeps a mean and a standard
// deviation per statement, not a distribution: each statement's calls are
// taken as normally distributed with the mean and deviation of the calls
// in the interval (exact, from the differences of sums and sums of
// squares), and the 0.99 quantile of the call-weighted mixture is found by
// bisection. It is never reported below the interval's mean (see
// docs/API-NOTES.md).
func mixtureP99(parts []queryStat) float64 {
	var n, total, hi float64
	type comp struct{ w, mu, sd float64 }
	cs := make([]comp, 0, len(parts))
	for _, q := range parts {
		c := float64(q.Calls)
		mu := q.Total / c
		sd := math.Sqrt(max(q.SumSq/c-mu*mu, 0))
		cs = append(cs, comp{c, mu, sd})
		n += c
		total += q.Total
		hi = max(hi, mu+6*sd)
	}
	if n == 0 {
		return 0
	}
	cdf := func(x float64) float64 {
		var s float64
		for _, c := range cs {
			if c.sd == 0 {
				if x >= c.mu {
					s += c.w
				}
				continue
			}
			s += c.w * 0.5 * math.Erfc(-(x-c.mu)/(c.sd*math.Sqrt2))
		}
		return s / n
	}
	lo := 0.0
	for range 60 {
		mid := (lo + hi) / 2
		if cdf(mid) >= 0.99 {
			hi = mid
		} else {
			lo = mid
		}
	}
	return max(hi, total/n)
}
