package scheduler

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDue(t *testing.T) {
	base := time.Date(2025, 3, 4, 12, 0, 0, 0, time.UTC)
	m := func(n int) time.Time { return base.Add(time.Duration(n) * time.Minute) }
	cases := []struct {
		name          string
		last, current time.Time
		want          []time.Time
		skipped       int
	}{
		{"new catalog fires nothing", time.Time{}, m(0), nil, 0},
		{"same tick again", m(0), m(0), nil, 0},
		{"clock went back", m(1), m(0), nil, 0},
		{"next tick", m(0), m(1), []time.Time{m(1)}, 0},
		{"down for three ticks", m(0), m(3), []time.Time{m(3), m(2), m(1)}, 0},
		{"down for exactly the window", m(0), m(10), []time.Time{m(10), m(9), m(8), m(7), m(6), m(5), m(4), m(3), m(2), m(1)}, 0},
		{"down longer than the window", m(0), m(12), []time.Time{m(12), m(11), m(10), m(9), m(8), m(7), m(6), m(5), m(4), m(3)}, 2},
		{"down for a day", m(0), m(1440), nil, 1430},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, skipped := Due(c.last, c.current, time.Minute, 10)
			if c.name == "down for a day" {
				if len(got) != 10 || !got[0].Equal(m(1440)) {
					t.Fatalf("got %d ticks from %v", len(got), got)
				}
			} else if diff := cmp.Diff(c.want, got); diff != "" {
				t.Errorf("ticks (-want +got):\n%s", diff)
			}
			if skipped != c.skipped {
				t.Errorf("skipped = %d, want %d", skipped, c.skipped)
			}
		})
	}
}

func TestClock_Minute(t *testing.T) {
	c := clock{time.Minute}
	tick := time.Date(2025, 3, 4, 12, 7, 0, 0, time.UTC)
	if got := c.minute(tick); !got.Equal(tick) {
		t.Errorf("a minute tick is its own minute: got %v", got)
	}
	short := clock{2 * time.Second}
	a := short.floor(time.Unix(1000, 500))
	b := a.Add(2 * time.Second)
	if got := short.minute(b).Sub(short.minute(a)); got != time.Minute {
		t.Errorf("consecutive short ticks are %v apart in schedule time, want a minute", got)
	}
	if short.minute(a).Second() != 0 {
		t.Errorf("schedule time %v is not on a minute", short.minute(a))
	}
}
