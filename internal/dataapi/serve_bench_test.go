package dataapi

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

// BenchmarkServeRead measures one cached-shape read through the handler
// against a real PostgreSQL (what bench/ dataapi sends per request, without
// the HTTP server): allocations and Go CPU per request.
func BenchmarkServeRead(b *testing.B) {
	e := mustOpenEnv(b)
	r := httptest.NewRequest(http.MethodGet, "http://x/data/db1/rest/v1/posts?select=id,title&id=eq.1", nil)
	r.Header.Set("Apikey", "db9_pk_0123456789abcdef0123456789abcdef")
	r.Header.Set("Accept", "*/*")
	p := anonP
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		e.h.Serve(w, r, "db1", "/posts", &p)
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}
