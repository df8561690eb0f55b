package fs9_test

import (
	"strings"
	"testing"

	"github.com/db9/db9/internal/fs9"
)

func FuzzCleanPath(f *testing.F) {
	for _, s := range []string{"/", "", "a", "/a/b", "//a//b/", "/a/./b", "/a/../b", "/a\x00b", "/..", "/" + strings.Repeat("x", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		c, err := fs9.CleanPath(p)
		if err != nil {
			if fs9.ErrorCode(err) != fs9.EINVAL {
				t.Fatalf("%q: code %s", p, fs9.ErrorCode(err))
			}
			return
		}
		if !strings.HasPrefix(c, "/") || strings.Contains(c, "//") || strings.Contains(c, "\x00") ||
			(c != "/" && strings.HasSuffix(c, "/")) {
			t.Fatalf("%q -> %q not clean", p, c)
		}
		for _, seg := range strings.Split(c, "/") {
			if seg == ".." || seg == "." {
				t.Fatalf("%q -> %q keeps %q", p, c, seg)
			}
		}
		if again, err := fs9.CleanPath(c); err != nil || again != c {
			t.Fatalf("not idempotent: %q -> %q -> %q %v", p, c, again, err)
		}
	})
}
