package runjournal

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"
)

// Entry is the start of a run, as the journal keeps it.
type Entry struct {
	ID         string
	FunctionID string
	DatabaseID string
	VersionID  string
	Trigger    string
	Input      *string
	StartedAt  time.Time
}

// Ticket is an appended entry, handed back to End.
type Ticket struct{ e *live }

// live is an entry of a run in progress: its record, copied into the next
// file when the journal rotates.
type live struct{ rec []byte }

// Journal is the open journal of this server process.
type Journal struct {
	dir     string
	maxSize int64

	mu      sync.Mutex
	cond    *sync.Cond
	f       *os.File // nil after a failed write or after Close: the next flush opens a new file
	name    string
	seq     uint64 // of the current file's name
	size    int64
	live    map[*live]struct{}
	open    *batch // records waiting for the next write
	writing bool
	closed  bool
}

// batch is the records of one write(2).
type batch struct {
	buf  []byte
	ents []*live
	done bool
	err  error
}

// segmentSize is the size past which the journal moves to a new file.
const segmentSize = 1 << 20

const suffix = ".journal"

// ErrClosed is returned by Append after Close.
var ErrClosed = errors.New("run journal is closed")

// Open starts the journal in dir, removing the files an earlier process
// left there: call it once Read's entries are recorded elsewhere.
func Open(dir string) (*Journal, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create run journal directory: %w", err)
	}
	names, err := files(dir)
	if err != nil {
		return nil, err
	}
	j := &Journal{dir: dir, maxSize: segmentSize, live: map[*live]struct{}{}, open: &batch{}}
	j.cond = sync.NewCond(&j.mu)
	for _, n := range names {
		if err := os.Remove(filepath.Join(dir, n)); err != nil {
			return nil, fmt.Errorf("remove old run journal: %w", err)
		}
	}
	return j, nil
}

// Read returns the entries of the journal files in dir, one per run (a
// run can be in two files after a rotation cut by a crash), in no
// particular order. A missing dir has none.
func Read(dir string) ([]Entry, error) {
	names, err := files(dir)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []Entry
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			return nil, fmt.Errorf("read run journal: %w", err)
		}
		for len(b) > 0 {
			e, rest, ok := decode(b)
			if !ok {
				break // a torn tail: what follows is not trusted
			}
			b = rest
			if !seen[e.ID] {
				seen[e.ID] = true
				out = append(out, e)
			}
		}
	}
	return out, nil
}

func files(dir string) ([]string, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list run journal: %w", err)
	}
	var out []string
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), suffix) && e.Type().IsRegular() {
			out = append(out, e.Name())
		}
	}
	sort.Strings(out)
	return out, nil
}

// Append writes e and returns once write(2) returned. Appends that arrive
// while a write is in progress share the next one.
func (j *Journal) Append(e Entry) (Ticket, error) {
	l := &live{rec: encode(e)}
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.closed {
		return Ticket{}, ErrClosed
	}
	b := j.open
	b.buf = append(b.buf, l.rec...)
	b.ents = append(b.ents, l)
	for !b.done {
		if j.writing {
			j.cond.Wait()
			continue
		}
		j.flush() // takes b: a batch is open until a flush takes it
	}
	if b.err != nil {
		return Ticket{}, b.err
	}
	return Ticket{l}, nil
}

// flush writes the open batch; mu is held and no write is in progress.
func (j *Journal) flush() {
	b := j.open
	j.open = &batch{}
	j.writing = true
	var err error
	switch {
	case j.closed:
		err = ErrClosed
	case j.f == nil || j.size >= j.maxSize:
		err = j.rotate()
	}
	if err == nil {
		f := j.f
		j.mu.Unlock()
		_, err = f.Write(b.buf)
		j.mu.Lock()
		if err != nil {
			// What a failed write left in the file may be half a record:
			// the next write starts a new file.
			_ = f.Close()
			j.f = nil
		}
	}
	if err == nil {
		j.size += int64(len(b.buf))
		for _, l := range b.ents {
			j.live[l] = struct{}{}
		}
	} else if !errors.Is(err, ErrClosed) {
		err = fmt.Errorf("write run journal: %w", err)
	}
	b.done, b.err = true, err
	j.writing = false
	j.cond.Broadcast()
}

// rotate starts a new file holding the records of the runs in progress
// and removes the old one (mu held). A crash in between leaves both:
// Read keeps one entry per run.
func (j *Journal) rotate() error {
	j.seq++
	name := filepath.Join(j.dir, fmt.Sprintf("%016x%s", j.seq, suffix))
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	var buf []byte
	for l := range j.live {
		buf = append(buf, l.rec...)
	}
	if _, err := f.Write(buf); err != nil {
		_ = f.Close()
		_ = os.Remove(name)
		return err
	}
	if j.f != nil {
		_ = j.f.Close()
	}
	if j.name != "" {
		_ = os.Remove(j.name)
	}
	j.f, j.name, j.size = f, name, int64(len(buf))
	return nil
}

// End forgets the run of t: its outcome is recorded. A nil Journal
// (none) and a zero Ticket do nothing.
func (j *Journal) End(t Ticket) {
	if j == nil || t.e == nil {
		return
	}
	j.mu.Lock()
	delete(j.live, t.e)
	j.mu.Unlock()
}

// Close ends the journal. When no run is in progress any more its file is
// removed; otherwise it stays for the next start to read. It is
// idempotent.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	for j.writing {
		j.cond.Wait()
	}
	if j.closed {
		return nil
	}
	j.closed = true
	var err error
	if j.f != nil {
		err = j.f.Close()
		j.f = nil
	}
	if len(j.live) == 0 && j.name != "" {
		if rerr := os.Remove(j.name); rerr != nil && err == nil {
			err = rerr
		}
	}
	return err
}

// A record is its payload's length and CRC-32C, then the payload: a
// format byte, the start time (Unix ns) and the strings, each with its
// length; the input last, after a byte saying whether there is one.
const format = 1

var crcTable = crc32.MakeTable(crc32.Castagnoli)

func encode(e Entry) []byte {
	p := make([]byte, 8, 64+len(e.ID)+len(e.FunctionID)+len(e.DatabaseID)+len(e.VersionID)+len(e.Trigger)+lenOf(e.Input))
	p = append(p, format)
	p = binary.LittleEndian.AppendUint64(p, uint64(e.StartedAt.UnixNano()))
	for _, s := range []string{e.ID, e.FunctionID, e.DatabaseID, e.VersionID, e.Trigger} {
		p = appendString(p, s)
	}
	if e.Input == nil {
		p = append(p, 0)
	} else {
		p = appendString(append(p, 1), *e.Input)
	}
	binary.LittleEndian.PutUint32(p[0:4], uint32(len(p)-8))
	binary.LittleEndian.PutUint32(p[4:8], crc32.Checksum(p[8:], crcTable))
	return p
}

func lenOf(s *string) int {
	if s == nil {
		return 0
	}
	return len(*s)
}

func appendString(p []byte, s string) []byte {
	return append(binary.AppendUvarint(p, uint64(len(s))), s...)
}

// decode reads the record at the start of b; ok is false when it is torn
// or corrupt.
func decode(b []byte) (e Entry, rest []byte, ok bool) {
	if len(b) < 8 {
		return e, nil, false
	}
	n := binary.LittleEndian.Uint32(b[0:4])
	if uint64(len(b)-8) < uint64(n) {
		return e, nil, false
	}
	p := b[8 : 8+n]
	if crc32.Checksum(p, crcTable) != binary.LittleEndian.Uint32(b[4:8]) || len(p) < 9 || p[0] != format {
		return e, nil, false
	}
	e.StartedAt = time.Unix(0, int64(binary.LittleEndian.Uint64(p[1:9]))).UTC()
	p = p[9:]
	for _, dst := range []*string{&e.ID, &e.FunctionID, &e.DatabaseID, &e.VersionID, &e.Trigger} {
		if *dst, p, ok = readString(p); !ok {
			return e, nil, false
		}
	}
	if len(p) < 1 {
		return e, nil, false
	}
	if p[0] == 1 {
		var in string
		if in, _, ok = readString(p[1:]); !ok {
			return e, nil, false
		}
		e.Input = &in
	}
	return e, b[8+n:], true
}

func readString(p []byte) (string, []byte, bool) {
	n, k := binary.Uvarint(p)
	if k <= 0 || uint64(len(p)-k) < n {
		return "", nil, false
	}
	return string(p[k : k+int(n)]), p[k+int(n):], true
}
