package wsclient

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"

	"github.com/coder/websocket"

	"github.com/db9/db9/internal/fs9"
)

// Info is FS9.md's file info.
type Info struct {
	Path       string `json:"path"`
	Type       string `json:"type"` // file, dir, symlink
	Size       int64  `json:"size"`
	Mode       int    `json:"mode"`
	Generation int64  `json:"generation"`
	Mtime      string `json:"mtime"`
}

func decode[T any](data json.RawMessage, err error) (T, error) {
	var v T
	if err != nil {
		return v, err
	}
	if err := json.Unmarshal(data, &v); err != nil {
		return v, fmt.Errorf("decode answer: %w", err)
	}
	return v, nil
}

// Stat returns a path's info (ENOENT).
func (c *Client) Stat(ctx context.Context, path string) (Info, error) {
	return decode[Info](c.Call(ctx, "stat", map[string]any{"path": path}))
}

// ReadDir lists a directory.
func (c *Client) ReadDir(ctx context.Context, path string) ([]Info, error) {
	v, err := decode[struct{ Entries []Info }](c.Call(ctx, "readdir", map[string]any{"path": path}))
	return v.Entries, err
}

// ReadDirRecursive walks a directory (server limits: 10 levels, 10,000
// entries); truncated says whether it stopped at a limit.
func (c *Client) ReadDirRecursive(ctx context.Context, path string) (entries []Info, truncated bool, err error) {
	v, err := decode[struct {
		Entries   []Info
		Truncated bool
	}](c.Call(ctx, "readdir_recursive", map[string]any{"path": path}))
	return v.Entries, v.Truncated, err
}

// Mkdir makes a directory; parents makes missing parents (and no EEXIST).
func (c *Client) Mkdir(ctx context.Context, path string, parents bool) error {
	_, err := c.Call(ctx, "mkdir", map[string]any{"path": path, "recursive": parents})
	return err
}

// Remove removes a path, a directory's contents too when recursive.
func (c *Client) Remove(ctx context.Context, path string, recursive bool) (int64, error) {
	v, err := decode[struct{ Removed int64 }](c.Call(ctx, "rm", map[string]any{"path": path, "recursive": recursive}))
	return v.Removed, err
}

// Rename moves a path.
func (c *Client) Rename(ctx context.Context, oldPath, newPath string) error {
	_, err := c.Call(ctx, "rename", map[string]any{"old_path": oldPath, "new_path": newPath})
	return err
}

// ReadFile reads a whole file into memory.
func (c *Client) ReadFile(ctx context.Context, path string) ([]byte, error) {
	var b bytesWriter
	_, err := c.ReadTo(ctx, path, &b)
	return b, err
}

type bytesWriter []byte

func (b *bytesWriter) Write(p []byte) (int, error) { *b = append(*b, p...); return len(p), nil }

// ReadTo streams a file into w, checking the server's checksum; progress,
// when not nil, is called with the bytes so far.
func (c *Client) ReadTo(ctx context.Context, path string, w io.Writer, progress ...func(done, total int64)) (int64, error) {
	id, ch := c.open()
	var sid uint64
	defer func() { c.closeReq(id, sid) }()
	if err := c.sendJSON(ctx, id, "read", map[string]any{"path": path, "streaming": true}); err != nil {
		return 0, fmt.Errorf("send read: %w", err)
	}
	f, err := c.next(ctx, ch)
	if err != nil {
		return 0, err
	}
	if f.resp == nil {
		return 0, errors.New("binary frame before the read's answer")
	}
	start, err := decode[struct {
		Streaming bool   `json:"streaming"`
		StreamID  uint64 `json:"stream_id"`
		Size      int64  `json:"size"`
		Content   []byte `json:"content"` // base64, when answered inline
	}](answer(f.resp))
	if err != nil {
		return 0, err
	}
	if !start.Streaming {
		n, err := w.Write(start.Content)
		return int64(n), err
	}
	sid = start.StreamID
	h := sha256.New()
	var n int64
	for {
		f, err := c.next(ctx, ch)
		if err != nil {
			return n, err
		}
		if f.resp == nil {
			h.Write(f.bin)
			if _, err := w.Write(f.bin); err != nil {
				return n, err
			}
			n += int64(len(f.bin))
			for _, p := range progress {
				p(n, start.Size)
			}
			continue
		}
		end, err := decode[struct {
			Stream   string `json:"stream"`
			Checksum string `json:"checksum"`
		}](answer(f.resp))
		if err != nil {
			return n, err
		}
		if want := "sha256:" + hex.EncodeToString(h.Sum(nil)); end.Checksum != want || n != start.Size {
			return n, fmt.Errorf("read %s: got %d bytes %s, server sent %d bytes %s", path, n, want, start.Size, end.Checksum)
		}
		return n, nil
	}
}

// WriteFile writes a whole file from memory (streamed).
func (c *Client) WriteFile(ctx context.Context, path string, data []byte) (int64, error) {
	return c.WriteFrom(ctx, path, &byteReader{b: data}, int64(len(data)))
}

type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}

// WriteFrom streams r into path in one transaction: the file is replaced
// whole at the end or not at all. size < 0 when unknown.
func (c *Client) WriteFrom(ctx context.Context, path string, r io.Reader, size int64, progress ...func(done, total int64)) (int64, error) {
	id, ch := c.open()
	defer c.closeReq(id, 0)
	args := map[string]any{"path": path, "streaming": true}
	if size >= 0 {
		args["size"] = size
	}
	if err := c.sendJSON(ctx, id, "write", args); err != nil {
		return 0, fmt.Errorf("send write: %w", err)
	}
	f, err := c.next(ctx, ch)
	if err != nil {
		return 0, err
	}
	if f.resp == nil {
		return 0, errors.New("binary frame before the write's answer")
	}
	ready, err := decode[struct {
		StreamID  uint64 `json:"stream_id"`
		ChunkSize int    `json:"chunk_size"`
	}](answer(f.resp))
	if err != nil {
		return 0, err
	}
	chunk := ready.ChunkSize * 4 // frames of any size; fewer, larger ones cost less
	if chunk <= 0 {
		chunk = 256 << 10
	}
	var h hash.Hash = sha256.New()
	buf := make([]byte, 8+chunk)
	binary.BigEndian.PutUint64(buf, ready.StreamID)
	var n int64
	for {
		select { // the server refuses mid-stream (EFBIG, EIO): stop sending
		case f := <-ch:
			if f.resp != nil {
				_, err := answer(f.resp)
				if err == nil {
					err = errors.New("unexpected answer during the upload")
				}
				return n, err
			}
		default:
		}
		k, rerr := io.ReadFull(r, buf[8:])
		if k > 0 {
			h.Write(buf[8 : 8+k])
			if err := c.send(ctx, websocket.MessageBinary, buf[:8+k]); err != nil {
				return n, fmt.Errorf("send chunk: %w", err)
			}
			n += int64(k)
			for _, p := range progress {
				p(n, size)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return n, rerr // the server rolls the upload back when the connection closes
		}
	}
	if err := c.sendJSON(ctx, id, "", map[string]any{"stream": "end", "stream_id": ready.StreamID,
		"checksum": "sha256:" + hex.EncodeToString(h.Sum(nil))}); err != nil {
		return n, fmt.Errorf("send end: %w", err)
	}
	f, err = c.next(ctx, ch)
	if err != nil {
		return n, err
	}
	if f.resp == nil {
		return n, errors.New("binary frame where the write's answer was expected")
	}
	v, err := decode[struct{ Written int64 }](answer(f.resp))
	return v.Written, err
}

// Watch subscribes to changes under path; events arrive on Pushes.
func (c *Client) Watch(ctx context.Context, path string) (string, error) {
	v, err := decode[struct {
		SubscriptionID string `json:"subscription_id"`
	}](c.Call(ctx, "watch_subscribe", map[string]any{"path": path}))
	return v.SubscriptionID, err
}

// IsCode reports whether err is an fs9 error with code.
func IsCode(err error, code fs9.Code) bool {
	var e *fs9.Error
	return errors.As(err, &e) && e.Code == code
}
