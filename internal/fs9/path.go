package fs9

import "strings"

// Limits of FS9.md.
const (
	MaxPathBytes   = 4096
	MaxNameBytes   = 255
	MaxCallBytes   = 10 << 20  // per SQL or non-streamed call
	MaxFileBytes   = 100 << 20 // per file, through streaming
	StreamingAbove = 1 << 20   // whole-file reads of this size or more stream
)

// CleanPath validates an absolute path and returns it normalized: repeated
// and trailing slashes and "." segments dropped. Relative or empty paths,
// ".." segments, NUL bytes and over-long paths or names are EINVAL (the
// same rules the SQL functions apply).
func CleanPath(p string) (string, error) {
	if p == "" {
		return "", Errorf(EINVAL, "path is empty")
	}
	if p[0] != '/' {
		return "", Errorf(EINVAL, "path must be absolute: %s", p)
	}
	if strings.IndexByte(p, 0) >= 0 {
		return "", Errorf(EINVAL, "path contains a NUL byte")
	}
	if len(p) > MaxPathBytes {
		return "", Errorf(EINVAL, "path longer than %d bytes", MaxPathBytes)
	}
	var b strings.Builder
	for _, seg := range strings.Split(p, "/") {
		switch seg {
		case "", ".":
			continue
		case "..":
			return "", Errorf(EINVAL, `path must not contain "..": %s`, p)
		}
		if len(seg) > MaxNameBytes {
			return "", Errorf(EINVAL, "name longer than %d bytes", MaxNameBytes)
		}
		b.WriteByte('/')
		b.WriteString(seg)
	}
	if b.Len() == 0 {
		return "/", nil
	}
	return b.String(), nil
}

// Within reports whether path p is dir or below it (both clean).
func Within(p, dir string) bool {
	return dir == "/" || p == dir || strings.HasPrefix(p, dir+"/")
}
