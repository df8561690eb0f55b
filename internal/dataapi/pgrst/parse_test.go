package pgrst

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseSelect_Cases(t *testing.T) {
	got, err := ParseSelect(`a:title::text,data->b->>0,x:users!fk!inner(name),...tags(*),count(),likes.sum()::int`)
	if err != nil {
		t.Fatal(err)
	}
	want := []SelectItem{
		{Field: Field{Name: "title"}, Alias: "a", Cast: "text"},
		{Field: Field{Name: "data", Path: []JSONStep{{Key: "b"}, {Text: true, Key: "0", Index: true}}}},
		{Embed: &Embed{Name: "users", Alias: "x", Hint: "fk", Join: "inner", Select: []SelectItem{{Field: Field{Name: "name"}}}}},
		{Embed: &Embed{Name: "tags", Spread: true, Select: []SelectItem{{Star: true}}}},
		{Aggregate: "count"},
		{Field: Field{Name: "likes"}, Aggregate: "sum", AggCast: "int"},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Fatal(d)
	}
	for _, bad := range []string{"a,(", "x!(", "a.nope()", "users(a", "\x00", "a::"} {
		if _, err := ParseSelect(bad); err == nil {
			t.Errorf("ParseSelect(%q) succeeded", bad)
		}
	}
}

func TestParseLogic_Nested(t *testing.T) {
	l, err := ParseLogic(true, false, `(a.eq.1,not.and(b.in.("x,y",z),c.cs.{1,2}),d.eq."q,)")`)
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Children) != 3 || l.Children[1].Logic == nil || !l.Children[1].Logic.Negate ||
		cmp.Diff([]string{"x,y", "z"}, l.Children[1].Logic.Children[0].Filter.List) != "" ||
		l.Children[1].Logic.Children[1].Filter.Value != "{1,2}" || l.Children[2].Filter.Value != "q,)" {
		t.Fatalf("unexpected tree: %+v", l)
	}
}

func TestParsePrefer_Invalid(t *testing.T) {
	p := ParsePrefer([]string{"return=representation, count=exact", "max-affected=5,bogus=1"})
	if p.Return != "representation" || p.Count != "exact" || p.MaxAffected == nil || *p.MaxAffected != 5 || len(p.Invalid) != 1 {
		t.Fatalf("%+v", p)
	}
}
