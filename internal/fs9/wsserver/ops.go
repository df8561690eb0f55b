package wsserver

import (
	"context"
	"encoding/base64"
	"errors"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/store"
)

type empty struct{}

// handle runs one request and answers it (streams answer on their own).
func (c *conn) handle(req *request) {
	ctx := c.ctx
	st := c.store
	var data any
	var err error
	switch req.Op {
	case "ping":
		data = map[string]bool{"pong": true}
	case "stat":
		var i store.Info
		i, err = st.Stat(ctx, req.Path)
		data = toInfo(i)
	case "readdir":
		var es []store.Info
		es, err = st.ReadDir(ctx, req.Path)
		data = map[string]any{"entries": toInfos(es)}
	case "readdir_recursive":
		var w store.Walk
		w, err = st.ReadDirRecursive(ctx, req.Path, req.MaxDepth, req.MaxEntries)
		data = map[string]any{"entries": toInfos(w.Entries), "truncated": w.Truncated, "total_dirs_scanned": w.TotalDirsScanned}
	case "mkdir":
		mode := -1
		if req.Mode != nil {
			mode = *req.Mode
		}
		_, err = st.Mkdir(ctx, req.Path, req.Recursive, mode)
		data = empty{}
	case "unlink":
		err = st.Unlink(ctx, req.Path)
		data = empty{}
	case "rm":
		var n int64
		n, err = st.Remove(ctx, req.Path, req.Recursive)
		data = map[string]int64{"removed": n}
	case "read":
		c.read(req)
		return
	case "write":
		if req.Streaming {
			c.upload(req)
			return
		}
		var b []byte
		if b, err = decodeContent(req.Content, req.Encoding); err == nil {
			var n int64
			n, err = st.Write(ctx, req.Path, b, modeOr(req.Mode))
			data = map[string]int64{"written": n}
		}
	case "pwrite":
		if req.Offset == nil {
			err = fs9.Errorf(fs9.EINVAL, "offset is required")
			break
		}
		var b []byte
		if b, err = decodeContent(req.Content, req.Encoding); err == nil {
			var n int64
			n, err = st.PWrite(ctx, req.Path, *req.Offset, b)
			data = map[string]int64{"written": n}
		}
	case "append":
		var b []byte
		if b, err = decodeContent(req.Content, req.Encoding); err == nil {
			var n int64
			n, err = st.Append(ctx, req.Path, b)
			data = map[string]int64{"written": n}
		}
	case "truncate":
		if req.Size == nil {
			err = fs9.Errorf(fs9.EINVAL, "size is required")
			break
		}
		err = st.Truncate(ctx, req.Path, *req.Size)
		data = empty{}
	case "rename":
		err = st.Rename(ctx, req.OldPath, req.NewPath)
		data = empty{}
	case "symlink":
		err = st.Symlink(ctx, req.Path, req.Target)
		data = empty{}
	case "readlink":
		var t string
		t, err = st.Readlink(ctx, req.Path)
		data = map[string]string{"target": t}
	case "chmod":
		if req.Mode == nil {
			err = fs9.Errorf(fs9.EINVAL, "mode is required")
			break
		}
		err = st.Chmod(ctx, req.Path, *req.Mode)
		data = empty{}
	case "batch_stat":
		data = map[string]any{"entries": batchEntries(store.BatchesOf(st).Stat(ctx, req.Paths), func(e map[string]any, r store.BatchResult) {
			e["info"] = toInfo(r.Info)
		})}
	case "batch_inline_read":
		var res []store.BatchResult
		if res, err = store.BatchesOf(st).Read(ctx, req.Paths); err == nil {
			data = map[string]any{"entries": batchEntries(res, func(e map[string]any, r store.BatchResult) {
				e["content"] = base64.StdEncoding.EncodeToString(r.Data)
				e["size"] = len(r.Data)
				e["encoding"] = "base64"
			})}
		}
	case "batch_write", "batch_write_atomic":
		data, err = batchWrite(ctx, store.BatchesOf(st), req, req.Op == "batch_write_atomic")
	case "watch_subscribe":
		var p string
		var w *watcher
		if p, err = fs9.CleanPath(req.Path); err == nil {
			if w, err = c.startWatcher(); err == nil {
				w.subscribe(req, p)
				return
			}
		}
	case "watch_unsubscribe":
		c.mu.Lock()
		w := c.watch
		c.mu.Unlock()
		err = w.unsubscribe(req.SubscriptionID)
		data = empty{}
	default:
		err = fs9.Errorf(fs9.ENOSYS, "unknown op %q", req.Op)
	}
	req.done()
	if err != nil {
		c.fail(req.ID, err)
		return
	}
	c.ok(req.ID, data)
}

func modeOr(m *int) int {
	if m == nil {
		return -1
	}
	return *m
}

func errOf(err error) *errBody {
	var e *fs9.Error
	if errors.As(err, &e) {
		return &errBody{Code: e.Code, Message: e.Message}
	}
	return &errBody{Code: fs9.EIO, Message: "internal error"}
}

func batchEntries(res []store.BatchResult, fill func(map[string]any, store.BatchResult)) []map[string]any {
	out := make([]map[string]any, len(res))
	for i, r := range res {
		e := map[string]any{"path": r.Path, "ok": r.Err == nil}
		if r.Err != nil {
			e["error"] = errOf(r.Err)
		} else {
			fill(e, r)
		}
		out[i] = e
	}
	return out
}

// batchWrite answers batch_write and batch_write_atomic.
func batchWrite(ctx context.Context, b store.Batches, req *request, atomic bool) (any, error) {
	if len(req.Files) == 0 {
		return nil, fs9.Errorf(fs9.EINVAL, "files is required")
	}
	files := make([]store.FileWrite, len(req.Files))
	var bad []error
	for i, f := range req.Files {
		b, err := decodeContent(f.Content, f.Encoding)
		bad = append(bad, err)
		files[i] = store.FileWrite{Path: f.Path, Data: b, Mode: modeOr(f.Mode)}
	}
	for i, err := range bad {
		if err != nil {
			// A file that cannot be decoded fails on its own, or, atomic,
			// takes the batch with it.
			res := make([]map[string]any, len(files))
			for j, f := range files {
				e := map[string]any{"path": f.Path, "ok": false}
				if j == i {
					e["error"] = errOf(err)
				} else if atomic {
					e["error"] = &errBody{Code: fs9.EINVAL, Message: "not written: the atomic batch failed at " + files[i].Path}
				}
				res[j] = e
			}
			if !atomic {
				return batchWriteSome(ctx, b, files, bad)
			}
			return map[string]any{"entries": res}, nil
		}
	}
	res, err := b.Write(ctx, files, atomic)
	if err != nil {
		return nil, err
	}
	return map[string]any{"entries": batchEntries(res, func(e map[string]any, r store.BatchResult) { e["written"] = r.Written })}, nil
}

// batchWriteSome writes the decodable files of a non-atomic batch.
func batchWriteSome(ctx context.Context, b store.Batches, files []store.FileWrite, bad []error) (any, error) {
	var good []store.FileWrite
	for i, f := range files {
		if bad[i] == nil {
			good = append(good, f)
		}
	}
	res, err := b.Write(ctx, good, false)
	if err != nil {
		return nil, err
	}
	out := make([]map[string]any, len(files))
	k := 0
	for i, f := range files {
		if bad[i] != nil {
			out[i] = map[string]any{"path": f.Path, "ok": false, "error": errOf(bad[i])}
			continue
		}
		r := res[k]
		k++
		e := map[string]any{"path": r.Path, "ok": r.Err == nil}
		if r.Err != nil {
			e["error"] = errOf(r.Err)
		} else {
			e["written"] = r.Written
		}
		out[i] = e
	}
	return map[string]any{"entries": out}, nil
}
