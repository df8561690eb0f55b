package wsserver

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"io"
	"strings"

	"github.com/coder/websocket"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/store"
)

// read answers a read: inline for a range or a file under 1 MiB, else
// (or when asked) as a stream of binary chunks from one snapshot.
func (c *conn) read(req *request) {
	ctx := c.ctx
	if (req.Offset == nil) != (req.Length == nil) {
		c.fail(req.ID, fs9.Errorf(fs9.EINVAL, "offset and length go together"))
		return
	}
	if req.Offset != nil {
		b, err := c.store.ReadAt(ctx, req.Path, *req.Offset, *req.Length)
		if err != nil {
			c.fail(req.ID, err)
			return
		}
		req.done()
		c.ok(req.ID, map[string]any{"content": base64.StdEncoding.EncodeToString(b), "size": len(b), "encoding": "base64"})
		return
	}
	r, err := c.store.Open(ctx, req.Path)
	if err != nil {
		c.fail(req.ID, err)
		return
	}
	defer r.Close()
	if !req.Streaming && r.Size() < fs9.StreamingAbove {
		b, err := io.ReadAll(r)
		if err != nil {
			c.fail(req.ID, err)
			return
		}
		req.done()
		c.ok(req.ID, map[string]any{"content": base64.StdEncoding.EncodeToString(b), "size": len(b), "encoding": "base64"})
		return
	}
	sid := c.newStreamID()
	c.ok(req.ID, map[string]any{"streaming": true, "stream_id": sid, "size": r.Size(), "chunk_size": ChunkSize})
	h := sha256.New()
	frame := make([]byte, 8+ChunkSize)
	binary.BigEndian.PutUint64(frame, sid)
	pctx, stop := context.WithCancel(ctx)
	p := prefetch(pctx, r)
	defer func() { stop(); <-p.done }() // before r.Close: the goroutine uses r's session
	for block := range p.blocks {
		for len(block) > 0 {
			n := copy(frame[8:], block)
			block = block[n:]
			h.Write(frame[8 : 8+n])
			wctx, cancel := context.WithTimeout(ctx, writeTimeout)
			werr := c.ws.Write(wctx, websocket.MessageBinary, frame[:8+n])
			cancel()
			if werr != nil {
				return // the connection is gone
			}
		}
	}
	if p.err != nil {
		c.fail(req.ID, p.err)
		return
	}
	req.done()
	c.ok(req.ID, map[string]any{"stream": "end", "stream_id": sid, "checksum": "sha256:" + hex.EncodeToString(h.Sum(nil))})
}

// prefetched is a reader drained by a goroutine of its own, a block at a
// time, so that the database fetches the next pages while the current ones
// go out on the socket: taking turns, a streamed read ran at 0.6 of COPY's
// speed. blocks closes at the end, err (read after that) says why.
type prefetched struct {
	blocks chan []byte
	err    error
	done   chan struct{}
}

// blockReader hands out a file a block at a time (store.Reader).
type blockReader interface {
	Next() ([]byte, error)
}

// prefetch starts draining r until its end or ctx's.
func prefetch(ctx context.Context, r blockReader) *prefetched {
	p := &prefetched{blocks: make(chan []byte, 2), done: make(chan struct{})}
	go func() {
		defer close(p.done)
		defer close(p.blocks)
		for {
			b, err := r.Next()
			if err == io.EOF {
				return
			}
			if err != nil {
				p.err = err
				return
			}
			select {
			case p.blocks <- b:
			case <-ctx.Done():
				p.err = ctx.Err()
				return
			}
		}
	}()
	return p
}

// upload is a streamed write in progress.
type upload struct {
	data chan []byte
	end  chan *request
	done chan struct{} // closed when the upload is over
}

// upload runs a streamed write: ready, binary frames, end. Everything goes
// into one transaction, committed at a well-formed end only.
func (c *conn) upload(req *request) {
	ctx := c.ctx
	if req.Content != nil {
		c.fail(req.ID, fs9.Errorf(fs9.EINVAL, "a streamed write carries no content"))
		return
	}
	if req.Size != nil && (*req.Size < 0 || *req.Size > fs9.MaxFileBytes) {
		c.fail(req.ID, fs9.Errorf(fs9.EFBIG, "files are limited to 100 MiB"))
		return
	}
	w, err := c.store.Create(ctx, req.Path, modeOr(req.Mode))
	if err != nil {
		c.fail(req.ID, err)
		return
	}
	defer w.Abort()
	sid := c.newStreamID()
	up := &upload{data: make(chan []byte, 4), end: make(chan *request, 1), done: make(chan struct{})}
	c.mu.Lock()
	c.uploads[sid] = up
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.uploads, sid)
		c.mu.Unlock()
		close(up.done)
	}()
	c.ok(req.ID, map[string]any{"ready": true, "stream_id": sid, "chunk_size": ChunkSize})
	for {
		select {
		case <-ctx.Done():
			return // cut off: the transaction rolls back
		case b := <-up.data:
			if err := w.Write(ctx, b); err != nil {
				w.Abort()
				req.done()
				c.fail(req.ID, err)
				return
			}
		case end := <-up.end:
			// Frames sent before the end may still sit in the channel.
			for drained := false; !drained; {
				select {
				case b := <-up.data:
					if err := w.Write(ctx, b); err != nil {
						w.Abort()
						req.done()
						c.fail(end.ID, err)
						return
					}
				default:
					drained = true
				}
			}
			c.finishUpload(req, end, w)
			return
		}
	}
}

func (c *conn) finishUpload(req, end *request, w *store.Writer) {
	n, err := c.commitUpload(req, end, w)
	w.Abort() // no-op after a commit; frees the session before the answer
	req.done()
	if err != nil {
		c.fail(end.ID, err)
		return
	}
	c.ok(end.ID, map[string]int64{"written": n})
}

func (c *conn) commitUpload(req, end *request, w *store.Writer) (int64, error) {
	if end.Stream != "end" {
		return 0, fs9.Errorf(fs9.EINVAL, "unknown stream control %q (only end)", end.Stream)
	}
	if req.Size != nil && *req.Size != w.Written() {
		return 0, fs9.Errorf(fs9.EINVAL, "size mismatch: announced %d, received %d", *req.Size, w.Written())
	}
	if end.Checksum != "" && !checksumMatches(end.Checksum, w.Sum()) {
		return 0, fs9.Errorf(fs9.EIO, "checksum mismatch: received sha256:%s", hex.EncodeToString(w.Sum()))
	}
	return w.Commit(c.ctx)
}

func checksumMatches(want string, sum []byte) bool {
	want = strings.TrimPrefix(strings.ToLower(want), "sha256:")
	return want == hex.EncodeToString(sum)
}

// streamControl routes {"stream": "end", "stream_id"} to its upload.
func (c *conn) streamControl(req *request) {
	if req.StreamID == nil {
		c.fail(req.ID, fs9.Errorf(fs9.EINVAL, "stream_id is required"))
		return
	}
	c.mu.Lock()
	up := c.uploads[*req.StreamID]
	c.mu.Unlock()
	if up == nil {
		c.fail(req.ID, fs9.Errorf(fs9.EINVAL, "no upload with stream_id %d", *req.StreamID))
		return
	}
	select {
	case up.end <- req:
	case <-up.done:
		c.fail(req.ID, fs9.Errorf(fs9.EINVAL, "no upload with stream_id %d", *req.StreamID))
	default:
		c.fail(req.ID, fs9.Errorf(fs9.EPROTO, "stream %d already ending", *req.StreamID))
	}
}
