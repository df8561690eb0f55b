package dataapi

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestHandler_ReadShapes checks that reads of one shape share one built
// statement and still answer each with its own values, and that what the
// shape does not cover (other operators, exposure, invalid text, the
// sentinels' own characters) is answered as by a fresh build.
func TestHandler_ReadShapes(t *testing.T) {
	e := mustOpenEnv(t)
	get := func(p Principal, target string, status int, want string) {
		t.Helper()
		r := e.do(t, p, "GET", target, nil, "")
		var got bytes.Buffer
		_ = json.Compact(&got, []byte(r.body))
		if r.status != status || (want != "" && got.String() != want) {
			t.Fatalf("GET %s: %d %s, want %d %s", target, r.status, r.body, status, want)
		}
	}
	get(anonP, "/comments?select=id&likes=eq.3", 200, `[{"id":1}]`)
	get(anonP, "/comments?select=id&likes=eq.5", 200, `[{"id":3}]`)
	get(anonP, "/comments?select=id&likes=eq.4", 200, `[]`)
	get(anonP, "/comments?select=id&likes=eq.nope", 400, "")
	get(anonP, "/comments?select=id&likes=gt.1&order=id", 200, `[{"id":1},{"id":3}]`)
	get(anonP, "/comments?select=id&likes=gt.3&order=id", 200, `[{"id":3}]`)
	get(anonP, "/comments?select=id&likes=in.(1,5)&order=id", 200, `[{"id":2},{"id":3}]`)
	get(anonP, "/comments?select=id&body=eq.hi%20bob", 200, `[{"id":3}]`)
	get(anonP, "/comments?select=id&body=eq.it's,%22odd%22", 200, `[]`)
	get(anonP, "/comments?select=id&body=eq.%EF%B7%90db9:0%EF%B7%91", 200, `[]`)
	get(anonP, "/comments?select=id&body=eq.%FF", 400, "")
	get(anonP, "/comments?select=id&body=eq.a%00b", 400, "")

	e.h.shapes.mu.Lock()
	var reads int
	for _, sh := range e.h.shapes.m {
		if sh.bt != nil && len(sh.slots) == 1 {
			reads++
		}
	}
	e.h.shapes.mu.Unlock()
	// likes=eq, likes=gt with order, body=eq: three shapes with one value.
	if reads != 3 {
		t.Errorf("%d shapes with one value kept, want 3", reads)
	}

	// A long request is built per request, not kept (a long value of a
	// placeholder is not part of the key; one of another operator is).
	e.h.shapes.mu.Lock()
	n := len(e.h.shapes.m)
	e.h.shapes.mu.Unlock()
	get(anonP, "/comments?select=id&body=like."+strings.Repeat("x", maxShapeKey), 200, `[]`)
	e.h.shapes.mu.Lock()
	if len(e.h.shapes.m) != n {
		t.Errorf("a request of a key over maxShapeKey was kept")
	}
	e.h.shapes.mu.Unlock()

	// Exposure is part of the shape: a key limited to posts does not see
	// comments through the shape another key made.
	limited := anonP
	limited.Tables = []string{"posts"}
	get(limited, "/comments?select=id&likes=eq.3", 404, "")
	get(limited, "/posts?select=id&id=eq.3", 200, `[{"id":3}]`)

	// A new schema version builds the shape again.
	if _, err := e.su.Exec(t.Context(), `ALTER TABLE comments RENAME COLUMN likes TO hearts`); err != nil {
		t.Fatal(err)
	}
	get(anonP, "/comments?select=id&likes=eq.3", 400, "")
	get(anonP, "/comments?select=id&hearts=eq.3", 200, `[{"id":1}]`)
}
