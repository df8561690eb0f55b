package worker

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"math"
	"time"

	"github.com/db9/db9/internal/functions/runtime"
)

// The two messages of every run, invoke and done, travel as compact
// binary frames instead of JSON: reflection-driven JSON encoding and
// decoding of them was most of the IPC's CPU on both sides of the pipe.
// The rarer messages (load, loaded, call, reply) stay JSON. A JSON frame
// always starts with '{', so the first byte tells the two apart.
const (
	binInvoke byte = 1
	binDone   byte = 2
)

// errBadFrame is a binary frame that does not decode: a bug or a worker
// writing garbage; either way the worker is not trusted further.
var errBadFrame = errors.New("malformed binary frame")

// appendBinary appends m's binary form to b; ok is false for a message
// type that travels as JSON.
func appendBinary(b []byte, m *message) ([]byte, bool) {
	switch m.Type {
	case msgInvoke:
		b = append(b, binInvoke)
		b = binary.AppendUvarint(b, uint64(max(m.TimeoutMS, 0)))
		b = binary.AppendUvarint(b, uint64(max(m.LogLimit, 0)))
		b = appendBytes(b, m.Input)
		b = binary.AppendUvarint(b, uint64(len(m.Secrets)))
		for k, v := range m.Secrets {
			b = appendString(appendString(b, k), v)
		}
		if m.Self == nil {
			b = append(b, 0)
		} else {
			b = append(b, 1)
			for _, s := range [...]string{m.Self.FunctionID, m.Self.VersionID, m.Self.RunID, m.Self.TriggerType} {
				b = appendString(b, s)
			}
		}
		return b, true
	case msgDone:
		b = append(b, binDone)
		b = binary.AppendVarint(b, m.CPUMS)
		b = append(b, boolByte(m.Broken))
		if m.Outcome == nil {
			return append(b, 0), true
		}
		o := m.Outcome
		b = append(b, 1)
		b = appendString(appendString(appendString(b, string(o.Status)), o.ResultJSON), o.Error)
		b = binary.AppendUvarint(b, uint64(len(o.Logs)))
		for _, l := range o.Logs {
			b = binary.AppendVarint(b, l.TS.UnixNano())
			b = appendString(appendString(b, l.Level), l.Message)
		}
		return b, true
	}
	return b, false
}

// decodeBinary decodes a frame appendBinary wrote. Strings are copied out
// of b, which the caller may reuse.
func decodeBinary(b []byte) (*message, error) {
	d := &decoder{b: b[1:]}
	m := &message{}
	switch b[0] {
	case binInvoke:
		m.Type = msgInvoke
		m.TimeoutMS = d.int()
		m.LogLimit = d.int()
		if in := d.bytes(); len(in) > 0 {
			m.Input = json.RawMessage(in)
		}
		if n := d.count(); n > 0 {
			m.Secrets = make(map[string]string, n)
			for range n {
				k := d.string()
				m.Secrets[k] = d.string()
			}
		}
		if d.byte() == 1 {
			m.Self = &runtime.Self{FunctionID: d.string(), VersionID: d.string(), RunID: d.string(), TriggerType: d.string()}
		}
	case binDone:
		m.Type = msgDone
		m.CPUMS = d.varint()
		m.Broken = d.byte() == 1
		if d.byte() == 1 {
			o := &runtime.Outcome{Status: runtime.Status(d.string()), ResultJSON: d.string(), Error: d.string()}
			if n := d.count(); n > 0 {
				o.Logs = make([]runtime.LogEntry, n)
				for i := range o.Logs {
					o.Logs[i] = runtime.LogEntry{TS: time.Unix(0, d.varint()).UTC(), Level: d.string(), Message: d.string()}
				}
			}
			m.Outcome = o
		}
	default:
		return nil, errBadFrame
	}
	if d.bad || len(d.b) != 0 {
		return nil, errBadFrame
	}
	return m, nil
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

func appendBytes(b, s []byte) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

func appendString(b []byte, s string) []byte {
	return append(binary.AppendUvarint(b, uint64(len(s))), s...)
}

// decoder reads a binary frame; past the first error every read returns
// a zero value and bad stays set.
type decoder struct {
	b   []byte
	bad bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.bad, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

// int is a non-negative int32 (a timeout in ms, a byte limit).
func (d *decoder) int() int {
	v := d.uvarint()
	if v > math.MaxInt32 {
		d.bad, d.b = true, nil
		return 0
	}
	return int(v)
}

// count is a number of items that follow, each at least one byte: more
// than the bytes left is a malformed frame, not an allocation.
func (d *decoder) count() int {
	v := d.uvarint()
	if v > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return 0
	}
	return int(v)
}

func (d *decoder) byte() byte {
	if len(d.b) == 0 {
		d.bad = true
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bytes() []byte {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return nil
	}
	s := make([]byte, n)
	copy(s, d.b)
	d.b = d.b[n:]
	return s
}

func (d *decoder) string() string {
	n := d.uvarint()
	if n > uint64(len(d.b)) {
		d.bad, d.b = true, nil
		return ""
	}
	s := string(d.b[:n])
	d.b = d.b[n:]
	return s
}
