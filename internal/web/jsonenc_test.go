package web

import (
	"encoding/json"
	"testing"
	"time"
)

// FuzzAppendJSONString: every string is encoded as encoding/json does.
func FuzzAppendJSONString(f *testing.F) {
	for _, s := range []string{"", "plain", `"\`, "<script>&</script>", "\b\f\n\r\t\x00\x1f\x7f", "\u2028\u2029", "é🙂",
		"\xff", "a\xc3", "\xed\xa0\x80", "\xe2\x80", "\xe2\x80\xa8x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendJSONString([]byte("p"), s, true); string(got) != "p"+string(want) {
			t.Fatalf("AppendJSONString(%q) = %q, want %q", s, got[1:], want)
		}
	})
}

// FuzzAppendJSONTime: a time is encoded as encoding/json does, and refused
// exactly when Marshal refuses it.
func FuzzAppendJSONTime(f *testing.F) {
	f.Add(int64(0), int64(0), 0)
	f.Add(int64(1796288462), int64(345678900), 3600)
	f.Add(int64(253402300800), int64(0), 0)       // year 10000
	f.Add(int64(-62135596801), int64(0), 0)       // year 0 minus a second
	f.Add(int64(1796288462), int64(1), 24*3600)   // offset of 24 h
	f.Add(int64(1796288462), int64(10), -23*3600) // offset of -23 h
	f.Add(int64(1796288462), int64(10), 61)       // offset with seconds
	f.Fuzz(func(t *testing.T, sec, nsec int64, offset int) {
		ts := time.Unix(sec, nsec).In(time.FixedZone("z", offset))
		want, err := json.Marshal(ts)
		got, ok := AppendJSONTime([]byte("p"), ts)
		if ok != (err == nil) || (ok && string(got) != "p"+string(want)) || (!ok && string(got) != "p") {
			t.Fatalf("AppendJSONTime(%v) = %q, %v; Marshal = %q, %v", ts, got, ok, want, err)
		}
	})
}
