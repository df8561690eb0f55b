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

// RunWriter records function runs with group commit: what arrives while
// a flush is in progress goes into the next one, one statement (one
// commit) for all of it. A caller returns once its own record is
// committed. Alone, a caller waits for no one: a flush starts as soon as
// the writer is idle. (Holding a flush back for the ends of runs still
// going was tried: fewer commits, but a lower invoke rate at 16 clients,
// docs/BENCHMARKS.md.)
//
// Finish writes a run once, when it ends: it inserts the run whole (a run
// without an idempotency key has no row before, ADR 0007) or updates the
// row Runs.Start, Runs.StartScheduled or Start recorded. Start records a
// run as running; it leaves alone a run that has a row already.
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

// RunEnd is how a run ended. Run is the run as it started (id, function,
// database, version, trigger, input, StartedAt): it is inserted as such
// when it has no row, with started_at and created_at = Run.StartedAt (now
// when nil).
type RunEnd struct {
	Run      FunctionRun
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
// running, started at r.StartedAt (now when nil), and returns it as
// stored. When the run has a row already (it ended meanwhile) it records
// nothing and returns an error.
func (w *RunWriter) Start(r FunctionRun) (FunctionRun, error) {
	op := &runOp{start: &r}
	w.submit(op)
	return op.out, op.err
}

// Finish records how a run ended, with its logs; ErrNotFound when its
// function is not there (deleted meanwhile).
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
			batch, _ := w.take(maxFlushRecords, maxFlushLogBytes)
			if len(batch) == 0 {
				break
			}
			w.flush(batch)
		}
	}
	for {
		batch, _ := w.take(maxFlushRecords, maxFlushLogBytes)
		if len(batch) == 0 {
			return
		}
		w.flush(batch)
	}
}

// take removes from pending the next records of a flush: at most max, and
// no more once their logs passed budget bytes. It returns them and the
// size of their logs.
func (w *RunWriter) take(max, budget int) ([]*runOp, int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n, bytes := 0, 0
	for n < len(w.pending) && n < max && bytes <= budget {
		if e := w.pending[n].end; e != nil {
			for _, l := range e.Logs {
				bytes += len(l.Message)
			}
		}
		n++
	}
	batch := w.pending[:n:n]
	w.pending = w.pending[n:]
	if len(w.pending) == 0 {
		w.pending = nil // let the old array go
	}
	return batch, bytes
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
	settle(batch, rows, err)
}

// one writes a single record.
func (w *RunWriter) one(ctx context.Context, op *runOp) {
	batch := []*runOp{op}
	rows, err := w.writer().writeMany(ctx, batch)
	settle(batch, rows, err)
}

// settle hands each record of a flush its run or its error.
func settle(batch []*runOp, rows map[string]FunctionRun, err error) {
	if errors.Is(functionGone(err), ErrNotFound) {
		err = fmt.Errorf("record run: %w", ErrNotFound)
	}
	for _, op := range batch {
		if err != nil {
			op.err = err
			continue
		}
		id := op.id()
		if t, ok := rows[id]; ok {
			op.out = op.written(t)
		} else {
			op.err = fmt.Errorf("record run: run %s was not inserted", id)
		}
	}
}

// written is the run op wrote, given the times the catalog returned.
func (op *runOp) written(t FunctionRun) FunctionRun {
	if op.start != nil {
		r := *op.start
		r.Status, r.CreatedAt, r.StartedAt = "running", t.CreatedAt, t.StartedAt
		return r
	}
	e := op.end
	r := e.Run
	d := e.Duration.Milliseconds()
	r.Status, r.ResultJSON, r.Error, r.DurationMS = e.Status, e.Result, e.Error, &d
	r.CreatedAt, r.StartedAt, r.FinishedAt = t.CreatedAt, t.StartedAt, t.FinishedAt
	return r
}

func (op *runOp) id() string {
	if op.start != nil {
		return op.start.ID
	}
	return op.end.Run.ID
}

// writer is the Runs whose statements run on the writer's own pool
// (poolRef), the shared pool when the catalog has none.
func (w *RunWriter) writer() *Runs {
	if p := w.runs.writerPool; p != nil {
		return &Runs{&poolRef{pool: p}}
	}
	return w.runs
}

// writeMany inserts the batch's starts and records its ends, with their
// logs, in one round trip and one transaction (a pipeline of at most two
// statements, each only as complex as the batch needs), and returns by id
// the times of the runs written (settle makes the runs). A start whose run
// has a row already is absent from the result.
//
// The writer's pool plans each statement once, generically
// (force_generic_plan): none of them may join function_runs, whose
// generic plan would be made while the table is small and kept as it
// grows. Both are inserts from unnest, their conflicts found through the
// primary key (docs/BENCHMARKS.md, issue 14).
func (c *Runs) writeMany(ctx context.Context, batch []*runOp) (map[string]FunctionRun, error) {
	var (
		sID, sFn, sDB, sVer, sTrig []string
		sInput                     []*string
		sAt                        []*time.Time
		eID, eFn, eDB, eVer, eTrig []string
		eStatus                    []string
		eInput, eResult, eErr      []*string
		eDur                       []int64
		eAt                        []*time.Time
		lRun, lLevel, lMsg         []string
		lSeq                       []int32
		lTS                        []time.Time
	)
	for _, op := range batch {
		if r := op.start; r != nil {
			sID, sFn, sDB, sVer, sTrig = append(sID, r.ID), append(sFn, r.FunctionID), append(sDB, r.DatabaseID), append(sVer, r.VersionID),
				append(sTrig, r.TriggerType)
			sInput, sAt = append(sInput, r.InputJSON), append(sAt, r.StartedAt)
			continue
		}
		e, r := op.end, &op.end.Run
		eID, eFn, eDB, eVer, eTrig = append(eID, r.ID), append(eFn, r.FunctionID), append(eDB, r.DatabaseID), append(eVer, r.VersionID),
			append(eTrig, r.TriggerType)
		eInput, eAt = append(eInput, r.InputJSON), append(eAt, r.StartedAt)
		eStatus, eResult, eErr, eDur = append(eStatus, e.Status), append(eResult, e.Result), append(eErr, e.Error), append(eDur, e.Duration.Milliseconds())
		for i, l := range e.Logs {
			lRun, lSeq, lTS, lLevel, lMsg = append(lRun, r.ID), append(lSeq, int32(i+1)), append(lTS, l.TS), append(lLevel, l.Level),
				append(lMsg, l.Message)
		}
	}
	b := &pgx.Batch{}
	if len(sID) > 0 {
		// Only what the insert decides comes back; the rest is the caller's.
		b.Queue(`INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type, input_json, created_at, started_at)
			SELECT s.id, s.fn, s.db, s.ver, 'running', s.trig, s.input, coalesce(s.at, now()), coalesce(s.at, now())
			FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[]) AS s (id, fn, db, ver, trig, input, at)
			ON CONFLICT (id) DO NOTHING
			RETURNING id, created_at, started_at`, sID, sFn, sDB, sVer, sTrig, sInput, sAt)
	}
	// A run without a row is inserted whole; one with a row (started with
	// an idempotency key, by the scheduler, or by Start) gets its outcome.
	const upsert = `INSERT INTO function_runs (id, function_id, database_id, version_id, status, trigger_type, input_json, result_json, error,
			duration_ms, created_at, started_at, finished_at)
		SELECT e.id, e.fn, e.db, e.ver, e.status, e.trig, e.input, e.result, e.err, e.dur, coalesce(e.at, now()), coalesce(e.at, now()), now()
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[],
			$11::timestamptz[]) AS e (id, fn, db, ver, status, trig, input, result, err, dur, at)
		ON CONFLICT (id) DO UPDATE SET status = excluded.status, result_json = excluded.result_json, error = excluded.error,
			duration_ms = excluded.duration_ms, finished_at = excluded.finished_at
		RETURNING id, created_at, started_at, finished_at`
	switch {
	case len(eID) > 0 && len(lRun) == 0:
		b.Queue(upsert, eID, eFn, eDB, eVer, eStatus, eTrig, eInput, eResult, eErr, eDur, eAt)
	case len(eID) > 0:
		// Seq numbers from 1 for each run's logs.
		b.Queue(`WITH ended AS (`+upsert+`), logged AS (
				INSERT INTO function_run_logs (run_id, seq, ts, level, message)
				SELECT l.run_id, l.seq, l.ts, l.level, l.message
				FROM unnest($12::text[], $13::int[], $14::timestamptz[], $15::text[], $16::text[]) AS l (run_id, seq, ts, level, message)
			)
			SELECT * FROM ended`, eID, eFn, eDB, eVer, eStatus, eTrig, eInput, eResult, eErr, eDur, eAt, lRun, lSeq, lTS, lLevel, lMsg)
	}
	// Only the times come back (the catalog's clock, or the row's for a
	// run that had one); the rest is the caller's, as written.
	out := make(map[string]FunctionRun, len(batch))
	br := c.pool.SendBatch(ctx, b)
	err := func() error {
		if len(sID) > 0 {
			if err := readTimes(br, func(id string, created time.Time, started, _ *time.Time) {
				out[id] = FunctionRun{ID: id, Status: "running", CreatedAt: created, StartedAt: started}
			}); err != nil {
				return err
			}
		}
		if len(eID) > 0 {
			return readTimes(br, func(id string, created time.Time, started, finished *time.Time) {
				out[id] = FunctionRun{ID: id, Status: "ended", CreatedAt: created, StartedAt: started, FinishedAt: finished}
			})
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

// readTimes reads the next result of br: rows of id, created_at,
// started_at and, when the statement returns it, finished_at.
func readTimes(br pgx.BatchResults, each func(id string, created time.Time, started, finished *time.Time)) error {
	rows, _ := br.Query()
	defer rows.Close()
	for rows.Next() {
		var id string
		var created time.Time
		var started, finished *time.Time
		dst := []any{&id, &created, &started, &finished}
		if err := rows.Scan(dst[:len(rows.FieldDescriptions())]...); err != nil {
			return err
		}
		each(id, created, started, finished)
	}
	return rows.Err()
}
