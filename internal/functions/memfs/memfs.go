// Package memfs is an in-memory fs9 for tests of the function runtime: it
// implements hostcall.FS with fs9's path rules and error codes, one tree
// per database, so scope enforcement and ctx.fs9 can be tested without
// the real fs9 (which the server wires in its place).
package memfs

import (
	"context"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/db9/db9/internal/functions/hostcall"
)

// FS holds files of several databases; the zero value is empty and ready.
type FS struct {
	mu    sync.Mutex
	files map[string]map[string][]byte // database → path → content
}

func (f *FS) tree(db string) map[string][]byte {
	if f.files == nil {
		f.files = map[string]map[string][]byte{}
	}
	if f.files[db] == nil {
		f.files[db] = map[string][]byte{}
	}
	return f.files[db]
}

func isDir(t map[string][]byte, p string) bool {
	if p == "/" {
		return true
	}
	for k := range t {
		if strings.HasPrefix(k, p+"/") {
			return true
		}
	}
	return false
}

// Read returns a file's bytes.
func (f *FS) Read(_ context.Context, db, p string) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tree(db)
	if b, ok := t[p]; ok {
		return append([]byte(nil), b...), nil
	}
	if isDir(t, p) {
		return nil, &hostcall.FSError{Code: "EISDIR", Message: "EISDIR: " + p}
	}
	return nil, &hostcall.FSError{Code: "ENOENT", Message: "ENOENT: " + p}
}

// Write creates or replaces a file.
func (f *FS) Write(_ context.Context, db, p string, data []byte) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tree(db)
	if isDir(t, p) {
		return 0, &hostcall.FSError{Code: "EISDIR", Message: "EISDIR: " + p}
	}
	t[p] = append([]byte(nil), data...)
	return int64(len(data)), nil
}

// List returns a directory's direct entries.
func (f *FS) List(_ context.Context, db, p string) ([]hostcall.FileInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tree(db)
	if _, ok := t[p]; ok {
		return nil, &hostcall.FSError{Code: "ENOTDIR", Message: "ENOTDIR: " + p}
	}
	if !isDir(t, p) {
		return nil, &hostcall.FSError{Code: "ENOENT", Message: "ENOENT: " + p}
	}
	base := strings.TrimSuffix(p, "/") + "/"
	seen := map[string]hostcall.FileInfo{}
	for k, b := range t {
		rest, ok := strings.CutPrefix(k, base)
		if !ok {
			continue
		}
		name, _, deeper := strings.Cut(rest, "/")
		e := hostcall.FileInfo{Path: base + name, Type: "file", Size: int64(len(b)), Mode: 0o644, Mtime: time.Unix(0, 0).UTC()}
		if deeper {
			e = hostcall.FileInfo{Path: base + name, Type: "dir", Mode: 0o755, Mtime: e.Mtime}
		}
		seen[name] = e
	}
	out := make([]hostcall.FileInfo, 0, len(seen))
	for _, e := range seen {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// Exists reports whether a file or directory is there.
func (f *FS) Exists(_ context.Context, db, p string) (bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tree(db)
	_, ok := t[p]
	return ok || isDir(t, p), nil
}

// Remove deletes a file, or a directory with recursive.
func (f *FS) Remove(_ context.Context, db, p string, recursive bool) (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	t := f.tree(db)
	if _, ok := t[p]; ok {
		delete(t, p)
		return 1, nil
	}
	if !isDir(t, p) {
		return 0, &hostcall.FSError{Code: "ENOENT", Message: "ENOENT: " + p}
	}
	if !recursive {
		return 0, &hostcall.FSError{Code: "ENOTEMPTY", Message: "ENOTEMPTY: " + p}
	}
	n := int64(0)
	for k := range t {
		if strings.HasPrefix(k, strings.TrimSuffix(p, "/")+"/") {
			delete(t, k)
			n++
		}
	}
	return n, nil
}
