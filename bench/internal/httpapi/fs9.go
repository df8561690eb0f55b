package httpapi

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/db9/db9/bench/internal/harness"
	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/wsclient"
)

// FS9 measures fs9 through the product's public
// surfaces only — REST to create the database and fetch its admin
// password, the WebSocket listener (--fs9-addr) as DB9's SDK dials it, and
// psql/pgx through the PostgreSQL front door — against what the same
// bytes cost in PostgreSQL's own ways, in the same run:
//
//   - a large file (100 MiB) streamed up and down over WebSocket vs COPY
//     of the same bytes into and out of a bytea column with psql's \copy
//     (binary format: the same bytes on the wire; text format, hex, as
//     people usually run it, for context);
//   - 1,000 files of 4 KiB through batch_write (goal ≥ 2,000 files/s),
//     with an INSERT of the same rows through pgx for context;
//   - readdir of a directory of 10,000 entries (goal ≤ 100 ms);
//   - SQL fs9_read (and fs9_read_bytea) of a 10 MiB file vs select of a
//     10 MiB bytea, through pgx (goal ≤ 1.5×).
//
// Sides alternate in rounds so that load from elsewhere hits both; the
// table keeps the best round of each side and prints every round's ratio.
func FS9(args []string) error {
	fs := flag.NewFlagSet("fs9", flag.ExitOnError)
	e := harness.Flags(fs)
	o := fs9Opts{}
	fs.IntVar(&o.mib, "mib", 100, "size of the streamed file, MiB")
	fs.IntVar(&o.rounds, "rounds", 3, "rounds of each measurement, sides alternating")
	fs.IntVar(&o.files, "files", 1000, "files of the batch_write measurement")
	fs.IntVar(&o.fileKiB, "file-kib", 4, "size of each of those files, KiB")
	fs.IntVar(&o.batch, "batch", 250, "files per batch_write request (a JSON frame is at most 2 MiB)")
	fs.IntVar(&o.inflight, "inflight", 4, "batch_write requests in flight at a time (the protocol allows 10), besides the sequential run")
	fs.IntVar(&o.entries, "entries", 10000, "entries of the readdir directory")
	fs.IntVar(&o.sqlMiB, "sql-mib", 10, "size of the file read through SQL, MiB")
	fs.IntVar(&o.n, "n", 20, "repetitions of readdir and of each SQL read per round")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the process (the in-process server and the clients) during the WebSocket transfers")
	fs.StringVar(&o.only, "only", "", "run one part only: stream, batch, readdir or sql")
	fs.Parse(args)
	if _, err := exec.LookPath("psql"); err != nil {
		return fmt.Errorf("psql is needed for the COPY peer: %w", err)
	}
	srv, api, id, closeServer, err := harness.ServerWithDB(e, "fs9bench")
	if err != nil {
		return err
	}
	defer closeServer()
	ctx := context.Background()
	var cred struct {
		AdminPassword string `json:"admin_password"`
	}
	if err := api.Do("GET", "/customer/databases/"+id+"/credentials", nil, 200, &cred); err != nil {
		return err
	}
	// sslmode=disable: the WebSocket side is plain ws, so neither pays for TLS.
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(id+".admin", cred.AdminPassword), Host: srv.PGAddr(), Path: "/postgres", RawQuery: "sslmode=disable"}
	b := &fs9Bench{fs9Opts: o, pgURL: u.String()}
	if b.ws, err = wsclient.Dial(ctx, "ws://"+srv.FS9Addr()+"/", id+".admin", cred.AdminPassword); err != nil {
		return err
	}
	defer b.ws.Close()
	if b.pg, err = pgx.Connect(ctx, b.pgURL); err != nil {
		return err
	}
	defer b.pg.Close(ctx)
	if b.tmp, err = os.MkdirTemp("/dev/shm", "db9bench-fs9-"); err != nil {
		return err
	}
	defer os.RemoveAll(b.tmp)
	fmt.Printf("fs9: %d rounds; streamed file %d MiB; %d files of %d KiB in batches of %d; readdir of %d entries; SQL read of %d MiB\n\n",
		o.rounds, o.mib, o.files, o.fileKiB, o.batch, o.entries, o.sqlMiB)
	parts := []struct {
		name string
		run  func(context.Context) error
	}{{"stream", b.stream}, {"batch", b.batchWrite}, {"readdir", b.readdir}, {"sql", b.sqlRead}}
	for _, p := range parts {
		if o.only != "" && o.only != p.name {
			continue
		}
		if err := p.run(ctx); err != nil {
			return fmt.Errorf("%s: %w", p.name, err)
		}
	}
	if len(b.results) > 0 {
		fmt.Println("| measure | db9 fs9 | peer | ratio | goal | met |")
		fmt.Println("|---|---|---|---|---|---|")
		for _, r := range b.results {
			fmt.Println(r)
		}
	}
	return nil
}

type fs9Opts struct {
	mib, rounds, files, fileKiB, batch, inflight, entries, sqlMiB, n int
	cpuprofile, only                                                 string
}

type fs9Bench struct {
	fs9Opts
	ws      *wsclient.Client
	pg      *pgx.Conn
	pgURL   string
	tmp     string
	results []string // rows of the summary table
}

func (b *fs9Bench) result(measure, db9, peer, ratio, goal string, met bool) {
	m := "no"
	if met {
		m = "yes"
	}
	if goal == "—" {
		m = "—"
	}
	b.results = append(b.results, fmt.Sprintf("| %s | %s | %s | %s | %s | %s |", measure, db9, peer, ratio, goal, m))
}

// psql runs one command with psql through the front door.
func (b *fs9Bench) psql(cmd string) error {
	out, err := exec.Command("psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d", b.pgURL, "-c", cmd).CombinedOutput()
	if err != nil {
		return fmt.Errorf("psql %q: %v: %s", cmd, err, out)
	}
	return nil
}

func timed(f func() error) (time.Duration, error) {
	start := time.Now()
	err := f()
	return time.Since(start), err
}

func mibps(n int, d time.Duration) float64 { return float64(n) / (1 << 20) / d.Seconds() }

// stream: the large file over WebSocket against COPY with psql.
func (b *fs9Bench) stream(ctx context.Context) error {
	data := make([]byte, b.mib<<20)
	if _, err := rand.Read(data); err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	binFile, textFile := filepath.Join(b.tmp, "blob.bin.copy"), filepath.Join(b.tmp, "blob.txt.copy")
	if err := writeCopyFiles(binFile, textFile, data); err != nil {
		return err
	}
	if _, err := b.pg.Exec(ctx, `CREATE TABLE fs9bench_blob (b bytea)`); err != nil {
		return err
	}
	const path = "/bench/big.bin"
	checkTable := func() error {
		var n int64
		var h []byte
		if err := b.pg.QueryRow(ctx, `SELECT length(b), sha256(b) FROM fs9bench_blob`).Scan(&n, &h); err != nil {
			return err
		}
		if n != int64(len(data)) || !bytes.Equal(h, sum[:]) {
			return fmt.Errorf("COPY stored %d bytes sha256 %x, want %d %x", n, h, len(data), sum)
		}
		return nil
	}
	if b.cpuprofile != "" {
		f, err := os.Create(b.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var best [6]float64  // MiB/s: ws write, copy in bin, copy in text, ws read, copy out bin, copy out text
	var wr, rr []float64 // each round's ratios to COPY (binary)
	fmt.Println("| round | ws write | COPY in (binary) | COPY in (text) | ws read | COPY out (binary) | COPY out (text) | write / COPY bin | read / COPY bin |")
	fmt.Println("|---|---|---|---|---|---|---|---|---|")
	var readBack bytes.Buffer
	readBack.Grow(len(data)) // outside the clock, like the file COPY writes into
	for r := 1; r <= b.rounds; r++ {
		var got [6]float64
		// Each side writes into emptiness: the file removed, the table
		// truncated, outside the clock.
		if _, err := b.ws.Remove(ctx, "/bench", true); err != nil && !wsclient.IsCode(err, fs9.ENOENT) {
			return err
		}
		d, err := timed(func() error {
			n, err := b.ws.WriteFile(ctx, path, data) // the server checks the SHA-256 sent at the end
			if err == nil && n != int64(len(data)) {
				err = fmt.Errorf("wrote %d bytes", n)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("ws write: %w", err)
		}
		got[0] = mibps(len(data), d)
		for i, file := range []string{binFile, textFile} {
			if _, err := b.pg.Exec(ctx, `TRUNCATE fs9bench_blob`); err != nil {
				return err
			}
			format := []string{"binary", "text"}[i]
			d, err := timed(func() error {
				return b.psql(fmt.Sprintf(`\copy fs9bench_blob (b) from '%s' with (format %s)`, file, format))
			})
			if err != nil {
				return err
			}
			if err := checkTable(); err != nil {
				return err
			}
			got[1+i] = mibps(len(data), d)
		}
		// The bytes read go into memory as COPY's go into a file, and are
		// checked after the clock as COPY's are: byte for byte against
		// what was written. Inside the clock the client still checks the
		// SHA-256 of what it received against the server's.
		readBack.Reset()
		d, err = timed(func() error {
			n, err := b.ws.ReadTo(ctx, path, &readBack)
			if err == nil && n != int64(len(data)) {
				err = fmt.Errorf("read %d bytes", n)
			}
			return err
		})
		if err != nil {
			return fmt.Errorf("ws read: %w", err)
		}
		if !bytes.Equal(readBack.Bytes(), data) {
			return fmt.Errorf("ws read: %d bytes differ from what was written", readBack.Len())
		}
		got[3] = mibps(len(data), d)
		for i, format := range []string{"binary", "text"} {
			out := filepath.Join(b.tmp, "out.copy")
			d, err := timed(func() error {
				return b.psql(fmt.Sprintf(`\copy (SELECT b FROM fs9bench_blob) to '%s' with (format %s)`, out, format))
			})
			if err != nil {
				return err
			}
			if fi, err := os.Stat(out); err != nil || fi.Size() < int64(len(data)) {
				return fmt.Errorf("COPY out (%s) wrote %v bytes: %v", format, fi, err)
			}
			os.Remove(out)
			got[4+i] = mibps(len(data), d)
		}
		fmt.Printf("| %d | %.0f MiB/s | %.0f | %.0f | %.0f | %.0f | %.0f | %.2f | %.2f |\n", r, got[0], got[1], got[2], got[3], got[4], got[5], got[0]/got[1], got[3]/got[4])
		for i := range best {
			best[i] = max(best[i], got[i])
		}
		wr, rr = append(wr, got[0]/got[1]), append(rr, got[3]/got[4])
	}
	fmt.Println()
	// Goals are judged on the median of the rounds' ratios (each round
	// measures both sides within seconds of each other); the best figure
	// of each side is printed for scale.
	w, rd := median(wr), median(rr)
	b.result(fmt.Sprintf("%d MiB write: WebSocket stream / `\\copy ... from` (binary); best rounds' MiB/s, median of the rounds' ratios", b.mib),
		fmt.Sprintf("%.0f MiB/s", best[0]), fmt.Sprintf("%.0f MiB/s (text format %.0f)", best[1], best[2]), fmt.Sprintf("**%.2f** (best/best %.2f; /text %.2f)", w, best[0]/best[1], best[0]/best[2]), "≥ 0.7", w >= 0.7)
	b.result(fmt.Sprintf("%d MiB read: WebSocket stream / `\\copy (select) to` (binary); best rounds' MiB/s, median of the rounds' ratios", b.mib),
		fmt.Sprintf("%.0f MiB/s", best[3]), fmt.Sprintf("%.0f MiB/s (text format %.0f)", best[4], best[5]), fmt.Sprintf("**%.2f** (best/best %.2f; /text %.2f)", rd, best[3]/best[4], best[3]/best[5]), "≥ 1.0", rd >= 1.0)
	_, err := b.pg.Exec(ctx, `DROP TABLE fs9bench_blob`)
	return err
}

// writeCopyFiles writes data as the one row of a one-column COPY file in
// binary format and in text format (bytea as hex).
func writeCopyFiles(binFile, textFile string, data []byte) error {
	var hdr bytes.Buffer
	hdr.WriteString("PGCOPY\n\xff\r\n\x00")
	_ = binary.Write(&hdr, binary.BigEndian, int32(0))         // flags
	_ = binary.Write(&hdr, binary.BigEndian, int32(0))         // header extension
	_ = binary.Write(&hdr, binary.BigEndian, int16(1))         // fields of the tuple
	_ = binary.Write(&hdr, binary.BigEndian, int32(len(data))) // field length
	trailer := []byte{0xff, 0xff}                              // -1: end of data
	if err := os.WriteFile(binFile, append(append(hdr.Bytes(), data...), trailer...), 0o644); err != nil {
		return err
	}
	f, err := os.Create(textFile)
	if err != nil {
		return err
	}
	if _, err := io.WriteString(f, `\\x`); err != nil { // COPY text escapes the backslash of bytea's \x
		f.Close()
		return err
	}
	enc := make([]byte, 2<<20)
	for off := 0; off < len(data); off += 1 << 20 {
		n := hex.Encode(enc, data[off:min(len(data), off+1<<20)])
		if _, err := f.Write(enc[:n]); err != nil {
			f.Close()
			return err
		}
	}
	if _, err := io.WriteString(f, "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
