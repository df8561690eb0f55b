package hostcall

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"path"
	"strings"
	"time"

	"github.com/db9/db9/internal/functions/egress"
	"github.com/db9/db9/internal/functions/runtime"
	"github.com/db9/db9/internal/sqlexec"
)

// Scope is a function's fs9_scope: path prefixes it may read and write.
// A prefix covers itself and everything below it ("/data" covers /data and
// /data/x, not /database). Writing a path implies reading it.
type Scope struct {
	Read  []string `json:"read"`
	Write []string `json:"write"`
}

func covered(prefixes []string, p string) bool {
	for _, pre := range prefixes {
		pre = strings.TrimSuffix(pre, "/")
		if pre == "" || p == pre || strings.HasPrefix(p, pre+"/") {
			return true
		}
	}
	return false
}

// CanRead reports whether the scope lets the function read p (a clean
// absolute path).
func (s Scope) CanRead(p string) bool { return covered(s.Read, p) || covered(s.Write, p) }

// CanWrite reports whether the scope lets the function write or remove p.
func (s Scope) CanWrite(p string) bool { return covered(s.Write, p) }

// ValidateScope checks prefixes at deploy: absolute, clean, no "..".
func ValidateScope(s Scope) error {
	for _, p := range append(append([]string{}, s.Read...), s.Write...) {
		if _, err := CleanPath(p); err != nil {
			return fmt.Errorf("fs9_scope: %w", err)
		}
	}
	return nil
}

// CleanPath checks an fs9 path as FS9.md defines them (absolute, no ".."
// segment, no NUL) and returns it without a trailing slash.
func CleanPath(p string) (string, error) {
	if !strings.HasPrefix(p, "/") || strings.IndexByte(p, 0) >= 0 {
		return "", fmt.Errorf("path %q must be absolute", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == ".." {
			return "", fmt.Errorf("path %q must not contain a .. segment", p)
		}
	}
	return path.Clean(p), nil
}

// Grant is what one run may do outside its VM.
type Grant struct {
	DatabaseID string
	RunAs      string // role of ctx.db; "" means authenticated
	BypassRLS  bool
	Scope      Scope
	Allowlist  egress.Allowlist
}

// DB runs ctx.db.query in the run's database as role (with its BYPASSRLS
// twin when bypassRLS). An SQL error is a Result with Error set.
type DB interface {
	Query(ctx context.Context, databaseID, role string, bypassRLS bool, req sqlexec.Request) (*sqlexec.Result, error)
}

// FileInfo is one entry of FS.List, as fs9 describes files.
type FileInfo struct {
	Path  string    `json:"path"`
	Type  string    `json:"type"` // file, dir, symlink
	Size  int64     `json:"size"`
	Mode  uint32    `json:"mode"`
	Mtime time.Time `json:"mtime"`
}

// FSError is an fs9 failure with its code (ENOENT, EISDIR, ENOTDIR, EFBIG,
// EINVAL, ...). FS implementations return it, wrapped or not.
type FSError struct {
	Code    string
	Message string
}

func (e *FSError) Error() string { return e.Code + ": " + e.Message }

// FS is the database's fs9, acting for the function: paths are clean and
// absolute and the scope has been checked already.
type FS interface {
	Read(ctx context.Context, databaseID, path string) ([]byte, error)
	Write(ctx context.Context, databaseID, path string, data []byte) (int64, error)
	List(ctx context.Context, databaseID, path string) ([]FileInfo, error)
	Exists(ctx context.Context, databaseID, path string) (bool, error)
	Remove(ctx context.Context, databaseID, path string, recursive bool) (int64, error)
}

// Dispatcher executes ops for runs. A nil DB, FS or Fetcher makes its ops
// fail with ENOSYS.
type Dispatcher struct {
	DB      DB
	FS      FS
	Fetcher *egress.Fetcher
}

// MaxFileBytes bounds one ctx.fs9 read or write, as fs9's SQL calls are.
const MaxFileBytes = 10 << 20

func callErr(code, format string, args ...any) error {
	return &runtime.CallError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Call executes op for the run holding g.
func (d *Dispatcher) Call(ctx context.Context, g *Grant, op string, args json.RawMessage) (json.RawMessage, error) {
	var a struct {
		SQL           string            `json:"sql"`
		Params        []json.RawMessage `json:"params"`
		Path          string            `json:"path"`
		ContentBase64 string            `json:"content_base64"`
		Recursive     bool              `json:"recursive"`
		Method        string            `json:"method"`
		URL           string            `json:"url"`
		Headers       [][2]string       `json:"headers"`
		BodyBase64    *string           `json:"body_base64"`
		Redirect      string            `json:"redirect"`
	}
	if err := json.Unmarshal(args, &a); err != nil {
		return nil, callErr("EINVAL", "%s: malformed arguments", op)
	}
	switch op {
	case "db.query":
		return d.query(ctx, g, a.SQL, a.Params)
	case "fetch":
		return d.fetch(ctx, g, a.Method, a.URL, a.Headers, a.BodyBase64, a.Redirect)
	case "fs9.read", "fs9.write", "fs9.list", "fs9.exists", "fs9.remove":
		return d.fs9(ctx, g, op, a.Path, a.ContentBase64, a.Recursive)
	}
	return nil, callErr("ENOSYS", "unknown operation %q", op)
}

func (d *Dispatcher) query(ctx context.Context, g *Grant, sql string, params []json.RawMessage) (json.RawMessage, error) {
	if d.DB == nil {
		return nil, callErr("ENOSYS", "ctx.db is not available on this server")
	}
	role := g.RunAs
	if role == "" {
		role = "authenticated"
	}
	req := sqlexec.Request{Query: &sql, Params: params}
	if err := req.Validate(); err != nil {
		return nil, callErr("EINVAL", "ctx.db.query: %v", err)
	}
	res, err := d.DB.Query(ctx, g.DatabaseID, role, g.BypassRLS, req)
	if err != nil {
		var ce *runtime.CallError
		if errors.As(err, &ce) {
			return nil, ce
		}
		return nil, callErr("EIO", "ctx.db.query: the database is unavailable")
	}
	if res.Error != nil {
		return nil, &runtime.CallError{Code: res.Error.Code, Message: res.Error.Message}
	}
	return json.Marshal(res)
}

func (d *Dispatcher) fs9(ctx context.Context, g *Grant, op, p, content string, recursive bool) (json.RawMessage, error) {
	if d.FS == nil {
		return nil, callErr("ENOSYS", "ctx.fs9 is not available on this server")
	}
	clean, err := CleanPath(p)
	if err != nil {
		return nil, callErr("EINVAL", "%s: %v", op, err)
	}
	write := op == "fs9.write" || op == "fs9.remove"
	if write && !g.Scope.CanWrite(clean) || !write && !g.Scope.CanRead(clean) {
		kind := "read"
		if write {
			kind = "write"
		}
		return nil, callErr("EACCES", "%s: %s is outside the function's fs9_scope (%s)", op, clean, kind)
	}
	var out any
	switch op {
	case "fs9.read":
		var b []byte
		if b, err = d.FS.Read(ctx, g.DatabaseID, clean); err == nil {
			if len(b) > MaxFileBytes {
				return nil, callErr("EFBIG", "%s: %s is larger than %d bytes", op, clean, MaxFileBytes)
			}
			out = map[string]string{"content_base64": base64.StdEncoding.EncodeToString(b)}
		}
	case "fs9.write":
		b, derr := base64.StdEncoding.DecodeString(content)
		if derr != nil {
			return nil, callErr("EINVAL", "%s: content is not base64", op)
		}
		if len(b) > MaxFileBytes {
			return nil, callErr("EFBIG", "%s: %d bytes is more than %d", op, len(b), MaxFileBytes)
		}
		var n int64
		if n, err = d.FS.Write(ctx, g.DatabaseID, clean, b); err == nil {
			out = map[string]int64{"written": n}
		}
	case "fs9.list":
		var es []FileInfo
		if es, err = d.FS.List(ctx, g.DatabaseID, clean); err == nil {
			// Entries outside the read scope stay hidden, even inside a
			// listed directory that is itself readable only in part.
			vis := make([]FileInfo, 0, len(es))
			for _, e := range es {
				if g.Scope.CanRead(e.Path) {
					vis = append(vis, e)
				}
			}
			out = map[string][]FileInfo{"entries": vis}
		}
	case "fs9.exists":
		var ok bool
		if ok, err = d.FS.Exists(ctx, g.DatabaseID, clean); err == nil {
			out = map[string]bool{"exists": ok}
		}
	case "fs9.remove":
		var n int64
		if n, err = d.FS.Remove(ctx, g.DatabaseID, clean, recursive); err == nil {
			out = map[string]int64{"removed": n}
		}
	}
	if err != nil {
		var fe *FSError
		if errors.As(err, &fe) {
			return nil, &runtime.CallError{Code: fe.Code, Message: fe.Message}
		}
		return nil, callErr("EIO", "%s: fs9 is unavailable", op)
	}
	return json.Marshal(out)
}

func (d *Dispatcher) fetch(ctx context.Context, g *Grant, method, url string, headers [][2]string, body *string, redirect string) (json.RawMessage, error) {
	f := d.Fetcher
	if f == nil {
		return nil, callErr("ENOSYS", "fetch is not available on this server")
	}
	req := egress.Request{Method: method, URL: url, Headers: headers, Redirect: redirect}
	if body != nil {
		b, err := base64.StdEncoding.DecodeString(*body)
		if err != nil {
			return nil, callErr("EINVAL", "fetch: body is not base64")
		}
		req.Body = b
	}
	res, err := f.Do(ctx, g.Allowlist, req)
	if err != nil {
		var fe *egress.Error
		if errors.As(err, &fe) {
			return nil, &runtime.CallError{Code: fe.Code, Message: fe.Message}
		}
		return nil, callErr("EIO", "fetch failed")
	}
	return json.Marshal(map[string]any{
		"status": res.Status, "status_text": res.StatusText, "headers": res.Headers,
		"body_base64": base64.StdEncoding.EncodeToString(res.Body), "url": res.URL, "redirected": res.Redirected,
	})
}

// For binds the dispatcher to one run's grant, as the runtime's Host: for
// running a Module in-process (tests, tools); workers reach Call over IPC.
func (d *Dispatcher) For(g *Grant) runtime.Host { return boundHost{d, g} }

type boundHost struct {
	d *Dispatcher
	g *Grant
}

func (h boundHost) Call(ctx context.Context, op string, args json.RawMessage) (json.RawMessage, error) {
	return h.d.Call(ctx, h.g, op, args)
}
