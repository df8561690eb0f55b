package local

import (
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestStageBefore_HistoryThenPositionThenTimeline(t *testing.T) {
	files := []string{ // as ListWAL sorts them: by timeline first
		"000000010000000000000004",
		"000000010000000000000005",
		"000000010000000000000006",
		"00000002.history",
		"000000020000000000000005",
		"000000020000000000000006",
		"00000003.history",
	}
	sort.SliceStable(files, func(i, j int) bool { return stageBefore(files[i], files[j]) })
	want := []string{
		"00000002.history",
		"00000003.history",
		"000000010000000000000004",
		"000000010000000000000005",
		"000000020000000000000005",
		"000000010000000000000006",
		"000000020000000000000006",
	}
	if diff := cmp.Diff(want, files); diff != "" {
		t.Errorf("staging order (-want +got):\n%s", diff)
	}
}
