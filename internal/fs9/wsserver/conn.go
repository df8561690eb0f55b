package wsserver

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"io"
	"sync"
	"time"

	"github.com/coder/websocket"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/store"
	"github.com/db9/db9/internal/logkey"
)

// ChunkSize is the size of the binary chunks of streamed reads, and the
// chunk size announced to uploaders.
const ChunkSize = 65536

const writeTimeout = 30 * time.Second

type conn struct {
	s   *Server
	ws  *websocket.Conn
	ctx context.Context
	end context.CancelFunc

	id    Identity
	sess  Session
	store *store.Store

	mu       sync.Mutex
	inFlight int
	nextID   uint64
	uploads  map[uint64]*upload
	watch    *watcher
	wg       sync.WaitGroup
}

func newConn(s *Server, ws *websocket.Conn) *conn {
	ctx, cancel := context.WithCancel(s.ctx)
	return &conn{s: s, ws: ws, ctx: ctx, end: cancel, uploads: map[uint64]*upload{}}
}

// send writes one JSON frame. coder/websocket allows concurrent writers.
func (c *conn) send(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	defer cancel()
	return c.ws.Write(ctx, websocket.MessageText, b)
}

func (c *conn) ok(id []byte, data any) { _ = c.send(response{ID: id, OK: true, Data: data}) }

func (c *conn) fail(id []byte, err error) {
	_ = c.send(c.s.errResponse(id, err, logkey.DB, c.id.Database, logkey.Role, c.id.Role))
}

// refuse answers the first frame with an error and closes the connection.
func (c *conn) refuse(id []byte, err error) {
	c.fail(id, err)
	_ = c.ws.Close(websocket.StatusPolicyViolation, string(fs9.ErrorCode(err)))
}

func (c *conn) serve() {
	defer c.end()
	if !c.authenticate() {
		return
	}
	defer c.sess.Release()
	defer c.s.releaseSlot(c.id.Database)
	defer c.wg.Wait() // requests in flight end (their context is cancelled) before the session goes
	defer c.end()
	for {
		if err := c.readFrame(); err != nil {
			code := websocket.CloseStatus(err)
			if code == -1 && !errors.Is(err, context.Canceled) && !errors.Is(err, io.EOF) {
				c.s.log.Debug("fs9 connection ended", logkey.DB, c.id.Database, logkey.Err, err)
			}
			_ = c.ws.Close(websocket.StatusNormalClosure, "")
			return
		}
	}
}

// authenticate handles the first frame; false means the connection is done.
func (c *conn) authenticate() bool {
	ctx := c.ctx
	// A timer rather than a read deadline: coder/websocket drops the TCP
	// connection when a read's context ends, and the client should get a
	// proper close frame.
	timer := time.AfterFunc(c.s.cfg.AuthTimeout, func() {
		_ = c.ws.Close(websocket.StatusPolicyViolation, "no auth within the time limit")
	})
	typ, b, err := c.readText(ctx)
	if !timer.Stop() || err != nil {
		return false
	}
	null := json.RawMessage("null")
	if typ != websocket.MessageText {
		c.refuse(null, fs9.Errorf(fs9.EPROTO, "the first frame must be a JSON auth request"))
		return false
	}
	if b == nil {
		c.refuse(null, fs9.Errorf(fs9.EFBIG, "frame larger than %d bytes", c.s.cfg.MaxFrame))
		return false
	}
	req, err := decodeRequest(b)
	if err != nil {
		id := null
		if req != nil && validID(req.ID) {
			id = req.ID
		}
		c.refuse(id, err)
		return false
	}
	if req.Op != "auth" {
		c.refuse(req.ID, fs9.Errorf(fs9.EPROTO, "the first request must be auth"))
		return false
	}
	id, err := c.s.cfg.Auth.Authenticate(ctx, req.Username, req.Password)
	if err != nil {
		if code := fs9.ErrorCode(err); code != fs9.EAUTH && code != fs9.EACCES && code != fs9.EAGAIN {
			c.s.log.Error("fs9 authentication failed", logkey.Err, err)
			err = fs9.Errorf(fs9.EAUTH, "authentication failed")
		}
		c.refuse(req.ID, err)
		return false
	}
	if !fileRoles[id.Role] {
		c.refuse(req.ID, fs9.Errorf(fs9.EACCES, "role %s has no file access", id.Role))
		return false
	}
	if !c.s.acquireSlot(id.Database) {
		c.refuse(req.ID, fs9.Errorf(fs9.EACCES, "too many fs9 connections to this database (limit %d)", c.s.cfg.MaxConnsPerDB))
		return false
	}
	sess, err := c.s.cfg.Backend.Open(c.ctx, id)
	if err != nil {
		c.s.releaseSlot(id.Database)
		c.s.log.Error("fs9 open database", logkey.DB, id.Database, logkey.Err, err)
		c.refuse(req.ID, fs9.Errorf(fs9.EIO, "database is unavailable; try again"))
		return false
	}
	c.id, c.sess, c.store = id, sess, store.New(sess.Pool())
	c.ok(req.ID, map[string]any{"user": id.Role, "tenant": id.Database, "keyspace": id.Database,
		"capabilities": []string{"watch", "batch_write_atomic"}})
	return true
}

// readText reads one frame: a text frame whole (nil when over MaxFrame, the
// rest discarded), a binary frame's bytes.
func (c *conn) readText(ctx context.Context) (websocket.MessageType, []byte, error) {
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return 0, nil, err
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(c.s.cfg.MaxFrame)+1))
	if err != nil {
		return 0, nil, err
	}
	if len(b) > c.s.cfg.MaxFrame && typ == websocket.MessageText {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return 0, nil, err
		}
		return typ, nil, nil
	}
	if typ == websocket.MessageBinary {
		rest, err := io.ReadAll(r)
		if err != nil {
			return 0, nil, err
		}
		b = append(b, rest...)
	}
	return typ, b, nil
}

func (c *conn) readFrame() error {
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.IdleTimeout)
	defer cancel()
	typ, r, err := c.ws.Reader(ctx)
	if err != nil {
		return err
	}
	if typ == websocket.MessageBinary {
		return c.binaryFrame(ctx, r)
	}
	b, err := io.ReadAll(io.LimitReader(r, int64(c.s.cfg.MaxFrame)+1))
	if err != nil {
		return err
	}
	if len(b) > c.s.cfg.MaxFrame {
		if _, err := io.Copy(io.Discard, r); err != nil {
			return err
		}
		c.fail(peekID(b), fs9.Errorf(fs9.EFBIG, "JSON frame larger than %d bytes", c.s.cfg.MaxFrame))
		return nil
	}
	req, err := decodeRequest(b)
	if err != nil {
		id := json.RawMessage("null")
		if req != nil && validID(req.ID) {
			id = req.ID
		}
		c.fail(id, err)
		return nil
	}
	if req.Stream != "" && req.Op == "" {
		c.streamControl(req)
		return nil
	}
	if req.Op == "auth" {
		c.fail(req.ID, fs9.Errorf(fs9.EPROTO, "already authenticated"))
		return nil
	}
	c.mu.Lock()
	if c.inFlight >= c.s.cfg.MaxInFlight {
		c.mu.Unlock()
		c.fail(req.ID, fs9.Errorf(fs9.EAGAIN, "more than %d requests in flight", c.s.cfg.MaxInFlight))
		return nil
	}
	c.inFlight++
	c.mu.Unlock()
	req.release = sync.OnceFunc(func() {
		c.mu.Lock()
		c.inFlight--
		c.mu.Unlock()
	})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer req.done()
		c.handle(req)
	}()
	return nil
}

// binaryFrame hands a frame's bytes to the upload it belongs to; frames of
// unknown (ended, failed) streams are dropped.
func (c *conn) binaryFrame(ctx context.Context, r io.Reader) error {
	var hdr [8]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return nil // too short to name a stream
		}
		return err
	}
	sid := binary.BigEndian.Uint64(hdr[:])
	c.mu.Lock()
	up := c.uploads[sid]
	c.mu.Unlock()
	var ahead [1]byte
	k := 0 // bytes in ahead
	for {
		// Buffers of a page each: the store takes whole pages as they are.
		buf := make([]byte, store.PageSize)
		copy(buf, ahead[:k])
		n, err := io.ReadFull(r, buf[k:])
		n += k
		if err == nil {
			// Full: a byte more tells whether the frame goes on, so a frame
			// of whole pages costs no last, empty buffer.
			k, err = io.ReadFull(r, ahead[:])
		}
		if n > 0 && up != nil {
			select {
			case up.data <- buf[:n]:
			case <-up.done:
				up = nil
			case <-ctx.Done():
				return ctx.Err()
			}
		}
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

func (c *conn) newStreamID() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.nextID++
	return c.nextID
}
