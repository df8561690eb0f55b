package dataapi

import (
	"net/http"
	"testing"

	"github.com/db9/db9/internal/dataapi/pgrst"
)

// BenchmarkBuild measures request → SQL for an embedded read (post, its
// author and its comments): parsing, planning against the schema cache and
// rendering, no database.
func BenchmarkBuild(b *testing.B) {
	s := fuzzScope(b)
	t, _ := s.table("posts")
	raw := "select=id,title,author:users(name),comments(id,body)&id=eq.42&comments.order=id.desc&comments.limit=10"
	b.ReportAllocs()
	for b.Loop() {
		pairs, err := pgrst.SplitQuery(raw)
		if err != nil {
			b.Fatal(err)
		}
		req := &request{method: http.MethodGet, path: "/posts", p: s.p, pairs: pairs}
		if _, err := s.buildRead(req, t); err != nil {
			b.Fatal(err)
		}
	}
}
