package controlapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/control/functions"
)

func ptr[T any](v T) *T { return &v }

// runSeeds are runs as the catalog returns them: every status, null and
// set optional fields, and strings that need escaping.
func runSeeds() []functions.Run {
	berlin := time.FixedZone("CET", 3600)
	started := time.Date(2026, 12, 3, 9, 1, 2, 345678900, time.UTC)
	finished := started.Add(1234567 * time.Microsecond)
	return []functions.Run{
		{ID: "r1", FunctionID: "f1", VersionID: "v1", Status: "queued", TriggerType: "invoke", InputJSON: ptr("null")},
		{ID: "r2", FunctionID: "f1", VersionID: "v1", Status: "running", TriggerType: "cron", InputJSON: ptr("null"), StartedAt: &started},
		{ID: "r3", FunctionID: "f1", VersionID: "v1", Status: "succeeded", TriggerType: "invoke", InputJSON: ptr(`{"a":[1,2,"<b>&"]}`),
			ResultJSON: ptr(`"ok"`), DurationMS: ptr(int64(3)), StartedAt: &started, FinishedAt: &finished, IdempotencyKey: "k", CreatedAt: started},
		{ID: "r4", FunctionID: "f1", VersionID: "v2", Status: "failed", TriggerType: "invoke", InputJSON: ptr("1"),
			Error:      ptr("TypeError: x is not a function\n\tat handler (index.js:1:2) \"quoted\" \\ \u2028\u2029 \x01 \x7f é 🙂 \xff"),
			DurationMS: ptr(int64(0)), StartedAt: ptr(started.In(berlin)), FinishedAt: ptr(finished.In(time.Local))},
		{ID: "r5", FunctionID: "f1", VersionID: "v1", Status: "timed_out", TriggerType: "invoke", InputJSON: ptr(`"x"`),
			Error: ptr("run exceeded timeout_ms (1000)"), DurationMS: ptr(int64(1001)),
			StartedAt: ptr(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)), FinishedAt: ptr(time.Date(2026, 1, 1, 0, 0, 1, 500, time.UTC))},
		{ID: "r6", Status: "failed", ResultJSON: ptr(""), Error: ptr(""), DurationMS: ptr(int64(-1))},
		{},
	}
}

// TestAppendRun: the hand-written run object is what encoding/json writes
// for runObject, byte for byte.
func TestAppendRun(t *testing.T) {
	for _, r := range runSeeds() {
		want, err := json.Marshal(runObject(r))
		if err != nil {
			t.Fatal(err)
		}
		got, ok := appendRun([]byte("prefix"), r)
		if !ok || string(got) != "prefix"+string(want) {
			t.Errorf("run %s: appendRun = %q, %v\nwant %q", r.ID, got, ok, want)
		}
	}
}

// TestAppendRunUnencodable: a time Marshal refuses is refused here too, and
// the response is Marshal's (an internal error), as before.
func TestAppendRunUnencodable(t *testing.T) {
	for _, ts := range []time.Time{
		time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC),
	} {
		r := functions.Run{ID: "r", FinishedAt: &ts}
		if _, err := json.Marshal(runObject(r)); err == nil {
			t.Fatalf("%v: Marshal accepts it", ts)
		}
		if b, ok := appendRun([]byte("x"), r); ok || string(b) != "x" {
			t.Errorf("%v: appendRun = %q, %v; want refused, unchanged", ts, b, ok)
		}
		rec := httptest.NewRecorder()
		writeRun(rec, r)
		if rec.Code != http.StatusInternalServerError {
			t.Errorf("%v: writeRun answered %d", ts, rec.Code)
		}
	}
}

// TestWriteRuns: the list is the array encoding/json writes for the
// objects, with the newline of web.WriteJSON; an empty list is [].
func TestWriteRuns(t *testing.T) {
	for _, runs := range [][]functions.Run{{}, runSeeds()[:1], runSeeds()} {
		want, err := json.Marshal(mapAll(runs, runObject))
		if err != nil {
			t.Fatal(err)
		}
		rec := httptest.NewRecorder()
		writeRuns(rec, runs)
		if diff := cmp.Diff(string(want)+"\n", rec.Body.String()); diff != "" || rec.Code != 200 {
			t.Errorf("%d runs: status %d, body (-want +got):\n%s", len(runs), rec.Code, diff)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
			t.Errorf("Content-Type %q", ct)
		}
	}
}

// FuzzAppendRun compares the two encoders on any strings and times.
func FuzzAppendRun(f *testing.F) {
	for _, r := range runSeeds() {
		var errText string
		if r.Error != nil {
			errText = *r.Error
		}
		f.Add(r.ID, r.Status, errText, int64(1e9), int64(7), int32(0))
	}
	f.Add("<&>", "\u2028", "\xff\xfe\x00", int64(-1e18), int64(-5), int32(-86399))
	f.Fuzz(func(t *testing.T, id, status, text string, unixNano, dur int64, offset int32) {
		ts := time.Unix(0, unixNano).In(time.FixedZone("z", int(offset)))
		r := functions.Run{ID: id, FunctionID: text, VersionID: id, Status: status, TriggerType: text, InputJSON: &text,
			ResultJSON: &status, Error: &text, DurationMS: &dur, StartedAt: &ts, FinishedAt: &ts}
		want, err := json.Marshal(runObject(r))
		got, ok := appendRun(nil, r)
		if (err == nil) != ok || string(got) != string(want) {
			t.Fatalf("appendRun = %q, %v\nMarshal = %q, %v", got, ok, want, err)
		}
	})
}
