package dataapi

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestNegotiate: the first media type of Accept that the path can answer
// wins; parameters other than options are ignored.
func TestNegotiate(t *testing.T) {
	for _, tc := range []struct {
		accept, path string
		want         outKind
		opts         []string
		fails        bool
	}{
		{"", "/t", outJSON, nil, false},
		{"", "/", outOpenAPI, nil, false},
		{"*/*", "/t", outJSON, nil, false},
		{"image/png, Application/JSON;q=0.9", "/t", outJSON, nil, false},
		{"text/html;level=1 , text/csv", "/t", outCSV, nil, false},
		{`application/vnd.pgrst.plan+json; for="application/json"; options=analyze|verbose`, "/t", outPlanJSON, []string{"analyze", "verbose"}, false},
		{"application/openapi+json,application/vnd.pgrst.object+json", "/t", outObject, nil, false},
		{"image/png", "/t", 0, nil, true},
		{"image/png,", "/t", 0, nil, true},
	} {
		got, opts, err := negotiate(tc.accept, tc.path)
		if (err != nil) != tc.fails || got != tc.want || !cmp.Equal(opts, tc.opts) {
			t.Errorf("negotiate(%q, %q) = %v %q %v; want %v %q, error %v", tc.accept, tc.path, got, opts, err, tc.want, tc.opts, tc.fails)
		}
	}
}

func TestJSONArrayLen(t *testing.T) {
	for _, c := range []struct {
		in   string
		want int64
	}{
		{"[]", 0}, {`[{"a":1}]`, 1}, {"[{\"a\":1}, \n {\"a\":2}]", 2},
		{`[{"a":"x,y]}[{"}, {"b":[1,2,{"c":"\"],"}]}, {}]`, 3},
		{"[{\"j\":{\"a\": [1,\n 2]}}, \n {\"j\":null}]", 2}, {`[1,2,3]`, 3}, {`["a,b", "\\", "c"]`, 3}, {`[null]`, 1},
	} {
		if got := jsonArrayLen([]byte(c.in)); got != c.want {
			t.Errorf("jsonArrayLen(%s) = %d, want %d", c.in, got, c.want)
		}
	}
}
