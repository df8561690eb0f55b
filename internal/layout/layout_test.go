package layout

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestLayout_Paths(t *testing.T) {
	l := Layout{DataDir: "/d"}
	got := []string{l.DB("abc").Dir, l.DB("abc").Data, l.DB("abc").SocketDir, l.DB("abc").SocketPath(),
		l.Archive(), l.Golden(15), l.GoldenSocketDir(), l.Spare("x").Data, l.Catalog().Data, l.Catalog().SocketPath(), l.Bin(), l.RunJournal()}
	want := []string{"/d/dbs/abc", "/d/dbs/abc/pgdata", "/d/dbs/abc/s", "/d/dbs/abc/s/.s.PGSQL.5432",
		"/d/archive", "/d/golden/15", "/d/golden/s", "/d/spare/x/pgdata", "/d/catalog/pgdata", "/d/catalog/s/.s.PGSQL.5432", "/d/bin", "/d/run-journal"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("paths (-want +got):\n%s", d)
	}
}
