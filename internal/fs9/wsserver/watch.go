package wsserver

import (
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/logkey"
)

// Watching: every change inserts a numbered row into _db9_fs.events and
// NOTIFYs channel _db9_fs with its number. NOTIFY is delivered at commit,
// in commit order, never for a rolled back change — unlike polling for
// numbers above the last one seen, which misses a change whose number was
// taken before another's but committed after it. So a connection with
// subscriptions LISTENs on one session of its own; the table serves
// since_seq catch-up and the gap check (rows older than the retention are
// gone: watch_gap).

type event struct {
	Seq       int64     `json:"seq"`
	Timestamp string    `json:"timestamp"`
	EventType string    `json:"event_type"`
	Path      string    `json:"path"`
	OldPath   string    `json:"old_path,omitempty"`
	IsDir     bool      `json:"is_dir"`
	Size      int64     `json:"size"`
	ts        time.Time `json:"-"`
}

type subscription struct {
	id      string
	path    string
	head    int64          // events up to head came from the catch-up...
	sent    map[int64]bool // ...these ones (a later commit may carry a lower number)
	pending []event        // notified before the catch-up finished
	ready   bool
}

// watcher is a connection's watching: its subscriptions and the session
// that LISTENs for them.
type watcher struct {
	c      *conn
	mu     sync.Mutex
	subs   map[string]*subscription
	nextID int
	last   int64
	lconn  *pgxpool.Conn
}

const eventCols = `seq, ts, event_type, path, coalesce(old_path, ''), is_dir, size`

func scanEvent(r pgx.Row) (event, error) {
	var e event
	err := r.Scan(&e.Seq, &e.ts, &e.EventType, &e.Path, &e.OldPath, &e.IsDir, &e.Size)
	e.Timestamp = e.ts.UTC().Format(time.RFC3339Nano)
	return e, err
}

func (s *subscription) matches(e event) bool {
	return fs9.Within(e.Path, s.path) || (e.OldPath != "" && fs9.Within(e.OldPath, s.path))
}

// startWatcher LISTENs on a session of the connection's own, once.
func (c *conn) startWatcher() (*watcher, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.watch != nil {
		return c.watch, nil
	}
	lc, err := c.sess.Pool().Acquire(c.ctx)
	if err != nil {
		return nil, fs9.FromPG(err)
	}
	if _, err := lc.Exec(c.ctx, `LISTEN _db9_fs`); err != nil {
		lc.Release()
		return nil, fs9.FromPG(err)
	}
	w := &watcher{c: c, subs: map[string]*subscription{}, lconn: lc}
	c.watch = w
	c.wg.Add(2)
	go w.listen()
	go w.heartbeat()
	return w, nil
}

// subscribe answers watch_subscribe: catch-up from since_seq, then live
// events.
func (w *watcher) subscribe(req *request, p string) {
	c := w.c
	ctx := c.ctx
	pool := c.sess.Pool()
	w.mu.Lock()
	w.nextID++
	sub := &subscription{id: "w" + strconv.Itoa(w.nextID), path: p, sent: map[int64]bool{}}
	w.subs[sub.id] = sub // from here on notifications queue up in pending
	w.mu.Unlock()

	var head, pruned int64
	err := pool.QueryRow(ctx, `SELECT coalesce((SELECT max(seq) FROM _db9_fs.events), 0),
		coalesce((SELECT value::bigint FROM _db9_fs.meta WHERE key = 'pruned_through'), 0)`).Scan(&head, &pruned)
	if err != nil {
		w.drop(sub.id)
		c.fail(req.ID, fs9.FromPG(err))
		return
	}
	head = max(head, pruned)
	var backlog []event
	gap := false
	if req.SinceSeq != nil {
		since := *req.SinceSeq
		if since < pruned {
			gap, since = true, pruned
		}
		rows, err := pool.Query(ctx, `SELECT `+eventCols+` FROM _db9_fs.events WHERE seq > $1 AND seq <= $2 ORDER BY seq`, since, head)
		if err == nil {
			backlog, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) (event, error) { return scanEvent(r) })
		}
		if err != nil {
			w.drop(sub.id)
			c.fail(req.ID, fs9.FromPG(err))
			return
		}
	}
	c.ok(req.ID, map[string]any{"subscription_id": sub.id, "head_seq": head, "overflow": gap})
	if gap {
		_ = c.send(map[string]any{"push": "watch_gap", "subscription_id": sub.id,
			"requested_seq": *req.SinceSeq, "oldest_seq": pruned + 1, "head_seq": head})
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	sub.head = head
	for _, e := range backlog {
		sub.sent[e.Seq] = true
		if sub.matches(e) {
			w.push(sub, e)
		}
	}
	for _, e := range sub.pending {
		w.deliver(sub, e)
	}
	sub.pending, sub.ready = nil, true
}

func (w *watcher) drop(id string) {
	w.mu.Lock()
	delete(w.subs, id)
	w.mu.Unlock()
}

// unsubscribe ends a subscription; w is nil when the connection has none.
func (w *watcher) unsubscribe(id string) error {
	if w != nil {
		w.mu.Lock()
		defer w.mu.Unlock()
		if _, ok := w.subs[id]; ok {
			delete(w.subs, id)
			return nil
		}
	}
	return fs9.Errorf(fs9.ENOENT, "no subscription %q", id)
}

// deliver pushes e to sub unless the catch-up already did. w.mu held.
func (w *watcher) deliver(sub *subscription, e event) {
	if e.Seq <= sub.head && sub.sent[e.Seq] {
		return
	}
	if sub.matches(e) {
		w.push(sub, e)
	}
}

func (w *watcher) push(sub *subscription, e event) {
	_ = w.c.send(map[string]any{"push": "watch_event", "subscription_id": sub.id, "seq": e.Seq, "timestamp": e.Timestamp,
		"event_type": e.EventType, "path": e.Path, "old_path": e.OldPath, "is_dir": e.IsDir, "size": e.Size, "event": e})
}

// listen turns notifications into pushes until the connection ends.
func (w *watcher) listen() {
	c := w.c
	defer c.wg.Done()
	defer w.lconn.Release()
	pool := c.sess.Pool()
	for {
		n, err := w.lconn.Conn().WaitForNotification(c.ctx)
		if err != nil {
			if c.ctx.Err() == nil {
				c.s.log.Warn("fs9 watch listener ended", logkey.DB, c.id.Database, logkey.Err, err)
			}
			return
		}
		seq, err := strconv.ParseInt(n.Payload, 10, 64)
		if err != nil {
			continue
		}
		e, err := scanEvent(pool.QueryRow(c.ctx, `SELECT `+eventCols+` FROM _db9_fs.events WHERE seq = $1`, seq))
		if err != nil {
			continue // pruned already
		}
		w.mu.Lock()
		w.last = max(w.last, e.Seq)
		for _, sub := range w.subs {
			if !sub.ready {
				sub.pending = append(sub.pending, e)
				continue
			}
			w.deliver(sub, e)
		}
		w.mu.Unlock()
	}
}

func (w *watcher) heartbeat() {
	c := w.c
	defer c.wg.Done()
	t := time.NewTicker(c.s.cfg.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			w.mu.Lock()
			for _, sub := range w.subs {
				_ = c.send(map[string]any{"push": "watch_heartbeat", "subscription_id": sub.id, "head_seq": max(w.last, sub.head)})
			}
			w.mu.Unlock()
		}
	}
}
