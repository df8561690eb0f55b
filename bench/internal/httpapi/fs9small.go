package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/bench/internal/harness"
)

// batchWrite: many small files through batch_write, against INSERTs of
// the same rows through pgx (one transaction, pipelined) for context.
func (b *fs9Bench) batchWrite(ctx context.Context) error {
	contents := make([][]byte, b.files)
	for i := range contents {
		contents[i] = make([]byte, b.fileKiB<<10)
		if _, err := rand.Read(contents[i]); err != nil {
			return err
		}
	}
	if _, err := b.pg.Exec(ctx, `CREATE TABLE fs9bench_small (path text PRIMARY KEY, data bytea NOT NULL)`); err != nil {
		return err
	}
	fmt.Printf("| round | batch_write files/s, sequential | batch_write files/s, %d in flight | INSERT rows/s (pgx) | in flight / INSERT |\n", b.inflight)
	fmt.Println("|---|---|---|---|---|")
	var bestSeq, bestWS, bestPG float64
	for r := 1; r <= b.rounds; r++ {
		d, err := timed(func() error { return b.batches(ctx, fmt.Sprintf("/batch/r%d", r), contents, 1) })
		if err != nil {
			return fmt.Errorf("batch_write: %w", err)
		}
		seq := float64(len(contents)) / d.Seconds()
		dir := fmt.Sprintf("/batch/r%dp", r)
		d, err = timed(func() error { return b.batches(ctx, dir, contents, b.inflight) })
		if err != nil {
			return fmt.Errorf("batch_write: %w", err)
		}
		ws := float64(len(contents)) / d.Seconds()
		d, err = timed(func() error {
			tx, err := b.pg.Begin(ctx)
			if err != nil {
				return err
			}
			defer tx.Rollback(ctx)
			batch := &pgx.Batch{}
			for i, c := range contents {
				batch.Queue(`INSERT INTO fs9bench_small (path, data) VALUES ($1, $2)`, fmt.Sprintf("%s/f%05d", dir, i), c)
			}
			if err := tx.SendBatch(ctx, batch).Close(); err != nil {
				return err
			}
			return tx.Commit(ctx)
		})
		if err != nil {
			return fmt.Errorf("insert: %w", err)
		}
		pg := float64(len(contents)) / d.Seconds()
		fmt.Printf("| %d | %.0f | %.0f | %.0f | %.2f |\n", r, seq, ws, pg, ws/pg)
		bestSeq, bestWS, bestPG = max(bestSeq, seq), max(bestWS, ws), max(bestPG, pg)
	}
	fmt.Println()
	// A spot check that the files are what was sent.
	got, err := b.ws.ReadFile(ctx, fmt.Sprintf("/batch/r1/f%05d", len(contents)-1))
	if err != nil || !bytes.Equal(got, contents[len(contents)-1]) {
		return fmt.Errorf("read back a batch-written file: %d bytes, %v", len(got), err)
	}
	b.result(fmt.Sprintf("%d files of %d KiB through `batch_write` (%d per request, %d requests in flight), best round", b.files, b.fileKiB, b.batch, b.inflight),
		fmt.Sprintf("%.0f files/s (sequential requests %.0f)", bestWS, bestSeq), fmt.Sprintf("%.0f rows/s (pgx INSERT, one transaction)", bestPG),
		fmt.Sprintf("%.2f", bestWS/bestPG), "≥ 2,000 files/s", bestWS >= 2000)
	_, err = b.pg.Exec(ctx, `DROP TABLE fs9bench_small`)
	return err
}

// batches writes contents under dir through batch_write requests of b.batch
// files, inflight of them at a time, and checks every answer.
func (b *fs9Bench) batches(ctx context.Context, dir string, contents [][]byte, inflight int) error {
	sem := make(chan struct{}, inflight)
	errc := make(chan error, len(contents)/b.batch+1)
	n := 0
	for off := 0; off < len(contents); off += b.batch {
		n++
		sem <- struct{}{}
		go func(off int) {
			defer func() { <-sem }()
			errc <- b.batch1(ctx, dir, contents, off)
		}(off)
	}
	var first error
	for ; n > 0; n-- {
		if err := <-errc; err != nil && first == nil {
			first = err
		}
	}
	return first
}

func (b *fs9Bench) batch1(ctx context.Context, dir string, contents [][]byte, off int) error {
	files := make([]map[string]any, 0, b.batch)
	for i := off; i < min(len(contents), off+b.batch); i++ {
		files = append(files, map[string]any{"path": fmt.Sprintf("%s/f%05d", dir, i),
			"content": base64.StdEncoding.EncodeToString(contents[i]), "encoding": "base64"})
	}
	data, err := b.ws.Call(ctx, "batch_write", map[string]any{"files": files})
	if err != nil {
		return err
	}
	var res struct {
		Entries []struct {
			OK      bool  `json:"ok"`
			Written int64 `json:"written"`
			Error   any   `json:"error"`
		} `json:"entries"`
	}
	if err := json.Unmarshal(data, &res); err != nil {
		return err
	}
	if len(res.Entries) != len(files) {
		return fmt.Errorf("batch_write: %d entries for %d files", len(res.Entries), len(files))
	}
	for i, e := range res.Entries {
		if !e.OK || e.Written != int64(len(contents[off+i])) {
			return fmt.Errorf("batch_write entry %d: %+v", off+i, e)
		}
	}
	return nil
}

// readdir: one directory of many entries over WebSocket, against a select
// of as many rows of the same columns through pgx for context.
func (b *fs9Bench) readdir(ctx context.Context) error {
	var n int64
	if err := b.pg.QueryRow(ctx, `SELECT count(fs9_write('/many/f' || lpad(i::text, 6, '0'), 'x'::text)) FROM generate_series(1, $1) i`, b.entries).Scan(&n); err != nil {
		return err
	}
	if _, err := b.pg.Exec(ctx, `CREATE TABLE fs9bench_ls AS
		SELECT '/many/f' || lpad(i::text, 6, '0') AS path, 'file'::text AS type, 1::bigint AS size, 420 AS mode,
		       1::bigint AS generation, now() AS mtime FROM generate_series(1, $1) i`, b.entries); err != nil {
		return err
	}
	fmt.Println("| round | readdir p50 ms | p95 ms | select p50 ms | readdir / select |")
	fmt.Println("|---|---|---|---|---|")
	var bestWS, bestPG harness.Stats
	for r := 1; r <= b.rounds; r++ {
		var wl, pl []time.Duration
		for i := 0; i < b.n; i++ {
			d, err := timed(func() error {
				es, err := b.ws.ReadDir(ctx, "/many")
				if err == nil && len(es) != b.entries {
					err = fmt.Errorf("readdir: %d entries, want %d", len(es), b.entries)
				}
				return err
			})
			if err != nil {
				return err
			}
			wl = append(wl, d)
			d, err = timed(func() error {
				rows, err := b.pg.Query(ctx, `SELECT path, type, size, mode, generation, mtime FROM fs9bench_ls ORDER BY path`)
				if err != nil {
					return err
				}
				type row struct {
					Path, Type string
					Size       int64
					Mode       int32
					Generation int64
					MTime      time.Time
				}
				rs, err := pgx.CollectRows(rows, pgx.RowToStructByPos[row])
				if err == nil && len(rs) != b.entries {
					err = fmt.Errorf("select: %d rows", len(rs))
				}
				return err
			})
			if err != nil {
				return err
			}
			pl = append(pl, d)
		}
		ws, pg := harness.Summarize(wl), harness.Summarize(pl)
		fmt.Printf("| %d | %s | %s | %s | %s |\n", r, harness.MS(ws.P50), harness.MS(ws.P95), harness.MS(pg.P50), harness.Ratio(ws.P50, pg.P50))
		if r == 1 || ws.P50 < bestWS.P50 {
			bestWS = ws
		}
		if r == 1 || pg.P50 < bestPG.P50 {
			bestPG = pg
		}
	}
	fmt.Println()
	b.result(fmt.Sprintf("`readdir` of %d entries over WebSocket, p50 of the best round", b.entries),
		harness.MS(bestWS.P50)+" ms", harness.MS(bestPG.P50)+" ms (select of as many rows, pgx)", harness.Ratio(bestWS.P50, bestPG.P50),
		"≤ 100 ms", bestWS.P50 <= 100*time.Millisecond)
	_, err := b.pg.Exec(ctx, `DROP TABLE fs9bench_ls`)
	return err
}

// sqlRead: SQL fs9_read of a file against a select of the same bytes as a
// bytea column, both through pgx and the front door.
func (b *fs9Bench) sqlRead(ctx context.Context) error {
	// Printable text: fs9_read returns text, and valid UTF-8 is what it is for.
	content := make([]byte, b.sqlMiB<<20)
	if _, err := rand.Read(content); err != nil {
		return err
	}
	for i := range content {
		content[i] = ' ' + content[i]%95
	}
	if _, err := b.pg.Exec(ctx, `SELECT fs9_write('/sql/big.txt', $1::bytea)`, content); err != nil {
		return err
	}
	if _, err := b.pg.Exec(ctx, `CREATE TABLE fs9bench_sql (b bytea)`); err != nil {
		return err
	}
	if _, err := b.pg.Exec(ctx, `INSERT INTO fs9bench_sql VALUES ($1)`, content); err != nil {
		return err
	}
	// Each side scans into a []byte: one copy out of pgx's buffer for the
	// text as for the bytea (a string and then []byte(s) would be a client
	// copy of 10 MiB that only the fs9_read side made).
	read := func(q string) func() error {
		return func() error {
			var got []byte
			err := b.pg.QueryRow(ctx, q).Scan(&got)
			if err == nil && !bytes.Equal(got, content) {
				err = fmt.Errorf("%s: %d bytes, not the %d written", q, len(got), len(content))
			}
			return err
		}
	}
	sides := []func() error{
		read(`SELECT fs9_read('/sql/big.txt')`),
		read(`SELECT fs9_read_bytea('/sql/big.txt')`),
		read(`SELECT b FROM fs9bench_sql`),
	}
	fmt.Println("| round | fs9_read p50 ms | fs9_read_bytea p50 ms | select bytea p50 ms | fs9_read / select | fs9_read_bytea / select |")
	fmt.Println("|---|---|---|---|---|---|")
	var best [3]harness.Stats
	var ratios []float64 // each round's fs9_read / select
	for r := 1; r <= b.rounds; r++ {
		lat := make([][]time.Duration, len(sides))
		for i := 0; i < b.n; i++ {
			for k, f := range sides {
				d, err := timed(f)
				if err != nil {
					return err
				}
				lat[k] = append(lat[k], d)
			}
		}
		var st [3]harness.Stats
		for k := range st {
			st[k] = harness.Summarize(lat[k])
			if r == 1 || st[k].P50 < best[k].P50 {
				best[k] = st[k]
			}
		}
		fmt.Printf("| %d | %s | %s | %s | %s | %s |\n", r, harness.MS(st[0].P50), harness.MS(st[1].P50), harness.MS(st[2].P50), harness.Ratio(st[0].P50, st[2].P50), harness.Ratio(st[1].P50, st[2].P50))
		ratios = append(ratios, float64(st[0].P50)/float64(st[2].P50))
	}
	fmt.Println()
	rt := median(ratios)
	b.result(fmt.Sprintf("SQL `fs9_read` of a %d MiB file / `select` of a %d MiB bytea (pgx, front door); p50 of the best round, median of the rounds' ratios", b.sqlMiB, b.sqlMiB),
		harness.MS(best[0].P50)+" ms (fs9_read_bytea "+harness.MS(best[1].P50)+" ms)", harness.MS(best[2].P50)+" ms",
		fmt.Sprintf("**%.2f** (best/best %s; fs9_read_bytea %s)", rt, harness.Ratio(best[0].P50, best[2].P50), harness.Ratio(best[1].P50, best[2].P50)), "≤ 1.5", rt <= 1.5)
	_, err := b.pg.Exec(ctx, `DROP TABLE fs9bench_sql`)
	return err
}
