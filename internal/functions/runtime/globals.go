package runtime

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/dop251/goja"
	"github.com/dop251/goja_nodejs/buffer"
	"github.com/dop251/goja_nodejs/require"
	"github.com/dop251/goja_nodejs/url"
	_ "github.com/dop251/goja_nodejs/util" // registers require("util")
)

//go:embed prelude.js
var preludeJS string

// builtinModules are all that require() gives: the bundle's own modules
// were bundled at deploy, and nothing here reaches files, processes or the
// environment.
var builtinModules = map[string]string{
	"buffer": "buffer", "node:buffer": "buffer",
	"url": "url", "node:url": "url",
	"util": "util", "node:util": "util",
}

// invocation is what natives need of the run in progress.
type invocation struct {
	ctx     context.Context
	gen     uint64
	host    Host
	self    Self
	secrets map[string]string
	// callCtx is what host calls run under, made at the first call (most
	// runs make none); Invoke cancels it when the run ends.
	callCtx context.Context
	cancel  context.CancelFunc
}

func (m *Module) installGlobals() error {
	vm := m.vm
	// No source loader reaches the file system: every file require fails.
	reg := require.NewRegistry(require.WithLoader(func(string) ([]byte, error) {
		return nil, require.ModuleFileDoesNotExistError
	}))
	reg.Enable(vm)
	buffer.Enable(vm)
	url.Enable(vm)
	g := vm.GlobalObject()
	set := func(name string, v any) {
		if err := g.Set(name, v); err != nil {
			panic(err)
		}
	}
	set("global", g)
	set("console", m.console.object())
	// goja_nodejs' own require stays reachable only through this filter.
	loadBuiltin, _ := goja.AssertFunction(g.Get("require"))
	set("require", func(name string) goja.Value {
		if mod, ok := builtinModules[name]; ok {
			v, err := loadBuiltin(goja.Undefined(), vm.ToValue(mod))
			if err != nil {
				panic(err)
			}
			return v
		}
		//lint:ignore ST1005 Node's own wording, which bundles match on
		e := vm.NewGoError(fmt.Errorf("Cannot find module '%s': functions may require only their bundle's modules and buffer, url, util", name))
		_ = e.Set("code", "MODULE_NOT_FOUND")
		panic(e)
	})
	m.installTimers(set)

	native := vm.NewObject()
	nset := func(name string, v any) { _ = native.Set(name, v) }
	nset("utf8Encode", func(s string) goja.Value { return vm.ToValue(vm.NewArrayBuffer([]byte(s))) })
	nset("utf8Decode", func(ab goja.ArrayBuffer, fatal bool) string {
		b := ab.Bytes()
		if fatal && !utf8.Valid(b) {
			panic(vm.NewTypeError("The encoded data was not valid for encoding utf-8"))
		}
		return strings.ToValidUTF8(string(b), "\uFFFD")
	})
	nset("base64Encode", func(ab goja.ArrayBuffer) string { return base64.StdEncoding.EncodeToString(ab.Bytes()) })
	nset("base64Decode", func(s string) goja.Value {
		b, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			panic(vm.NewTypeError("invalid base64"))
		}
		return vm.ToValue(vm.NewArrayBuffer(b))
	})
	nset("atob", func(s string) string {
		b, err := base64.StdEncoding.DecodeString(strings.Map(dropSpace, s))
		if err != nil {
			if b, err = base64.RawStdEncoding.DecodeString(strings.Map(dropSpace, s)); err != nil {
				panic(vm.NewGoError(errors.New("atob: the string is not correctly encoded")))
			}
		}
		r := make([]rune, len(b)) // each byte is one Latin-1 character
		for i, c := range b {
			r[i] = rune(c)
		}
		return string(r)
	})
	nset("btoa", func(s string) string {
		b := make([]byte, 0, len(s))
		for _, r := range s {
			if r > 0xFF {
				panic(vm.NewGoError(errors.New("btoa: the string contains characters outside of Latin-1")))
			}
			b = append(b, byte(r))
		}
		return base64.StdEncoding.EncodeToString(b)
	})
	nset("randomUUID", func() string {
		var u [16]byte
		_, _ = rand.Read(u[:])
		u[6] = u[6]&0x0f | 0x40
		u[8] = u[8]&0x3f | 0x80
		return fmt.Sprintf("%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:])
	})
	nset("randomBytes", func(n int) goja.Value {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return vm.ToValue(vm.NewArrayBuffer(b))
	})
	nset("call", m.nativeCall)
	nset("self", func(i int) string {
		if m.cur == nil {
			return ""
		}
		s := m.cur.self
		return [...]string{s.FunctionID, s.VersionID, s.RunID, s.TriggerType}[i&3]
	})
	nset("secret", func(name string) goja.Value {
		if m.cur != nil {
			if v, ok := m.cur.secrets[name]; ok {
				return vm.ToValue(v)
			}
		}
		return goja.Undefined()
	})

	v, err := vm.RunString(preludeJS)
	if err != nil {
		return fmt.Errorf("run prelude: %w", err)
	}
	fn, _ := goja.AssertFunction(v)
	api, err := fn(goja.Undefined(), native, g)
	if err != nil {
		return fmt.Errorf("run prelude: %w", err)
	}
	m.native = api.ToObject(vm)
	return nil
}

func dropSpace(r rune) rune {
	switch r {
	case ' ', '\t', '\n', '\f', '\r':
		return -1
	}
	return r
}

// nativeCall starts a host call and returns its promise; the result (a
// JSON string) or the error comes back through the event loop.
func (m *Module) nativeCall(op string, args string) goja.Value {
	vm := m.vm
	inv := m.cur
	if inv == nil {
		panic(vm.NewGoError(errors.New("ctx is only usable while the handler runs")))
	}
	if inv.cancel == nil {
		inv.callCtx, inv.cancel = context.WithCancel(inv.ctx)
	}
	callCtx := inv.callCtx
	p, resolve, reject := vm.NewPromise()
	m.loop.pending++
	go func() {
		res, err := inv.host.Call(callCtx, op, json.RawMessage(args))
		m.loop.post(inv.gen, func() {
			m.loop.pending--
			if err != nil {
				var ce *CallError
				if !errors.As(err, &ce) {
					ce = &CallError{Code: "EIO", Message: err.Error()}
				}
				e := vm.NewGoError(errors.New(ce.Message))
				_ = e.Set("code", ce.Code)
				_ = reject(e)
				return
			}
			_ = resolve(string(res))
		})
	}()
	return vm.ToValue(p)
}

// makeCtx makes the run the one ctx reads and returns the handler's ctx:
// one frozen object per worker (made at the first run), whose self and
// secrets read the run in progress, not a new object graph per run.
func (m *Module) makeCtx(ctx context.Context, gen uint64, c Call) (goja.Value, error) {
	m.cur = &invocation{ctx: ctx, gen: gen, host: c.Host, self: c.Self, secrets: c.Secrets}
	if c.Host == nil {
		m.cur.host = noHost{}
	}
	if m.ctxObj == nil {
		mk, _ := goja.AssertFunction(m.native.Get("makeCtx"))
		v, err := mk(goja.Undefined())
		if err != nil {
			return nil, err
		}
		m.ctxObj = v
	}
	return m.ctxObj, nil
}

type noHost struct{}

func (noHost) Call(context.Context, string, json.RawMessage) (json.RawMessage, error) {
	return nil, &CallError{Code: "ENOSYS", Message: "no host is attached to this run"}
}

func (m *Module) installTimers(set func(string, any)) {
	vm := m.vm
	arm := func(repeat bool) func(goja.FunctionCall) goja.Value {
		return func(call goja.FunctionCall) goja.Value {
			fn, ok := goja.AssertFunction(call.Argument(0))
			if !ok {
				panic(vm.NewTypeError("the callback must be a function"))
			}
			delay := time.Duration(call.Argument(1).ToFloat() * float64(time.Millisecond))
			var args []goja.Value
			if len(call.Arguments) > 2 {
				args = append(args, call.Arguments[2:]...)
			}
			return vm.ToValue(m.loop.setTimer(fn, delay, args, repeat, m.fireTimer))
		}
	}
	clear := func(id goja.Value) {
		if id != nil && !goja.IsUndefined(id) && !goja.IsNull(id) {
			m.loop.clearTimer(id.ToInteger())
		}
	}
	set("setTimeout", arm(false))
	set("setInterval", arm(true))
	set("setImmediate", func(call goja.FunctionCall) goja.Value {
		fn, ok := goja.AssertFunction(call.Argument(0))
		if !ok {
			panic(vm.NewTypeError("the callback must be a function"))
		}
		var args []goja.Value
		if len(call.Arguments) > 1 {
			args = append(args, call.Arguments[1:]...)
		}
		return vm.ToValue(m.loop.setTimer(fn, 0, args, false, m.fireTimer))
	})
	set("clearTimeout", clear)
	set("clearInterval", clear)
	set("clearImmediate", clear)
	set("queueMicrotask", func(fn goja.Callable) {
		p, resolve, _ := vm.NewPromise()
		then, _ := goja.AssertFunction(vm.ToValue(p).ToObject(vm).Get("then"))
		_, _ = then(vm.ToValue(p), vm.ToValue(func() { _, _ = fn(goja.Undefined()) }))
		_ = resolve(goja.Undefined())
	})
}

// fireTimer runs on the loop goroutine when timer id is due.
func (m *Module) fireTimer(id int64) {
	t, ok := m.loop.timers[id]
	if !ok {
		return // cleared after it fired
	}
	if t.interval > 0 {
		gen := m.loop.currentGen()
		t.t = time.AfterFunc(t.interval, func() { m.loop.post(gen, func() { m.fireTimer(id) }) })
	} else {
		delete(m.loop.timers, id)
		m.loop.pending--
	}
	if _, err := t.fn(goja.Undefined(), t.args...); err != nil {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			return
		}
		if m.console.uncaught == nil {
			m.console.uncaught = thrown(err)
		}
	}
}
