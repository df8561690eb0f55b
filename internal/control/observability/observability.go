package observability

import (
	"context"
	"math"
	"sort"
	"time"

	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
)

// RequestObserver is told of every SQL-over-HTTP and data API request as
// it starts, with the database's id; the function it returns is called
// when the request ends (err: it failed). observe.Requests implements it.
type RequestObserver interface {
	Begin(db string) (end func(err error))
}

// ObsStore is the catalog's side of observability: the per-minute figures
// the collector stored.
type ObsStore interface {
	ObsMinutes(ctx context.Context, db string, since time.Time) ([]catalog.ObsMinute, error)
	ObsLastSizes(ctx context.Context, db string) (dbSize, fsBytes int64, err error)
	ObsTopQueries(ctx context.Context, db string, since time.Time, limit int) ([]catalog.ObsQuery, error)
}

// ObsLive reads what is true right now, never starting a database
// (observe.Collector implements it).
type ObsLive interface {
	// Connections is the front door's sessions plus running HTTP requests.
	Connections(id string) int
	// LiveSizes reads the storage figures of a running database; ok is
	// false when it is stopped.
	LiveSizes(ctx context.Context, id string) (dbSize, fsBytes int64, ok bool)
}

// Observability is the use case behind GET .../observability: figures
// from the catalog, never from waking the database.
type Observability struct {
	lookup tenancy.DatabaseLookup
	store  ObsStore
	live   ObsLive
	now    func() time.Time
}

// New returns the use case; lookup resolves a principal's database
// (control.Databases.GetDatabase).
func New(lookup tenancy.DatabaseLookup, store ObsStore, live ObsLive) *Observability {
	return &Observability{lookup: lookup, store: store, live: live, now: time.Now}
}

// The window of GET .../observability, in seconds (API.md).
const (
	ObsWindowMin     = 60
	ObsWindowMax     = 604800
	ObsWindowDefault = 3600
	obsTopQueries    = 20
)

// ObsSummary is the window's totals.
type ObsSummary struct {
	WindowSeconds     int     `json:"window_seconds"`
	QPS               float64 `json:"qps"`
	TPS               float64 `json:"tps"`
	LatencyAvgMS      float64 `json:"latency_avg_ms"`
	LatencyP99MS      float64 `json:"latency_p99_ms"`
	ActiveConnections int     `json:"active_connections"`
	StatementCount    int64   `json:"statement_count"`
	TxnCommitCount    int64   `json:"txn_commit_count"`
	ErrorCount        int64   `json:"error_count"`
	DBStorageBytes    int64   `json:"db_storage_bytes"`
	FSLogicalBytes    int64   `json:"fs_logical_bytes"`
}

// ObsSample is one minute.
type ObsSample struct {
	TS                time.Time `json:"ts"`
	QPS               float64   `json:"qps"`
	TPS               float64   `json:"tps"`
	LatencyAvgMS      float64   `json:"latency_avg_ms"`
	LatencyP99MS      float64   `json:"latency_p99_ms"`
	ActiveConnections int       `json:"active_connections"`
	ErrorCount        int64     `json:"error_count"`
}

// ObsQuery is one normalized statement of top_queries.
type ObsQuery struct {
	Query   string  `json:"query"`
	Calls   int64   `json:"calls"`
	TotalMS float64 `json:"total_ms"`
	MeanMS  float64 `json:"mean_ms"`
	Rows    int64   `json:"rows"`
}

// ObsReport is the answer of GET .../observability.
type ObsReport struct {
	Summary    ObsSummary  `json:"summary"`
	Samples    []ObsSample `json:"samples"`
	TopQueries []ObsQuery  `json:"top_queries"`
}

// Report answers for the last window seconds (ObsWindowMin..ObsWindowMax)
// of a database: one sample per minute of the window, oldest first (zero
// for minutes with nothing recorded), totals, and the top statements by
// total time.
func (o *Observability) Report(ctx context.Context, p tenancy.Principal, idOrName string, window int) (ObsReport, error) {
	if window < ObsWindowMin || window > ObsWindowMax {
		return ObsReport{}, platform.Errorf(platform.CodeInvalid, "window must be between %d and %d seconds", ObsWindowMin, ObsWindowMax)
	}
	db, err := o.lookup(ctx, p, idOrName)
	if err != nil {
		return ObsReport{}, err
	}
	now := o.now().UTC()
	last := now.Truncate(time.Minute)
	first := last.Add(-time.Duration(window)*time.Second + time.Minute)
	minutes, err := o.store.ObsMinutes(ctx, db.ID, first)
	if err != nil {
		return ObsReport{}, platform.Wrap(platform.CodeInternal, err, "read observability figures")
	}
	top, err := o.store.ObsTopQueries(ctx, db.ID, first, obsTopQueries)
	if err != nil {
		return ObsReport{}, platform.Wrap(platform.CodeInternal, err, "read observability figures")
	}
	rep := ObsReport{Summary: ObsSummary{WindowSeconds: window, ActiveConnections: o.live.Connections(db.ID)}, TopQueries: []ObsQuery{}}
	byMinute := make(map[int64]catalog.ObsMinute, len(minutes))
	var totalMS float64
	for _, m := range minutes {
		byMinute[m.Minute.Unix()] = m
		rep.Summary.StatementCount += m.Calls
		rep.Summary.TxnCommitCount += m.XactCommit
		rep.Summary.ErrorCount += m.Errors
		totalMS += m.TotalMS
	}
	rep.Samples = make([]ObsSample, 0, window/60)
	for t := first; !t.After(last); t = t.Add(time.Minute) {
		s := ObsSample{TS: t}
		if m, ok := byMinute[t.Unix()]; ok {
			s = ObsSample{TS: t, QPS: float64(m.Calls) / 60, TPS: float64(m.XactCommit) / 60, LatencyP99MS: m.P99MS,
				ActiveConnections: m.Connections, ErrorCount: m.Errors}
			if m.Calls > 0 {
				s.LatencyAvgMS = m.TotalMS / float64(m.Calls)
			}
			s.LatencyP99MS = max(s.LatencyP99MS, s.LatencyAvgMS)
		}
		rep.Samples = append(rep.Samples, s)
	}
	w := float64(window)
	rep.Summary.QPS = float64(rep.Summary.StatementCount) / w
	rep.Summary.TPS = float64(rep.Summary.TxnCommitCount) / w
	if rep.Summary.StatementCount > 0 {
		rep.Summary.LatencyAvgMS = totalMS / float64(rep.Summary.StatementCount)
	}
	rep.Summary.LatencyP99MS = max(windowP99(minutes), rep.Summary.LatencyAvgMS)
	if d, f, ok := o.live.LiveSizes(ctx, db.ID); ok {
		rep.Summary.DBStorageBytes, rep.Summary.FSLogicalBytes = d, f
	} else if d, f, err := o.store.ObsLastSizes(ctx, db.ID); err == nil {
		rep.Summary.DBStorageBytes, rep.Summary.FSLogicalBytes = d, f
	}
	for _, q := range top {
		oq := ObsQuery{Query: q.Query, Calls: q.Calls, TotalMS: q.TotalMS, Rows: q.Rows}
		if q.Calls > 0 {
			oq.MeanMS = q.TotalMS / float64(q.Calls)
		}
		rep.TopQueries = append(rep.TopQueries, oq)
	}
	return rep, nil
}

// windowP99 combines the minutes' p99 estimates into the window's: the
// smallest minute p99 at or above which lie the minutes holding 99 % of
// the window's statements (each minute's calls weighted by its p99). A
// busy minute's tail thus counts more than a quiet one's.
func windowP99(minutes []catalog.ObsMinute) float64 {
	type mp struct {
		p99   float64
		calls int64
	}
	var ms []mp
	var n int64
	for _, m := range minutes {
		if m.Calls > 0 || m.P99MS > 0 {
			c := max(m.Calls, 1)
			ms = append(ms, mp{m.P99MS, c})
			n += c
		}
	}
	if n == 0 {
		return 0
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].p99 < ms[j].p99 })
	need := int64(math.Ceil(0.99 * float64(n)))
	var seen int64
	for _, m := range ms {
		if seen += m.calls; seen >= need {
			return m.p99
		}
	}
	return ms[len(ms)-1].p99
}
