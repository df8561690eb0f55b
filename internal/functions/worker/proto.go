package worker

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/db9/db9/internal/functions/runtime"
)

// maxFrame bounds one IPC message: a 10 MiB result or fs9 file in base64,
// plus logs, fits.
const maxFrame = 64 << 20

// Message types. Parent → worker: load, invoke, reply. Worker → parent:
// loaded, call, done.
const (
	msgLoad   = "load"
	msgInvoke = "invoke"
	msgReply  = "reply"
	msgLoaded = "loaded"
	msgCall   = "call"
	msgDone   = "done"
)

// message is every IPC message; Type says which fields matter.
type message struct {
	Type string `json:"t"`

	// load
	Script     string `json:"script,omitempty"`
	Export     string `json:"export,omitempty"`
	MemoryMB   int    `json:"memory_mb,omitempty"`
	CPUSeconds int    `json:"cpu_seconds,omitempty"`

	// invoke
	Input     json.RawMessage   `json:"input,omitempty"`
	Secrets   map[string]string `json:"secrets,omitempty"`
	Self      *runtime.Self     `json:"self,omitempty"`
	TimeoutMS int               `json:"timeout_ms,omitempty"`
	LogLimit  int               `json:"log_limit,omitempty"`

	// call, reply
	ID     uint64             `json:"id,omitempty"`
	Op     string             `json:"op,omitempty"`
	Args   json.RawMessage    `json:"args,omitempty"`
	Result json.RawMessage    `json:"result,omitempty"`
	Error  *runtime.CallError `json:"error,omitempty"`

	// loaded, done
	Err     string           `json:"err,omitempty"`
	Outcome *runtime.Outcome `json:"outcome,omitempty"`
	CPUMS   int64            `json:"cpu_ms,omitempty"` // the worker's CPU time so far
	Broken  bool             `json:"broken,omitempty"` // the worker exits after this
}

// conn frames messages as a 4-byte big-endian length and the message:
// binary for invoke and done (binframe.go), JSON for the rest.
type conn struct {
	r  *bufio.Reader
	mu sync.Mutex // serializes writes
	w  io.Writer
}

func newConn(r io.Reader, w io.Writer) *conn {
	return &conn{r: bufio.NewReaderSize(r, 64<<10), w: w}
}

func (c *conn) send(m *message) error {
	// The frame is built in one buffer, its length filled in last: one
	// write, no copy.
	frame, ok := appendBinary(make([]byte, 4, 256), m)
	if !ok {
		var err error
		if frame, err = appendJSON(frame, m); err != nil {
			return fmt.Errorf("encode %s message: %w", m.Type, err)
		}
	}
	n := len(frame) - 4
	if n > maxFrame {
		return fmt.Errorf("encode %s message: %d bytes, more than %d", m.Type, n, maxFrame)
	}
	binary.BigEndian.PutUint32(frame, uint32(n))
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := c.w.Write(frame); err != nil {
		return fmt.Errorf("send %s message: %w", m.Type, err)
	}
	return nil
}

func appendJSON(b []byte, m *message) ([]byte, error) {
	j, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	return append(b, j...), nil
}

func (c *conn) recv() (*message, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.r, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:])
	if n > maxFrame {
		return nil, fmt.Errorf("receive message: %d bytes, more than %d", n, maxFrame)
	}
	if n == 0 {
		return nil, fmt.Errorf("receive message: %w", errBadFrame)
	}
	b := make([]byte, n)
	if _, err := io.ReadFull(c.r, b); err != nil {
		return nil, fmt.Errorf("receive message: %w", err)
	}
	if b[0] != '{' {
		m, err := decodeBinary(b)
		if err != nil {
			return nil, fmt.Errorf("decode message: %w", err)
		}
		return m, nil
	}
	m := &message{}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("decode message: %w", err)
	}
	return m, nil
}
