package runtime

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"sync"
	"time"

	"github.com/dop251/goja"

	"github.com/db9/db9/internal/functions/bundle"
)

// Status is how a run ended, as in the run object of API.md.
type Status string

// Statuses of a finished run.
const (
	StatusSucceeded Status = "succeeded"
	StatusFailed    Status = "failed"
	StatusTimedOut  Status = "timed_out"
)

// Limits of what one run may hand back.
const (
	DefaultLogLimit = 1 << 20  // bytes of log messages per run
	MaxResult       = 10 << 20 // bytes of result_json
	maxCallStack    = 5000     // JavaScript frames, about Node's default depth
)

// ErrMemory is the Interrupt reason the worker uses when the process
// grows past its memory limit.
var ErrMemory = errors.New("memory limit exceeded")

// Host runs what a handler asks of the outside world: ctx.db, ctx.fs9 and
// fetch. The op names and argument shapes are those of package hostcall.
// Call is called on its own goroutine, several at once, and must return
// when ctx ends.
type Host interface {
	Call(ctx context.Context, op string, args json.RawMessage) (json.RawMessage, error)
}

// CallError is an error a Host reports to the handler: the JavaScript
// Error gets Message and a code property (a SQLSTATE, ENOENT, EACCES, ...).
type CallError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (e *CallError) Error() string { return e.Code + ": " + e.Message }

// Self is ctx.self.
type Self struct {
	FunctionID  string `json:"functionId"`
	VersionID   string `json:"versionId"`
	RunID       string `json:"runId"`
	TriggerType string `json:"triggerType"` // "invoke" or "cron"
}

// Call is one invocation of the handler.
type Call struct {
	Input    json.RawMessage   // JSON; empty means null
	Secrets  map[string]string // the bound secrets, by name
	Self     Self
	Host     Host
	LogLimit int // bytes of log messages; 0 means DefaultLogLimit
	// Timeout, when positive, ends the run as timed_out after it, as a
	// deadline of ctx would: the Module's one timer, re-armed per run, is
	// cheaper than a context with a deadline per run.
	Timeout time.Duration
}

// Outcome is how one invocation ended.
type Outcome struct {
	Status     Status
	ResultJSON string // the handler's value as JSON, when Status is succeeded
	Error      string // why it failed or timed out
	Logs       []LogEntry
}

// Module is a loaded bundle in its own VM. Invoke runs one call at a time;
// Interrupt may be called from any goroutine.
type Module struct {
	vm      *goja.Runtime
	loop    *loop
	handler goja.Callable
	native  *goja.Object // the prelude's API: makeCtx, ...
	ctxObj  goja.Value   // the handler's ctx, made at the first run
	// JSON.parse and JSON.stringify as they were before the customer's
	// code ran: each input is parsed, not compiled as a program.
	parse, stringify goja.Callable
	console          *console
	cur              *invocation // the run in progress; loop goroutine only

	deadline *time.Timer // Call.Timeout; made at the first run that has one

	mu          sync.Mutex
	interrupted error         // first Interrupt reason; the VM is then unusable
	stop        chan struct{} // closed by Interrupt
}

// Load compiles a built script and runs its top level, which must leave the
// export named export as a function. An error here is the customer's
// (syntax, a throwing top level, no such export) unless it wraps ctx's
// error or the Interrupt reason.
func Load(ctx context.Context, script, export string) (*Module, error) {
	prog, err := goja.Compile("bundle.js", bundle.Wrap(script), false)
	if err != nil {
		return nil, fmt.Errorf("compile bundle: %w", err)
	}
	m := &Module{vm: goja.New(), loop: newLoop(), stop: make(chan struct{})}
	m.vm.SetMaxCallStackSize(maxCallStack)
	m.console = newConsole(m.vm)
	if err := m.installGlobals(); err != nil {
		return nil, err
	}
	jsonObj := m.vm.Get("JSON").ToObject(m.vm)
	m.parse, _ = goja.AssertFunction(jsonObj.Get("parse"))
	m.stringify, _ = goja.AssertFunction(jsonObj.Get("stringify"))
	done := m.watch(ctx)
	defer done()
	mod := m.vm.NewObject()
	err = func() error {
		v, err := m.vm.RunProgram(prog)
		if err != nil {
			return err
		}
		fn, _ := goja.AssertFunction(v)
		exports := m.vm.NewObject()
		_ = mod.Set("exports", exports)
		_, err = fn(goja.Undefined(), mod, exports, m.vm.Get("require"))
		return err
	}()
	if err := m.interruptErr(ctx); err != nil {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("load bundle: %s", describe(thrown(err)))
	}
	exp := mod.Get("exports")
	h, ok := lookupExport(m.vm, exp, export)
	if !ok {
		return nil, fmt.Errorf("load bundle: the module does not export a function %q", export)
	}
	m.handler = h
	// Timers the top level armed belong to no run.
	m.loop.reset()
	return m, nil
}

// lookupExport finds exports[name], or exports.default[name] for an ESM
// default export object.
func lookupExport(vm *goja.Runtime, exp goja.Value, name string) (goja.Callable, bool) {
	if goja.IsUndefined(exp) || goja.IsNull(exp) {
		return nil, false
	}
	o := exp.ToObject(vm)
	if fn, ok := goja.AssertFunction(o.Get(name)); ok {
		return fn, true
	}
	if d := o.Get("default"); d != nil && !goja.IsUndefined(d) && !goja.IsNull(d) {
		if fn, ok := goja.AssertFunction(d.ToObject(vm).Get(name)); ok {
			return fn, true
		}
	}
	return nil, false
}

// Interrupt stops the running JavaScript with reason. The Module is
// unusable afterwards: its worker must exit.
func (m *Module) Interrupt(reason error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.interrupted != nil {
		return
	}
	m.interrupted = reason
	close(m.stop)
	m.vm.Interrupt(reason)
}

// Broken reports whether the Module was interrupted and must be discarded.
func (m *Module) Broken() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.interrupted != nil
}

// watch interrupts the VM when ctx ends; the returned func stops watching.
func (m *Module) watch(ctx context.Context) func() {
	stop := context.AfterFunc(ctx, func() { m.Interrupt(ctx.Err()) })
	return func() { stop() }
}

func (m *Module) interruptErr(context.Context) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.interrupted
}

// Invoke runs the handler once and waits for its promise to settle, for
// ctx to end (timed_out) or for an Interrupt (failed).
func (m *Module) Invoke(ctx context.Context, c Call) Outcome {
	if m.Broken() {
		return Outcome{Status: StatusFailed, Error: "runtime: the worker was interrupted"}
	}
	limit := c.LogLimit
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	if c.Timeout > 0 {
		if m.deadline == nil {
			m.deadline = time.AfterFunc(time.Hour, func() { m.Interrupt(context.DeadlineExceeded) })
		}
		m.deadline.Reset(c.Timeout)
	}
	m.console.begin(limit)
	out := m.invoke(ctx, c)
	if c.Timeout > 0 {
		m.deadline.Stop()
	}
	if m.cur != nil && m.cur.cancel != nil {
		m.cur.cancel() // the run's host calls end with it
	}
	m.cur = nil
	out.Logs = m.console.end()
	m.loop.reset()
	return out
}

func (m *Module) invoke(ctx context.Context, c Call) Outcome {
	if ctx.Done() != nil {
		done := m.watch(ctx)
		defer done()
	}
	gen := m.loop.currentGen()
	input := bytes.TrimSpace(c.Input)
	isNull := len(input) == 0 || string(input) == "null"
	if !isNull && !json.Valid(input) {
		return Outcome{Status: StatusFailed, Error: "the input is not JSON"}
	}
	result, err := func() (goja.Value, error) {
		in := goja.Null()
		if !isNull {
			var err error
			if in, err = m.parse(goja.Undefined(), m.vm.ToValue(string(input))); err != nil {
				return nil, err
			}
		}
		cx, err := m.makeCtx(ctx, gen, c)
		if err != nil {
			return nil, err
		}
		return m.handler(goja.Undefined(), in, cx)
	}()
	if out, stopped := m.stopped(); stopped {
		return out
	}
	if err != nil {
		return failed(thrown(err))
	}
	p, isPromise := asPromise(result)
	for isPromise && p.State() == goja.PromiseStatePending {
		if m.loop.pending == 0 {
			return Outcome{Status: StatusFailed, Error: "the handler's promise never settles: nothing it awaits is still pending"}
		}
		select {
		case <-m.loop.wake:
		case <-m.stop:
		}
		if out, stopped := m.stopped(); stopped {
			return out
		}
		for _, j := range m.loop.take() {
			if j.gen != gen {
				continue
			}
			j.fn()
			if out, stopped := m.stopped(); stopped {
				return out
			}
			if err := m.console.uncaught; err != nil {
				m.console.uncaught = nil
				return failed(err)
			}
		}
	}
	if isPromise {
		if p.State() == goja.PromiseStateRejected {
			return failed(p.Result())
		}
		result = p.Result()
	}
	return m.encodeResult(result)
}

var promiseType = reflect.TypeOf((*goja.Promise)(nil))

// asPromise is v's promise, if it is one. ExportType first: Export of a
// plain object copies all of it into Go maps.
func asPromise(v goja.Value) (*goja.Promise, bool) {
	o, ok := v.(*goja.Object)
	if !ok || o.ExportType() != promiseType {
		return nil, false
	}
	p, ok := o.Export().(*goja.Promise)
	return p, ok
}

// stopped turns an Interrupt into the run's outcome.
func (m *Module) stopped() (Outcome, bool) {
	m.mu.Lock()
	reason := m.interrupted
	m.mu.Unlock()
	switch {
	case reason == nil:
		return Outcome{}, false
	case errors.Is(reason, context.DeadlineExceeded):
		return Outcome{Status: StatusTimedOut, Error: "the run exceeded its timeout"}, true
	case errors.Is(reason, ErrMemory):
		return Outcome{Status: StatusFailed, Error: reason.Error()}, true
	default:
		return Outcome{Status: StatusFailed, Error: "the run was stopped: " + reason.Error()}, true
	}
}

func (m *Module) encodeResult(v goja.Value) Outcome {
	if v == nil || goja.IsUndefined(v) {
		return Outcome{Status: StatusSucceeded, ResultJSON: "null"}
	}
	if s, ok := primitiveJSON(v); ok {
		return Outcome{Status: StatusSucceeded, ResultJSON: s}
	}
	r, err := m.stringify(goja.Undefined(), v)
	if out, stopped := m.stopped(); stopped {
		return out
	}
	if err != nil {
		return Outcome{Status: StatusFailed, Error: "the handler's result is not JSON: " + describe(thrown(err))}
	}
	s := "null" // undefined from a function or a symbol
	if !goja.IsUndefined(r) {
		s = r.String()
	}
	if len(s) > MaxResult {
		return Outcome{Status: StatusFailed, Error: fmt.Sprintf("the handler's result is %d bytes of JSON, more than the %d allowed", len(s), MaxResult)}
	}
	return Outcome{Status: StatusSucceeded, ResultJSON: s}
}

// thrown is the JavaScript value of an exception, or err itself.
func thrown(err error) any {
	var ex *goja.Exception
	if errors.As(err, &ex) {
		return ex.Value()
	}
	return err
}

func failed(v any) Outcome {
	return Outcome{Status: StatusFailed, Error: describe(v)}
}

// describe renders a thrown value the way Node prints an uncaught error's
// first line: "Error: message" for errors, the value otherwise.
func describe(v any) string {
	switch x := v.(type) {
	case goja.Value:
		if o, ok := x.(*goja.Object); ok {
			if st := o.Get("stack"); st != nil && !goja.IsUndefined(st) {
				s := st.String()
				if len(s) > 4096 {
					s = s[:4096] + "..."
				}
				return s
			}
		}
		return x.String()
	case error:
		return x.Error()
	default:
		return fmt.Sprint(v)
	}
}
