package scheduler

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Schedule is a parsed five-field cron schedule, evaluated in UTC. It
// follows pg_cron (Vixie cron): minute, hour, day of month, month, day of
// week; `*`, numbers, `a-b` ranges, `/n` steps, comma lists, month and
// weekday names (jan..dec, sun..sat), 7 as Sunday, and the @yearly,
// @annually, @monthly, @weekly, @daily, @midnight and @hourly macros. When
// both day fields are restricted (neither starts with `*`) a day matches
// if either does, as in Vixie cron.
//
// pg_cron's interval form ('30 seconds') and @reboot are refused: db9
// fires at most once a minute, and the database does not run between
// ticks. The SQL twin of this parser is cron.parse_schedule in PlatformSQL;
// TestSchedule_SQLAgrees holds them together.
type Schedule struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domStar, dowStar              bool
}

// ErrSchedule is wrapped by every error of ParseSchedule.
var ErrSchedule = errors.New("invalid schedule")

var macros = map[string]string{
	"@yearly":   "0 0 1 1 *",
	"@annually": "0 0 1 1 *",
	"@monthly":  "0 0 1 * *",
	"@weekly":   "0 0 * * 0",
	"@daily":    "0 0 * * *",
	"@midnight": "0 0 * * *",
	"@hourly":   "0 * * * *",
}

type field struct {
	name     string
	min, max int
	names    []string // names[i] is value min+i
}

var fields = [5]field{
	{name: "minute", min: 0, max: 59},
	{name: "hour", min: 0, max: 23},
	{name: "day of month", min: 1, max: 31},
	{name: "month", min: 1, max: 12, names: []string{"jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"}},
	{name: "day of week", min: 0, max: 7, names: []string{"sun", "mon", "tue", "wed", "thu", "fri", "sat"}},
}

// ParseSchedule parses a schedule as cron.schedule accepts it.
func ParseSchedule(s string) (Schedule, error) {
	spec := strings.ToLower(strings.TrimSpace(s))
	if strings.HasPrefix(spec, "@") {
		if spec == "@reboot" {
			return Schedule{}, fmt.Errorf("%w %q: @reboot is not supported (databases stop when idle; schedule a time instead)", ErrSchedule, s)
		}
		m, ok := macros[spec]
		if !ok {
			return Schedule{}, fmt.Errorf("%w %q: unknown macro (use @yearly, @monthly, @weekly, @daily or @hourly)", ErrSchedule, s)
		}
		spec = m
	}
	parts := strings.Fields(spec)
	if len(parts) == 2 && (parts[1] == "seconds" || parts[1] == "second") {
		return Schedule{}, fmt.Errorf("%w %q: schedules in seconds are not supported (jobs fire at most once a minute); use five fields such as '* * * * *'", ErrSchedule, s)
	}
	if len(parts) != 5 {
		return Schedule{}, fmt.Errorf("%w %q: want five fields (minute hour day-of-month month day-of-week), got %d", ErrSchedule, s, len(parts))
	}
	var sc Schedule
	dst := [5]*uint64{&sc.minute, &sc.hour, &sc.dom, &sc.month, &sc.dow}
	for i, p := range parts {
		bits, err := fields[i].parse(p)
		if err != nil {
			return Schedule{}, fmt.Errorf("%w %q: %s", ErrSchedule, s, err)
		}
		*dst[i] = bits
	}
	if sc.dow&(1<<7) != 0 { // 7 is Sunday too
		sc.dow |= 1
	}
	sc.domStar = strings.HasPrefix(parts[2], "*")
	sc.dowStar = strings.HasPrefix(parts[4], "*")
	return sc, nil
}

// parse parses one field: a comma list of `*`, `v` or `a-b`, each with an
// optional `/step`.
func (f field) parse(s string) (uint64, error) {
	var bits uint64
	for _, item := range strings.Split(s, ",") {
		rng, stepText, hasStep := strings.Cut(item, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepText)
			if err != nil || n < 1 || !allDigits(stepText) {
				return 0, fmt.Errorf("%s: step %q is not a positive number", f.name, stepText)
			}
			step = n
		}
		lo, hi := f.min, f.max
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			a, b, _ := strings.Cut(rng, "-")
			var err error
			if lo, err = f.value(a); err != nil {
				return 0, err
			}
			if hi, err = f.value(b); err != nil {
				return 0, err
			}
			if lo > hi {
				return 0, fmt.Errorf("%s: range %q runs backwards", f.name, rng)
			}
		default:
			v, err := f.value(rng)
			if err != nil {
				return 0, err
			}
			lo = v
			if !hasStep { // "5/15" runs from 5 to the end, "5" is just 5
				hi = v
			}
		}
		for v := lo; v <= hi; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func (f field) value(s string) (int, error) {
	for i, n := range f.names {
		if s == n {
			return f.min + i, nil
		}
	}
	if s == "" || !allDigits(s) {
		return 0, fmt.Errorf("%s: %q is not a number", f.name, s)
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < f.min || n > f.max {
		return 0, fmt.Errorf("%s: %s is out of range %d-%d", f.name, s, f.min, f.max)
	}
	return n, nil
}

func allDigits(s string) bool {
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return s != ""
}

// Matches reports whether the schedule fires at the minute of t (UTC).
func (sc Schedule) Matches(t time.Time) bool {
	t = t.UTC()
	if sc.minute&(1<<uint(t.Minute())) == 0 || sc.hour&(1<<uint(t.Hour())) == 0 || sc.month&(1<<uint(t.Month())) == 0 {
		return false
	}
	dom := sc.dom&(1<<uint(t.Day())) != 0
	dow := sc.dow&(1<<uint(t.Weekday())) != 0
	if sc.domStar || sc.dowStar {
		return dom && dow
	}
	return dom || dow
}

// Next is the first minute after t at which the schedule fires (zero when
// it never does within five years, e.g. "0 0 30 2 *").
func (sc Schedule) Next(t time.Time) time.Time {
	t = t.UTC().Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for ; t.Before(end); t = t.Add(time.Minute) {
		if sc.month&(1<<uint(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month(), 1, 0, 0, 0, 0, time.UTC).AddDate(0, 1, 0).Add(-time.Minute)
			continue
		}
		if sc.Matches(t) {
			return t
		}
	}
	return time.Time{}
}
