package runjournal

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func entry(i int) Entry {
	in := fmt.Sprintf(`{"i":%d}`, i)
	e := Entry{ID: fmt.Sprintf("run-%04d", i), FunctionID: "fn", DatabaseID: "db", VersionID: "v1", Trigger: "invoke",
		StartedAt: time.Unix(1700000000, int64(i)*1000).UTC()}
	if i%3 != 0 {
		e.Input = &in
	}
	return e
}

func ids(es []Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.ID)
	}
	sort.Strings(out)
	return out
}

// TestJournal_ReadAfterKill: what concurrent Appends wrote is read back
// by the next process as written, minus the runs that ended; a process
// that stops without Close (killed) leaves the file as it was.
func TestJournal_ReadAfterKill(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	tickets := make([]Ticket, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			tk, err := j.Append(entry(i))
			if err != nil {
				t.Error(err)
			}
			tickets[i] = tk
		}()
	}
	wg.Wait()
	for i := range n {
		if i%2 == 0 {
			j.End(tickets[i])
		}
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Ended runs stay in the file until it rotates: Read returns them
	// all; the catalog says which were recorded.
	if len(got) != n {
		t.Fatalf("read %d entries; want %d", len(got), n)
	}
	byID := map[string]Entry{}
	for _, e := range got {
		byID[e.ID] = e
	}
	for i := range n {
		if diff := cmp.Diff(entry(i), byID[entry(i).ID]); diff != "" {
			t.Errorf("entry %d (-want +got):\n%s", i, diff)
		}
	}
	// The next process starts a new journal: the old one is gone.
	j2, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := Read(dir); len(got) != 0 {
		t.Fatalf("after Open: %d entries", len(got))
	}
	if err := j2.Close(); err != nil {
		t.Fatal(err)
	}
	if names, _ := files(dir); len(names) != 0 {
		t.Fatalf("files after Close with nothing in progress: %v", names)
	}
}

// TestJournal_RotationKeepsRunsInProgress: past the size limit the journal
// moves to a new file holding only the runs still in progress, and the
// old file is removed.
func TestJournal_RotationKeepsRunsInProgress(t *testing.T) {
	dir := t.TempDir()
	j, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	j.maxSize = 1000
	var keep []string
	for i := range 100 {
		tk, err := j.Append(entry(i))
		if err != nil {
			t.Fatal(err)
		}
		if i%25 == 0 {
			keep = append(keep, entry(i).ID)
		} else {
			j.End(tk)
		}
	}
	names, _ := files(dir)
	if len(names) != 1 {
		t.Fatalf("files: %v; want one", names)
	}
	if fi, _ := os.Stat(filepath.Join(dir, names[0])); fi.Size() > 2000 {
		t.Fatalf("journal of %d bytes; the limit is 1000", fi.Size())
	}
	got, _ := Read(dir)
	for _, id := range keep {
		found := false
		for _, e := range got {
			found = found || e.ID == id
		}
		if !found {
			t.Errorf("run in progress %s lost by rotation; read %v", id, ids(got))
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if got, _ := Read(dir); len(got) == 0 {
		t.Fatal("Close with runs in progress removed the journal")
	}
	if _, err := j.Append(entry(1)); err != ErrClosed {
		t.Fatalf("Append after Close: %v", err)
	}
}

// TestJournal_TornTail: a record cut short (a write the machine did not
// finish) ends the file; the records before it are read.
func TestJournal_TornTail(t *testing.T) {
	dir := t.TempDir()
	var b []byte
	for i := range 3 {
		b = append(b, encode(entry(i))...)
	}
	last := encode(entry(3))
	b = append(b, last[:len(last)-2]...)
	if err := os.WriteFile(filepath.Join(dir, "0000000000000001"+suffix), b, 0o600); err != nil {
		t.Fatal(err)
	}
	corrupt := encode(entry(9))
	corrupt[len(corrupt)-1] ^= 0xff
	if err := os.WriteFile(filepath.Join(dir, "0000000000000002"+suffix), append(corrupt, encode(entry(10))...), 0o600); err != nil {
		t.Fatal(err)
	}
	got, err := Read(dir)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"run-0000", "run-0001", "run-0002"}, ids(got)); diff != "" {
		t.Fatalf("entries (-want +got):\n%s", diff)
	}
}
