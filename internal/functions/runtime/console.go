package runtime

import (
	"bytes"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// LogEntry is one line of a run's logs, as GET .../runs/{id}/logs shows it.
type LogEntry struct {
	TS      time.Time `json:"ts"`
	Level   string    `json:"level"` // debug, info, warn, error
	Message string    `json:"message"`
}

// TruncationMarker is the message of the last entry of a run whose logs
// reached the limit.
const TruncationMarker = "[db9: log output truncated: the run reached its log limit]"

// console captures console.* of the current run, bounded in bytes of
// messages; past the bound it appends the marker once and drops the rest.
type console struct {
	vm        *goja.Runtime
	entries   []LogEntry
	size      int
	limit     int
	truncated bool
	// uncaught is an exception thrown by a timer callback: it fails the
	// run, as an uncaught exception ends a Node process.
	uncaught any
}

func newConsole(vm *goja.Runtime) *console { return &console{vm: vm} }

func (c *console) begin(limit int) {
	c.entries, c.size, c.limit, c.truncated, c.uncaught = nil, 0, limit, false, nil
}

func (c *console) end() []LogEntry {
	e := c.entries
	c.entries = nil
	return e
}

func (c *console) add(level, msg string) {
	if c.limit == 0 {
		// top-level code of Load: no run to log into
		return
	}
	if c.truncated {
		return
	}
	if c.size+len(msg) > c.limit {
		c.truncated = true
		if rest := c.limit - c.size; rest > 0 {
			msg = validPrefix(msg, rest)
			c.entries = append(c.entries, LogEntry{TS: time.Now().UTC(), Level: level, Message: msg})
		}
		c.entries = append(c.entries, LogEntry{TS: time.Now().UTC(), Level: "warn", Message: TruncationMarker})
		return
	}
	c.size += len(msg)
	c.entries = append(c.entries, LogEntry{TS: time.Now().UTC(), Level: level, Message: msg})
}

// validPrefix cuts s to at most n bytes without splitting a UTF-8 sequence.
func validPrefix(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	for len(s) > 0 && !utf8Start(s[len(s)-1]) {
		s = s[:len(s)-1]
	}
	if len(s) > 0 && s[len(s)-1] >= 0x80 {
		s = s[:len(s)-1]
	}
	return s
}

func utf8Start(b byte) bool { return b < 0x80 || b >= 0xC0 }

func (c *console) object() *goja.Object {
	o := c.vm.NewObject()
	for method, level := range map[string]string{
		"log": "info", "info": "info", "warn": "warn", "error": "error", "debug": "debug", "trace": "debug",
	} {
		_ = o.Set(method, func(call goja.FunctionCall) goja.Value {
			c.add(level, c.format(call.Arguments))
			return goja.Undefined()
		})
	}
	return o
}

// format joins arguments like Node: a leading format string with %s %d %i
// %f %j %o %O %%, strings as they are, errors by their stack, other values
// as JSON (their String() when JSON fails or says nothing).
func (c *console) format(args []goja.Value) string {
	var b bytes.Buffer
	rest := args
	if len(args) > 0 {
		if s, ok := args[0].Export().(string); ok && strings.Contains(s, "%") {
			rest = c.printf(&b, s, args[1:])
		} else {
			b.WriteString(c.show(args[0]))
			rest = args[1:]
		}
	}
	for _, a := range rest {
		b.WriteByte(' ')
		b.WriteString(c.show(a))
		if b.Len() > c.limit+1 {
			break // the rest would be truncated anyway
		}
	}
	return b.String()
}

func (c *console) printf(b *bytes.Buffer, f string, args []goja.Value) []goja.Value {
	for i := 0; i < len(f); i++ {
		if f[i] != '%' || i+1 == len(f) {
			b.WriteByte(f[i])
			continue
		}
		verb := f[i+1]
		if verb == '%' {
			b.WriteByte('%')
			i++
			continue
		}
		if len(args) == 0 || !strings.ContainsRune("sdifjoO", rune(verb)) {
			b.WriteByte('%')
			continue
		}
		a := args[0]
		args = args[1:]
		i++
		switch verb {
		case 's':
			if _, isObj := a.(*goja.Object); isObj {
				b.WriteString(c.show(a))
			} else {
				b.WriteString(a.String())
			}
		case 'd', 'i':
			n := a.ToFloat()
			if verb == 'i' {
				n = float64(int64(n))
			}
			b.WriteString(c.vm.ToValue(n).String())
		case 'f':
			b.WriteString(c.vm.ToValue(a.ToFloat()).String())
		default:
			b.WriteString(c.show(a))
		}
	}
	return args
}

func (c *console) show(v goja.Value) string {
	o, ok := v.(*goja.Object)
	if !ok {
		return v.String()
	}
	if _, isFn := goja.AssertFunction(v); isFn {
		return "[Function]"
	}
	if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) && o.Get("message") != nil {
		return st.String()
	}
	stringify, _ := goja.AssertFunction(c.vm.Get("JSON").ToObject(c.vm).Get("stringify"))
	r, err := stringify(goja.Undefined(), v)
	if err != nil || goja.IsUndefined(r) {
		return v.String()
	}
	s := r.String()
	if s == "" {
		return v.String()
	}
	return s
}
