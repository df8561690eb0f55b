package observe

import (
	"sync"
	"time"
)

// Requests is db9's own record of the SQL-over-HTTP and data API requests
// it serves, per database and wall-clock minute: how many, how many
// failed, and how many ran at once. Statement counts and latencies of
// every path come from pg_stat_statements instead (Collector): the front
// door relays bytes and sees no statements, and an HTTP request's time
// includes what is not the statement's (a wake, the network); that time
// is in /metrics as db9_http_request_duration_seconds.
type Requests struct {
	m   *Metrics // may be nil
	now func() time.Time

	mu  sync.Mutex
	dbs map[string]*reqDB
}

type reqDB struct {
	inflight int
	minutes  map[time.Time]*ReqMinute
}

// ReqMinute is one database's requests in one minute.
type ReqMinute struct {
	Count, Errors int64
	// Peak is the most requests that ran at once.
	Peak int
}

// keptMinutes bounds the minutes kept for a database between Takes.
const keptMinutes = 10

// NewRequests returns an empty record; m (optional) also gets the
// per-database request counter when it has one.
func NewRequests(m *Metrics) *Requests {
	return &Requests{m: m, now: time.Now, dbs: map[string]*reqDB{}}
}

// Begin records the start of a request on database db; the returned
// function records its end (failed when err is not nil). It implements
// observability.RequestObserver (internal/control/observability).
func (r *Requests) Begin(db string) func(err error) {
	start := r.now()
	r.mu.Lock()
	d := r.dbs[db]
	if d == nil {
		d = &reqDB{minutes: map[time.Time]*ReqMinute{}}
		r.dbs[db] = d
	}
	d.inflight++
	if len(d.minutes) > keptMinutes { // nobody Takes them (collection off, or a stopped collector)
		for t := range d.minutes {
			if start.Sub(t) > keptMinutes*time.Minute {
				delete(d.minutes, t)
			}
		}
	}
	m := d.minute(start.Truncate(time.Minute))
	m.Peak = max(m.Peak, d.inflight)
	r.mu.Unlock()
	return func(err error) {
		end := r.now()
		r.mu.Lock()
		d.inflight--
		m := d.minute(end.Truncate(time.Minute))
		m.Count++
		if err != nil {
			m.Errors++
		}
		r.mu.Unlock()
		r.m.dbRequest(db, err != nil)
	}
}

func (d *reqDB) minute(t time.Time) *ReqMinute {
	m := d.minutes[t]
	if m == nil {
		m = &ReqMinute{}
		d.minutes[t] = m
	}
	return m
}

// Inflight is how many requests on db run now.
func (r *Requests) Inflight(db string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	if d := r.dbs[db]; d != nil {
		return d.inflight
	}
	return 0
}

// Take returns db's minutes recorded so far and forgets them (the
// collector stores them); the current minute starts afresh.
func (r *Requests) Take(db string) map[time.Time]ReqMinute {
	r.mu.Lock()
	defer r.mu.Unlock()
	d := r.dbs[db]
	if d == nil || len(d.minutes) == 0 {
		return nil
	}
	out := make(map[time.Time]ReqMinute, len(d.minutes))
	for t, m := range d.minutes {
		out[t] = *m
	}
	clear(d.minutes)
	if d.inflight == 0 {
		delete(r.dbs, db)
	}
	return out
}

// Keep forgets the databases not in live that have no request running
// (deleted databases).
func (r *Requests) Keep(live map[string]bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, d := range r.dbs {
		if !live[id] && d.inflight == 0 {
			delete(r.dbs, id)
		}
	}
}
