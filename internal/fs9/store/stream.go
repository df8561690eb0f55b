package store

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
	"io"
	"sync"
	"sync/atomic"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/fs9"
)

// PageSize is the size of a data page in the database (ADR 0004); streamed
// writes send whole pages so that no page is rewritten.
const PageSize = 256 << 10

// streamTimeout bounds how long a stream's transaction may sit idle (a
// slow client) before PostgreSQL ends it: a little above the WebSocket
// idle limit, so the protocol, not the database, times out first.
const streamTimeout = "330s"

// Writer is a streamed write: everything it is given goes into ONE
// transaction, committed by Commit. Until then readers see the old
// content; Abort (or a lost session) leaves nothing behind.
//
// Full pages go to the database from a goroutine of its own, so that the
// next bytes arrive, are hashed and assembled while PostgreSQL stores the
// previous page: taking turns, the two sides each waited for the other
// and a streamed write ran at 0.65 of COPY's speed. A Writer is used by
// one goroutine at a time.
type Writer struct {
	tx      pgx.Tx
	path    string
	ino     int64
	created bool
	buf     []byte // the page being filled, nil between pages
	n       int64
	sum     hash.Hash
	done    bool
	next    int32 // number of the next page

	pages   chan page     // full pages to the sender
	free    chan []byte   // page buffers the sender is done with
	sent    chan struct{} // closed when the sender has stopped
	stop    atomic.Bool   // the sender skips what is left (Abort)
	mu      sync.Mutex
	sendErr error // the sender's first error; later pages are skipped
}

// page is one page on its way to the database; own says whether its
// buffer is the Writer's (to be reused) or the caller's.
type page struct {
	no  int32
	b   []byte
	own bool
}

// queuedPages is how many full pages may wait for the sender: enough to
// cover a round trip, few enough that a stream holds about a MiB.
const queuedPages = 2

// Create starts a streamed write of a whole file at p (created with its
// parents when missing; mode < 0: default, an existing file keeps its own).
// ctx bounds the whole stream, pages sent in the background included.
func (s *Store) Create(ctx context.Context, p string, mode int) (*Writer, error) {
	p, err := clean(p)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.Begin(ctx)
	if err != nil {
		return nil, fs9.FromPG(err)
	}
	w := &Writer{tx: tx, path: p, sum: sha256.New(),
		pages: make(chan page, queuedPages), free: make(chan []byte, queuedPages+2), sent: make(chan struct{})}
	if _, err := tx.Exec(ctx, `SELECT pg_catalog.set_config('idle_in_transaction_session_timeout', $1, true),
		pg_catalog.set_config('statement_timeout', '0', true)`, streamTimeout); err != nil {
		rollback(tx)
		return nil, fs9.FromPG(err)
	}
	if err := tx.QueryRow(ctx, `SELECT inode, created FROM _db9_fs.stream_open($1, $2)`, p, modeArg(mode)).Scan(&w.ino, &w.created); err != nil {
		rollback(tx)
		return nil, fs9.FromPG(err)
	}
	go w.send(ctx)
	return w, nil
}

// send stores the queued pages, in order, until pages closes. After an
// error (or Abort) it only drains the queue: the transaction is lost.
//
// It pipelines: the next page is on its way while PostgreSQL stores the
// previous one (at most pipelined unanswered), so the backend does not wait
// a round trip and a copy for each page.
func (w *Writer) send(ctx context.Context) {
	defer close(w.sent)
	pl := w.tx.Conn().PgConn().StartPipeline(ctx)
	var ino [8]byte
	binary.BigEndian.PutUint64(ino[:], uint64(w.ino))
	unanswered := 0
	for p := range w.pages {
		if w.failed() == nil && !w.stop.Load() {
			var no [4]byte
			binary.BigEndian.PutUint32(no[:], uint32(p.no))
			// The page is copied into the connection's buffer here.
			pl.SendQueryParams(`SELECT _db9_fs.stream_page($1, $2, $3)`, [][]byte{ino[:], no[:], p.b}, pageOIDs, binaryParams, nil)
			pl.SendPipelineSync()
			if err := pl.Flush(); err != nil {
				w.fail(err)
			} else {
				unanswered++
			}
			for unanswered > pipelined && w.failed() == nil {
				w.fail(pageResult(pl))
				unanswered--
			}
		}
		if p.own {
			select {
			case w.free <- p.b[:0]:
			default:
			}
		}
	}
	for ; unanswered > 0 && w.failed() == nil; unanswered-- {
		w.fail(pageResult(pl))
	}
	w.fail(pl.Close())
}

// pipelined is how many pages may be sent and not yet answered.
const pipelined = 1

var (
	pageOIDs     = []uint32{20, 23, 17} // bigint, integer, bytea
	binaryParams = []int16{1, 1, 1}
)

// pageResult reads one page's answer: the call's result, then its sync.
func pageResult(pl *pgconn.Pipeline) error {
	res, err := pl.GetResults()
	if rr, ok := res.(*pgconn.ResultReader); ok {
		if _, cerr := rr.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		var pe *pgconn.PgError
		if errors.As(err, &pe) {
			_, _ = pl.GetResults() // the sync that follows the error
		}
		return err
	}
	res, err = pl.GetResults()
	if _, ok := res.(*pgconn.PipelineSync); !ok && err == nil {
		err = fmt.Errorf("unexpected %T after a page", res)
	}
	return err
}

// fail records the sender's first error.
func (w *Writer) fail(err error) {
	if err == nil {
		return
	}
	w.mu.Lock()
	if w.sendErr == nil {
		w.sendErr = fs9.FromPG(err)
	}
	w.mu.Unlock()
}

func (w *Writer) failed() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.sendErr
}

// Write adds bytes at the end; full pages go to the database at once.
// Write takes b: the caller must not change it afterwards (a whole page of
// it is sent as it is, without a copy).
func (w *Writer) Write(ctx context.Context, b []byte) error {
	if w.done {
		return fs9.Errorf(fs9.EIO, "stream already ended")
	}
	if err := w.failed(); err != nil {
		return err
	}
	if w.n+int64(len(b)) > fs9.MaxFileBytes {
		return fs9.Errorf(fs9.EFBIG, "%s: files are limited to 100 MiB", w.path)
	}
	w.sum.Write(b)
	w.n += int64(len(b))
	for len(b) > 0 {
		if len(w.buf) == 0 && len(b) >= PageSize {
			if err := w.queue(ctx, page{b: b[:PageSize:PageSize]}); err != nil {
				return err
			}
			b = b[PageSize:]
			continue
		}
		if w.buf == nil {
			select {
			case w.buf = <-w.free:
			default:
				w.buf = make([]byte, 0, PageSize)
			}
		}
		k := min(PageSize-len(w.buf), len(b))
		w.buf = append(w.buf, b[:k]...)
		b = b[k:]
		if len(w.buf) == PageSize {
			if err := w.flush(ctx); err != nil {
				return err
			}
		}
	}
	return nil
}

// flush queues the page being filled, if any.
func (w *Writer) flush(ctx context.Context) error {
	if len(w.buf) == 0 {
		return nil
	}
	p := page{b: w.buf, own: true}
	w.buf = nil
	return w.queue(ctx, p)
}

func (w *Writer) queue(ctx context.Context, p page) error {
	p.no = w.next
	w.next++
	select {
	case w.pages <- p:
		return nil
	case <-ctx.Done():
		return fs9.FromPG(ctx.Err())
	}
}

// drain stops taking pages and waits for the sender to finish.
func (w *Writer) drain() error {
	close(w.pages)
	<-w.sent
	return w.failed()
}

// Written is how many bytes the stream has taken so far.
func (w *Writer) Written() int64 { return w.n }

// Sum is the SHA-256 of the bytes taken so far.
func (w *Writer) Sum() []byte { return w.sum.Sum(nil) }

// Commit makes the new content visible, whole, and returns its size.
func (w *Writer) Commit(ctx context.Context) (int64, error) {
	if w.done {
		return 0, fs9.Errorf(fs9.EIO, "stream already ended")
	}
	w.done = true
	defer rollback(w.tx)
	err := w.flush(ctx)
	if derr := w.drain(); err == nil {
		err = derr
	}
	if err != nil {
		return 0, err
	}
	var n int64
	if err := w.tx.QueryRow(ctx, `SELECT _db9_fs.stream_close($1, $2, $3)`, w.path, w.ino, w.created).Scan(&n); err != nil {
		return 0, fs9.FromPG(err)
	}
	if err := w.tx.Commit(ctx); err != nil {
		return 0, fs9.FromPG(err)
	}
	return n, nil
}

// Abort drops everything the stream wrote. Safe after Commit.
func (w *Writer) Abort() {
	if !w.done {
		w.done = true
		w.stop.Store(true)
		_ = w.drain() // the transaction is dropped whatever the sender met
		rollback(w.tx)
	}
}

// Reader is a streamed read of a whole file from one snapshot.
type Reader struct {
	tx      pgx.Tx
	ino     int64
	size    int64
	gen     int64
	off     int64 // next byte to hand out
	pending []byte
	ctx     context.Context
}

// readAhead is how many pages one round trip fetches.
const readAhead = 4

// Open starts a streamed read of the file at p. Close it.
func (s *Store) Open(ctx context.Context, p string) (*Reader, error) {
	p, err := clean(p)
	if err != nil {
		return nil, err
	}
	tx, err := s.db.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.RepeatableRead, AccessMode: pgx.ReadOnly})
	if err != nil {
		return nil, fs9.FromPG(err)
	}
	r := &Reader{tx: tx, ctx: ctx}
	if _, err := tx.Exec(ctx, `SELECT pg_catalog.set_config('idle_in_transaction_session_timeout', $1, true),
		pg_catalog.set_config('statement_timeout', '0', true)`, streamTimeout); err != nil {
		rollback(tx)
		return nil, fs9.FromPG(err)
	}
	if err := tx.QueryRow(ctx, `SELECT inode, size, generation FROM _db9_fs.open_read($1)`, p).Scan(&r.ino, &r.size, &r.gen); err != nil {
		rollback(tx)
		return nil, fs9.FromPG(err)
	}
	return r, nil
}

// Size is the file's size in the reader's snapshot.
func (r *Reader) Size() int64 { return r.size }

// Generation is the file's generation in the reader's snapshot.
func (r *Reader) Generation() int64 { return r.gen }

// Read implements io.Reader.
func (r *Reader) Read(b []byte) (int, error) {
	if len(r.pending) == 0 {
		block, err := r.Next()
		if err != nil {
			return 0, err
		}
		r.pending = block
	}
	n := copy(b, r.pending)
	r.pending = r.pending[n:]
	return n, nil
}

// Next returns the next block of the file (a few pages, the caller's to
// keep), io.EOF at the end. Do not mix it with Read.
func (r *Reader) Next() ([]byte, error) {
	if r.off >= r.size {
		return nil, io.EOF
	}
	return r.fetch()
}

// fetch loads the next pages; missing pages and the missing tail of a
// short page are NUL bytes (gaps, grown truncations). The pages' bytes go
// from the connection's buffer straight into the block.
func (r *Reader) fetch() ([]byte, error) {
	first := r.off / PageSize
	end := min(r.size, (first+readAhead)*PageSize)
	out := make([]byte, end-r.off)
	rows, err := r.tx.Query(r.ctx, `SELECT pageno, data FROM _db9_fs.read_pages($1, $2, $3)`, inBinary, r.ino, int32(first), int32(readAhead))
	if err != nil {
		return nil, fs9.FromPG(err)
	}
	for rows.Next() {
		raw := rows.RawValues()
		if len(raw) != 2 || len(raw[0]) != 4 {
			rows.Close()
			return nil, fs9.Errorf(fs9.EIO, "read_pages: unexpected row")
		}
		start := int64(int32(binary.BigEndian.Uint32(raw[0]))) * PageSize
		data := raw[1]
		if start < r.off || start >= end {
			continue
		}
		if start+int64(len(data)) > end {
			data = data[:end-start]
		}
		copy(out[start-r.off:], data)
	}
	if err := rows.Err(); err != nil {
		return nil, fs9.FromPG(err)
	}
	r.off = end
	return out, nil
}

// Close ends the read's transaction.
func (r *Reader) Close() error {
	rollback(r.tx)
	return nil
}
