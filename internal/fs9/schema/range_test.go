package schema_test

import (
	"bytes"
	"crypto/rand"
	"testing"

	"github.com/db9/db9/internal/fs9/fs9test"
)

// Range reads over several pages take two ways (get_range): pages all
// there and whole are concatenated, anything else (gaps, short pages in
// the middle of a file) is pieced together with NUL fill. Both against a
// copy of the bytes kept here, at page edges and across them.
func TestSQL_RangeReadsAcrossPages(t *testing.T) {
	c := fs9test.Start(t)
	a := c.Conn(t, fs9test.Admin)
	const ps = 262144
	whole := make([]byte, 3*ps+1000)
	if _, err := rand.Read(whole); err != nil {
		t.Fatal(err)
	}
	one[int64](t, a, `SELECT fs9_write('/whole.bin', $1::bytea)`, whole)
	// A sparse file: a short first page, nothing, then a page past a gap.
	sparse := make([]byte, 3*ps+10)
	copy(sparse, whole[:100])
	copy(sparse[3*ps+5:], "tail!")
	one[int64](t, a, `SELECT fs9_write('/sparse.bin', $1::bytea)`, whole[:100])
	one[int64](t, a, `SELECT fs9_write_at('/sparse.bin', $1, 'tail!'::bytea)`, 3*ps+5)
	for _, f := range []struct {
		path string
		want []byte
	}{{"/whole.bin", whole}, {"/sparse.bin", sparse}} {
		if got := one[[]byte](t, a, `SELECT fs9_read_bytea($1)`, f.path); !bytes.Equal(got, f.want) {
			t.Errorf("%s whole: %d bytes, want %d (equal prefix %t)", f.path, len(got), len(f.want), bytes.HasPrefix(f.want, got))
		}
		size := len(f.want)
		for _, off := range []int{0, 1, 99, 100, ps - 1, ps, ps + 1, 2*ps + 7, 3 * ps, size - 1} {
			for _, n := range []int{1, 5, ps - 1, ps, ps + 1, 2*ps + 3, size} {
				want := f.want[off:min(size, off+n)]
				got := one[[]byte](t, a, `SELECT fs9_read_at_bytea($1, $2, $3)`, f.path, off, n)
				if !bytes.Equal(got, want) {
					t.Errorf("%s at %d, %d bytes: got %d bytes, want %d", f.path, off, n, len(got), len(want))
				}
			}
		}
	}
}
