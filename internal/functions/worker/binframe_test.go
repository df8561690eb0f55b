package worker

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/db9/db9/internal/functions/runtime"
)

func TestConn_BinaryFrames_RoundTrip(t *testing.T) {
	ts := time.Date(2026, 12, 3, 7, 0, 0, 123456789, time.UTC)
	msgs := []*message{
		{Type: msgInvoke, Input: json.RawMessage(`{"n": 1}`), Secrets: map[string]string{"A": "x", "": "é"}, TimeoutMS: 30000,
			LogLimit: 1 << 20, Self: &runtime.Self{FunctionID: "f", VersionID: "v", RunID: "r", TriggerType: "cron"}},
		{Type: msgInvoke, TimeoutMS: 1},
		{Type: msgDone, CPUMS: 1234, Broken: true, Outcome: &runtime.Outcome{Status: runtime.StatusSucceeded, ResultJSON: `{"ok":true}`,
			Error: "e", Logs: []runtime.LogEntry{{TS: ts, Level: "info", Message: "hi"}, {TS: ts, Level: "warn", Message: ""}}}},
		{Type: msgDone},
		{Type: msgLoaded, CPUMS: 5}, // JSON
	}
	var buf bytes.Buffer
	c := newConn(&buf, &buf)
	for _, m := range msgs {
		if err := c.send(m); err != nil {
			t.Fatal(err)
		}
	}
	for _, want := range msgs {
		got, err := c.recv()
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("%s message changed (-sent +received):\n%s", want.Type, d)
		}
	}
}

func TestConn_BinaryFrames_Malformed(t *testing.T) {
	good, _ := appendBinary(nil, &message{Type: msgDone, Outcome: &runtime.Outcome{Status: "failed",
		Logs: []runtime.LogEntry{{Level: "info", Message: "m"}}}})
	cases := map[string][]byte{
		"unknown type": {9},
		"truncated":    good[:len(good)-1],
		"trailing":     append(append([]byte{}, good...), 0),
		"huge count":   {binDone, 0, 0, 1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"huge string":  {binInvoke, 1, 1, 0xff, 0xff, 0xff, 0xff, 0x0f},
	}
	for name, b := range cases {
		var buf bytes.Buffer
		var hdr [4]byte
		hdr[3] = byte(len(b))
		buf.Write(hdr[:])
		buf.Write(b)
		if _, err := newConn(&buf, nil).recv(); !errors.Is(err, errBadFrame) {
			t.Errorf("%s: %v; want errBadFrame", name, err)
		}
	}
}
