package cli

import (
	"strings"
	"testing"
)

func TestGlobMatch(t *testing.T) {
	for _, c := range []struct {
		pattern, name string
		want          bool
	}{
		{"/logs/*.csv", "/logs/a.csv", true},
		{"/logs/*.csv", "/logs/a.txt", false},
		{"/logs/*.csv", "/logs/2024/a.csv", false},
		{"/logs/**/*.csv", "/logs/a.csv", true},
		{"/logs/**/*.csv", "/logs/2024/01/a.csv", true},
		{"/logs/**", "/logs/2024/01/a.csv", true},
		{"/logs/**", "/other/a.csv", false},
		{"/*/a.csv", "/logs/a.csv", true},
		{"/*/a.csv", "/a.csv", false},
		{"/logs/[ab].csv", "/logs/b.csv", true},
		{"/logs/?.csv", "/logs/ab.csv", false},
	} {
		if got := globMatch(c.pattern, c.name); got != c.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", c.pattern, c.name, got, c.want)
		}
	}
}

func TestGlobBase(t *testing.T) {
	for _, c := range []struct {
		pattern, base string
		deep          bool
	}{
		{"/logs/*.csv", "/logs", false},
		{"/*.csv", "/", false},
		{"/logs/**/*.csv", "/logs", true},
		{"/logs/*/a.csv", "/logs", true},
		{"/a/b/**", "/a/b", true},
	} {
		if base, deep := globBase(c.pattern); base != c.base || deep != c.deep {
			t.Errorf("globBase(%q) = %q, %v; want %q, %v", c.pattern, base, deep, c.base, c.deep)
		}
	}
}

func TestLastLines(t *testing.T) {
	for _, c := range []struct {
		in   string
		n    int
		want string
		ok   bool
	}{
		{"a\nb\nc\n", 2, "b\nc\n", true},
		{"a\nb\nc", 2, "b\nc", true},
		{"a\nb\nc\n", 3, "a\nb\nc\n", false}, // the first line may begin before b
		{"a\nb\nc\n", 5, "a\nb\nc\n", false},
		{"x\n", 1, "x\n", false},
		{"\n\n\n", 1, "\n", true},
	} {
		i, ok := lastLines([]byte(c.in), c.n)
		if c.in[i:] != c.want || ok != c.ok {
			t.Errorf("lastLines(%q, %d) = %q, %v; want %q, %v", c.in, c.n, c.in[i:], ok, c.want, c.ok)
		}
	}
}

// FuzzGlobMatch: any pattern and name are matched without a panic, a name
// without glob characters matches itself, and ** matches everything below
// its directory.
func FuzzGlobMatch(f *testing.F) {
	for _, s := range [][2]string{{"/logs/*.csv", "/logs/a.csv"}, {"/**/x", "/a/b/x"}, {"/[a-", "/a"}, {"/a/**/**/b", "/a/b"}} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, name string) {
		globMatch(pattern, name)
		globBase(pattern)
		if !hasGlob(name) && !strings.Contains(name, "\\") && !globMatch(name, name) {
			t.Errorf("%q does not match itself", name)
		}
		if !globMatch("/**", "/"+strings.Trim(name, "/")) {
			t.Errorf("/** does not match %q", name)
		}
	})
}
