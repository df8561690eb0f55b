package scheduler

import (
	"errors"
	"testing"
	"time"
)

// scheduleCases are shared with the SQL twin's test (TestSchedule_SQLAgrees).
var scheduleCases = []struct {
	spec string
	ok   bool
}{
	{"* * * * *", true},
	{"*/5 * * * *", true},
	{"0 3 * * *", true},
	{"0,15,30,45 * * * *", true},
	{"0-10/2 8-18 * * mon-fri", true},
	{"30 2 1 jan,jul *", true},
	{"0 0 * * 7", true},
	{"5/15 * * * *", true},
	{"@hourly", true},
	{"@DAILY", true},
	{"@weekly", true},
	{"@yearly", true},
	{"  1   2  3 4   5 ", true},
	{"59 23 31 12 6", true},
	{"", false},
	{"* * * *", false},
	{"* * * * * *", false},
	{"60 * * * *", false},
	{"* 24 * * *", false},
	{"* * 0 * *", false},
	{"* * * 13 *", false},
	{"* * * * 8", false},
	{"*/0 * * * *", false},
	{"*/ * * * *", false},
	{"10-5 * * * *", false},
	{"1,,2 * * * *", false},
	{"a * * * *", false},
	{"* * * foo *", false},
	{"1-2-3 * * * *", false},
	{"30 seconds", false},
	{"1 second", false},
	{"@reboot", false},
	{"@every_minute", false},
	{"-1 * * * *", false},
	{"99999999999999999999 * * * *", false},
}

func TestParseSchedule(t *testing.T) {
	for _, c := range scheduleCases {
		_, err := ParseSchedule(c.spec)
		if (err == nil) != c.ok {
			t.Errorf("ParseSchedule(%q) error = %v, want ok=%v", c.spec, err, c.ok)
		}
		if err != nil && !errors.Is(err, ErrSchedule) {
			t.Errorf("ParseSchedule(%q) error %v does not wrap ErrSchedule", c.spec, err)
		}
	}
}

func TestSchedule_Matches(t *testing.T) {
	at := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04 Mon", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	cases := []struct {
		spec, at string
		want     bool
	}{
		{"* * * * *", "2025-03-04 05:06 Tue", true},
		{"*/5 * * * *", "2025-03-04 05:10 Tue", true},
		{"*/5 * * * *", "2025-03-04 05:11 Tue", false},
		{"0 3 * * *", "2025-03-04 03:00 Tue", true},
		{"0 3 * * *", "2025-03-04 04:00 Tue", false},
		{"0 0 * * 7", "2025-03-02 00:00 Sun", true},
		{"0 0 * * sun", "2025-03-02 00:00 Sun", true},
		{"0 0 * * mon-fri", "2025-03-02 00:00 Sun", false},
		// Both day fields restricted: either matches (Vixie cron).
		{"0 0 1 * mon", "2025-03-03 00:00 Mon", true},
		{"0 0 1 * mon", "2025-03-01 00:00 Sat", true},
		{"0 0 1 * mon", "2025-03-04 00:00 Tue", false},
		// One of them starting with '*': both must match.
		{"0 0 */2 * mon", "2025-03-03 00:00 Mon", true},
		{"0 0 */2 * mon", "2025-03-10 00:00 Mon", false},
		{"5/15 * * * *", "2025-03-04 05:50 Tue", true},
		{"5/15 * * * *", "2025-03-04 05:00 Tue", false},
		{"@hourly", "2025-03-04 05:00 Tue", true},
		{"@hourly", "2025-03-04 05:01 Tue", false},
		{"30 2 1 jan,jul *", "2025-07-01 02:30 Tue", true},
		{"30 2 1 jan,jul *", "2025-06-01 02:30 Sun", false},
	}
	for _, c := range cases {
		sc, err := ParseSchedule(c.spec)
		if err != nil {
			t.Fatalf("ParseSchedule(%q): %v", c.spec, err)
		}
		if got := sc.Matches(at(c.at)); got != c.want {
			t.Errorf("%q at %s = %v, want %v", c.spec, c.at, got, c.want)
		}
	}
}

func TestSchedule_Next(t *testing.T) {
	sc, _ := ParseSchedule("30 2 29 2 *")
	from := time.Date(2025, 3, 1, 0, 0, 0, 0, time.UTC)
	if got, want := sc.Next(from), time.Date(2028, 2, 29, 2, 30, 0, 0, time.UTC); !got.Equal(want) {
		t.Errorf("Next = %v, want %v", got, want)
	}
	never, _ := ParseSchedule("0 0 31 2 *")
	if got := never.Next(from); !got.IsZero() {
		t.Errorf("Next of a schedule that never fires = %v, want zero", got)
	}
}

func FuzzParseSchedule(f *testing.F) {
	for _, c := range scheduleCases {
		f.Add(c.spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		sc, err := ParseSchedule(spec)
		if err == nil {
			sc.Matches(time.Unix(0, 0))
		}
	})
}
