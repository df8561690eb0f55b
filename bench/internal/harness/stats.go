package harness

import (
	"fmt"
	"sort"
	"time"
)

// Stats summarises a sample of durations.
type Stats struct {
	N             int
	P50, P95, Max time.Duration
	mean          time.Duration
}

// Summarize is the summary of ds.
func Summarize(ds []time.Duration) Stats {
	if len(ds) == 0 {
		return Stats{}
	}
	s := append([]time.Duration(nil), ds...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	var sum time.Duration
	for _, d := range s {
		sum += d
	}
	return Stats{N: len(s), P50: s[len(s)/2], P95: s[(len(s)*95)/100], Max: s[len(s)-1], mean: sum / time.Duration(len(s))}
}

// MS formats d in milliseconds with one decimal.
func MS(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// Row is s as a row of a table headed by TableHead.
func (s Stats) Row(name string) string {
	return fmt.Sprintf("| %s | %d | %s | %s | %s |", name, s.N, MS(s.P50), MS(s.P95), MS(s.Max))
}

// TableHead heads a table of Stats rows.
const TableHead = "| measurement | n | p50 ms | p95 ms | max ms |\n|---|---|---|---|---|"

// Ratio is a/b with two decimals, or n/a when b is 0.
func Ratio(a, b time.Duration) string {
	if b == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.2f", float64(a)/float64(b))
}
