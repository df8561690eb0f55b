package catalog

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// RunWriter records the starts and ends of the runs of concurrent invokes
// with group commit: what arrives while a flush is in progress goes into
// the next one, one statement (one commit) for all of it. A caller returns
// once its own record is committed, exactly as with Runs.Start and
// Runs.Finish: a run is in the catalog as running before its handler
// starts, and with its outcome and logs before the answer. Alone, a caller
// waits for no one: a flush starts as soon as the writer is idle.
//
// A flush whose statement fails (a run whose function was deleted
// meanwhile, say) is redone one record at a time, so that one bad record
// fails only its own caller.
type RunWriter struct {
	runs *Runs

	mu      sync.Mutex
	pending []*runOp
	closed  bool
	kick    chan struct{} // cap 1: there is pending work
	done    chan struct{} // closed when the flush loop has ended
}

// runOp is one record to write: a start (start != nil) or an end.
type runOp struct {
	start *FunctionRun
	end   *RunEnd
	out   FunctionRun
	err   error
	done  chan struct{}
}

// RunEnd is how a run ended, as Runs.Finish records it.
type RunEnd struct {
	ID       string
	Status   string
	Result   *string
	Error    *string
	Duration time.Duration
	Logs     []RunLog
}

// Bounds of one flush: enough to take a burst of concurrent invokes at
// once, small enough that one statement stays a few MiB (a run's logs are
// at most 1 MiB).
const (
	maxFlushRecords  = 256
	maxFlushLogBytes = 8 << 20
	flushTimeout     = 30 * time.Second
)

// NewRunWriter starts the writer of c's runs; Close ends it.
func (c *Runs) NewRunWriter() *RunWriter {
	w := &RunWriter{runs: c, kick: make(chan struct{}, 1), done: make(chan struct{})}
	go w.loop()
	return w
}

// Start records r (no idempotency key: Runs.Start handles keys) as
// running and returns it as stored.
func (w *RunWriter) Start(r FunctionRun) (FunctionRun, error) {
	op := &runOp{start: &r}
	w.submit(op)
	return op.out, op.err
}

// Finish records how a run ended, with its logs; ErrNotFound when the run
// is not there (its function was deleted meanwhile).
func (w *RunWriter) Finish(e RunEnd) (FunctionRun, error) {
	op := &runOp{end: &e}
	w.submit(op)
	return op.out, op.err
}

// submit queues op and waits for it. The wait is not cut short by the
// caller's context: a start left behind would be a run recorded as
// running that nothing runs. Every flush is bounded by flushTimeout.
func (w *RunWriter) submit(op *runOp) {
	op.done = make(chan struct{})
	w.mu.Lock()
	if w.closed {
		// A run that ends while the server shuts down is still recorded.
		w.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
		defer cancel()
		w.one(ctx, op)
		return
	}
	w.pending = append(w.pending, op)
	select { // under mu: Close cannot have closed kick meanwhile
	case w.kick <- struct{}{}:
	default:
	}
	w.mu.Unlock()
	<-op.done
}

// Close writes what is pending and ends the flushes; later records are
// written one at a time, each with its own statement. It is idempotent.
func (w *RunWriter) Close() {
	w.mu.Lock()
	if !w.closed {
		w.closed = true
		close(w.kick)
	}
	w.mu.Unlock()
	<-w.done
}

func (w *RunWriter) loop() {
	defer close(w.done)
	for range w.kick {
		for {
			batch := w.take()
			if len(batch) == 0 {
				break
			}
			w.flush(batch)
		}
	}
	for batch := w.take(); len(batch) > 0; batch = w.take() {
		w.flush(batch)
	}
}

// take removes the next flush's records from pending.
func (w *RunWriter) take() []*runOp {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, bytes := 0, 0
	for n < len(w.pending) && n < maxFlushRecords {
		if e := w.pending[n].end; e != nil {
			for _, l := range e.Logs {
				bytes += len(l.Message)
			}
		}
		n++
		if bytes > maxFlushLogBytes {
			break
		}
	}
	batch := w.pending[:n:n]
	w.pending = w.pending[n:]
	if len(w.pending) == 0 {
		w.pending = nil // let the old array go
	}
	return batch
}

func (w *RunWriter) flush(batch []*runOp) {
	ctx, cancel := context.WithTimeout(context.Background(), flushTimeout)
	defer cancel()
	defer func() {
		for _, op := range batch {
			close(op.done)
		}
	}()
	if len(batch) == 1 {
		w.one(ctx, batch[0])
		return
	}
	rows, err := w.writer().writeMany(ctx, batch)
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		// One record's fault fails the statement: each on its own tells
		// whose it is.
		for _, op := range batch {
			w.one(ctx, op)
		}
		return
	}
	for _, op := range batch {
		if err != nil {
			op.err = err
			continue
		}
		id := op.id()
		r, ok := rows[id]
		switch {
		case ok:
			op.out = r
		case op.end != nil:
			op.err = fmt.Errorf("record run outcome: %w", ErrNotFound)
		default:
			op.err = fmt.Errorf("record run: run %s was not inserted", id)
		}
	}
}

func (op *runOp) id() string {
	if op.start != nil {
		return op.start.ID
	}
	return op.end.ID
}

// writer is the Runs whose statements run on the writer's own pool
// (poolRef), the shared pool when the catalog has none.
func (w *RunWriter) writer() *Runs {
	if p := w.runs.writerPool; p != nil {
		return &Runs{&poolRef{pool: p}}
	}
	return w.runs
}

// one writes a single record with the statements of Runs.
func (w *RunWriter) one(ctx context.Context, op *runOp) {
	r := w.writer()
	if op.start != nil {
		op.out, op.err = r.startOne(ctx, *op.start)
		return
	}
	e := op.end
	op.out, op.err = r.Finish(ctx, e.ID, e.Status, e.Result, e.Error, e.Duration, e.Logs)
}

// writeMany inserts the batch's starts and records its ends, with their
// logs, in one round trip and one transaction (a pipeline of at most two
// statements, each only as complex as the batch needs), and returns the
// runs written by id. An end whose run is not there is absent from the
// result.
func (c *Runs) writeMany(ctx context.Context, batch []*runOp) (map[string]FunctionRun, error) {
	var (
		starts                     []*FunctionRun
		sID, sFn, sDB, sVer, sTrig []string
		sInput                     []*string
		eID, eStatus               []string
		eResult, eErr              []*string
		eDur                       []int64
		lRun, lLevel, lMsg         []string
		lSeq                       []int32
		lTS                        []time.Time
	)
	for _, op := range batch {
		if r := op.start; r != nil {
			starts = append(starts, r)
			sID, sFn, sDB, sVer, sTrig = append(sID, r.ID), append(sFn, r.FunctionID), append(sDB, r.DatabaseID), append(sVer, r.VersionID),
				append(sTrig, r.TriggerType)
			sInput = append(sInput, r.InputJSON)
			continue
		}
		e := op.end
		eID, eStatus, eResult, eErr, eDur = append(eID, e.ID), append(eStatus, e.Status), append(eResult, e.Result), append(eErr, e.Error),
			append(eDur, e.Duration.Milliseconds())
		for i, l := range e.Logs {
			lRun, lSeq, lTS, lLevel, lMsg = append(lRun, e.ID), append(lSeq, int32(i+1)), append(lTS, l.TS), append(lLevel, l.Level),
				append(lMsg, l.Message)
		}
	}
	b := &pgx.Batch{}
	if len(sID) > 0 {
		// Only what the insert decides comes back; the rest is the caller's.
		b.Queue(`INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type, input_json, started_at)
			SELECT s.id, s.fn, s.db, s.ver, 'running', s.trig, s.input, now()
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[]) AS s (id, fn, db, ver, trig, input)
			RETURNING id, created_at, started_at`, sID, sFn, sDB, sVer, sTrig, sInput)
	}
	const update = `UPDATE function_runs SET status = e.e_status, result_json = e.e_result, error = e.e_err, duration_ms = e.e_dur,
			finished_at = now()
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::bigint[]) AS e (e_id, e_status, e_result, e_err, e_dur)
		WHERE function_runs.id = e.e_id
		RETURNING ` + runColumns
	switch {
	case len(eID) > 0 && len(lRun) == 0:
		b.Queue(update, eID, eStatus, eResult, eErr, eDur)
	case len(eID) > 0:
		// The logs are inserted only for runs the update found, as Finish
		// does; seq numbers from 1 there too.
		b.Queue(`WITH ended AS (`+update+`), logged AS (
				INSERT INTO function_run_logs (run_id, seq, ts, level, message)
				SELECT l.run_id, l.seq, l.ts, l.level, l.message
				FROM unnest($6::text[], $7::int[], $8::timestamptz[], $9::text[], $10::text[]) AS l (run_id, seq, ts, level, message)
				WHERE l.run_id IN (SELECT id FROM ended)
			)
			SELECT * FROM ended`, eID, eStatus, eResult, eErr, eDur, lRun, lSeq, lTS, lLevel, lMsg)
	}
	out := make(map[string]FunctionRun, len(batch))
	br := c.pool.SendBatch(ctx, b)
	err := func() error {
		if len(sID) > 0 {
			byID := make(map[string]*FunctionRun, len(starts))
			for _, r := range starts {
				byID[r.ID] = r
			}
			rows, _ := br.Query()
			for rows.Next() {
				var id string
				var created time.Time
				var started *time.Time
				if err := rows.Scan(&id, &created, &started); err != nil {
					rows.Close()
					return err
				}
				if r := byID[id]; r != nil {
					run := *r
					run.Status, run.CreatedAt, run.StartedAt = "running", created, started
					out[id] = run
				}
			}
			if err := rows.Err(); err != nil {
				return err
			}
		}
		if len(eID) > 0 {
			rows, _ := br.Query()
			runs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (FunctionRun, error) { return scanRun(r) })
			if err != nil {
				return err
			}
			for _, r := range runs {
				out[r.ID] = r
			}
		}
		return nil
	}()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("record runs: %w", err)
	}
	return out, nil
}
