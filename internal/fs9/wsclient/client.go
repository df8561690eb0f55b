// Package wsclient is a Go client of fs9's WebSocket protocol (FS9.md),
// for the CLI and tests: requests matched to answers by id, streamed reads
// and writes of large files, watch pushes.
package wsclient

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/coder/websocket"

	"github.com/db9/db9/internal/fs9"
)

// Client is one authenticated connection. Calls may run concurrently (the
// server takes up to 10 in flight).
type Client struct {
	ws     *websocket.Conn
	seq    atomic.Int64
	wmu    sync.Mutex // one frame written at a time
	mu     sync.Mutex
	waits  map[string]*waiter // by request id
	strm   map[uint64]*waiter // streamed reads by stream id
	pushes chan json.RawMessage
	done   chan struct{}
	err    error // why the connection ended, after done
	// Info is the auth answer's data.
	Info AuthInfo
}

// AuthInfo is what a successful auth answers.
type AuthInfo struct {
	User         string   `json:"user"`
	Tenant       string   `json:"tenant"`
	Keyspace     string   `json:"keyspace"`
	Capabilities []string `json:"capabilities"`
}

// waiter receives a request's frames until the request is over (gone).
type waiter struct {
	ch   chan frame
	gone chan struct{}
}

// deliver hands f over unless the request is over.
func (w *waiter) deliver(f frame) {
	select {
	case w.ch <- f:
	case <-w.gone:
	}
}

// frame is an answer (text) or a chunk of a streamed read (binary).
type frame struct {
	resp *response
	bin  []byte
}

type response struct {
	ID    json.RawMessage `json:"id"`
	OK    bool            `json:"ok"`
	Data  json.RawMessage `json:"data"`
	Error *struct {
		Code    fs9.Code `json:"code"`
		Message string   `json:"message"`
	} `json:"error"`
	Push  string `json:"push"`
	Ready bool   `json:"ready"`
}

// Dial connects to url and authenticates; a refusal is an *fs9.Error
// (EAUTH, EACCES, ...).
func Dial(ctx context.Context, url, username, password string) (*Client, error) {
	ws, _, err := websocket.Dial(ctx, url, nil)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", url, err)
	}
	ws.SetReadLimit(-1)
	c := &Client{ws: ws, waits: map[string]*waiter{}, strm: map[uint64]*waiter{},
		pushes: make(chan json.RawMessage, 1024), done: make(chan struct{})}
	go c.loop()
	data, err := c.Call(ctx, "auth", map[string]any{"username": username, "password": password})
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := json.Unmarshal(data, &c.Info); err != nil {
		c.Close()
		return nil, fmt.Errorf("decode auth answer: %w", err)
	}
	return c, nil
}

// Close ends the connection.
func (c *Client) Close() error {
	err := c.ws.Close(websocket.StatusNormalClosure, "")
	<-c.done
	return err
}

// Pushes delivers watch pushes (the whole JSON frame); frames beyond its
// buffer are dropped rather than stall answers.
// Pushes delivers the server's push frames (watch events) as they come;
// when nobody reads, frames beyond its buffer are dropped.
func (c *Client) Pushes() <-chan json.RawMessage { return c.pushes }

// binaryFrameSize is what a binary frame is read into first: a streamed
// read's chunk (65536 bytes, FS9.md) with its stream id. websocket's own
// Read grows its buffer from 512 bytes, copying each chunk several times.
const binaryFrameSize = 8 + 65536

// readMessage reads one whole message of ws.
func readMessage(ws *websocket.Conn) (websocket.MessageType, []byte, error) {
	typ, r, err := ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	if typ != websocket.MessageBinary {
		b, err := io.ReadAll(r)
		return typ, b, err
	}
	b := make([]byte, binaryFrameSize)
	n := 0
	for {
		k, err := io.ReadFull(r, b[n:])
		n += k
		if err == nil {
			// Full: a byte more tells whether the frame goes on.
			var one [1]byte
			if k, err = io.ReadFull(r, one[:]); k == 1 {
				b = append(b, one[0])
				n++
				b = b[:cap(b)]
				continue
			}
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			return typ, b[:n], nil
		}
		return 0, nil, err
	}
}

// loop reads every frame and hands it to its waiter.
func (c *Client) loop() {
	defer close(c.done)
	for {
		typ, b, err := readMessage(c.ws)
		if err != nil {
			c.mu.Lock()
			c.err = err
			c.mu.Unlock()
			return
		}
		if typ == websocket.MessageBinary {
			if len(b) < 8 {
				continue
			}
			c.mu.Lock()
			ch := c.strm[binary.BigEndian.Uint64(b)]
			c.mu.Unlock()
			if ch != nil {
				ch.deliver(frame{bin: b[8:]})
			}
			continue
		}
		var r response
		if json.Unmarshal(b, &r) != nil {
			continue
		}
		if r.Push != "" {
			select {
			case c.pushes <- json.RawMessage(b):
			default:
			}
			continue
		}
		c.mu.Lock()
		ch := c.waits[idKey(r.ID)]
		if ch != nil && r.OK {
			// A streamed read's chunks follow at once: route them
			// before reading the next frame.
			var s struct {
				Streaming bool   `json:"streaming"`
				StreamID  uint64 `json:"stream_id"`
			}
			if json.Unmarshal(r.Data, &s) == nil && s.Streaming {
				c.strm[s.StreamID] = ch
			}
		}
		c.mu.Unlock()
		if ch != nil {
			ch.deliver(frame{resp: &r})
		}
	}
}

func idKey(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	return string(raw)
}

// open registers a new request id and its channel.
func (c *Client) open() (string, chan frame) {
	id := strconv.FormatInt(c.seq.Add(1), 10)
	w := &waiter{ch: make(chan frame, 64), gone: make(chan struct{})}
	c.mu.Lock()
	c.waits[id] = w
	c.mu.Unlock()
	return id, w.ch
}

func (c *Client) closeReq(id string, streamID uint64) {
	c.mu.Lock()
	if w := c.waits[id]; w != nil {
		close(w.gone)
	}
	delete(c.waits, id)
	delete(c.strm, streamID)
	c.mu.Unlock()
}

func (c *Client) send(ctx context.Context, typ websocket.MessageType, b []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	return c.ws.Write(ctx, typ, b)
}

func (c *Client) sendJSON(ctx context.Context, id, op string, args map[string]any) error {
	m := make(map[string]any, len(args)+2)
	for k, v := range args {
		m[k] = v
	}
	m["id"] = id
	if op != "" {
		m["op"] = op
	}
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return c.send(ctx, websocket.MessageText, b)
}

// next waits for the next frame of a request.
func (c *Client) next(ctx context.Context, ch chan frame) (frame, error) {
	select {
	case f := <-ch:
		return f, nil
	case <-ctx.Done():
		return frame{}, ctx.Err()
	case <-c.done:
		select { // a frame that arrived before the end
		case f := <-ch:
			return f, nil
		default:
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return frame{}, fmt.Errorf("connection closed: %w", c.err)
	}
}

// answer turns a response into its data or an *fs9.Error.
func answer(r *response) (json.RawMessage, error) {
	if r.Error != nil {
		return nil, &fs9.Error{Code: r.Error.Code, Message: r.Error.Message}
	}
	if !r.OK && !r.Ready {
		return nil, errors.New("answer neither ok nor an error")
	}
	return r.Data, nil
}

// Call sends one request and returns its answer's data; a refusal is an
// *fs9.Error.
func (c *Client) Call(ctx context.Context, op string, args map[string]any) (json.RawMessage, error) {
	id, ch := c.open()
	defer c.closeReq(id, 0)
	if err := c.sendJSON(ctx, id, op, args); err != nil {
		return nil, fmt.Errorf("send %s: %w", op, err)
	}
	f, err := c.next(ctx, ch)
	if err != nil {
		return nil, err
	}
	if f.resp == nil {
		return nil, errors.New("binary frame where an answer was expected")
	}
	return answer(f.resp)
}
