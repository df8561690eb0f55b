package worker

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"time"

	"github.com/db9/db9/internal/functions/hostcall"
	"github.com/db9/db9/internal/functions/runtime"
	"github.com/db9/db9/internal/logkey"
)

// Invoke runs inv in a worker bound to its database and version and
// returns how it ended. It returns when the run ended — succeeded, failed,
// timed_out within timeout_ms + KillGrace — or when ctx ends (failed).
// Customer failures are Results, never panics or errors.
func (p *Pool) Invoke(ctx context.Context, inv Invocation, host Host) Result {
	start := time.Now()
	res := p.invoke(ctx, &inv, host)
	res.Duration = time.Since(start)
	res.Error = redact(res.Error, inv.Secrets)
	for i := range res.Logs {
		res.Logs[i].Message = redact(res.Logs[i].Message, inv.Secrets)
	}
	return res
}

func fail(msg string) Result { return Result{Status: runtime.StatusFailed, Error: msg} }

func (p *Pool) invoke(ctx context.Context, inv *Invocation, host Host) Result {
	lim, err := inv.Limits.Normalize()
	if err != nil {
		return fail(err.Error())
	}
	inv.Limits = lim
	timeout := time.Duration(lim.TimeoutMS) * time.Millisecond
	// The deadline covers waiting for a slot and a cold start too: a run
	// is never longer than its timeout plus the kill grace.
	deadline := time.Now().Add(timeout)
	waitCtx := &deadlineCtx{parent: ctx, deadline: deadline.Add(p.cfg.KillGrace)}
	defer waitCtx.stop()

	release, ok := p.tryDBSlot(inv.DatabaseID)
	if !ok {
		var err error
		if release, err = p.dbSlot(waitCtx.get(), inv.DatabaseID); err != nil {
			return p.ctxResult(ctx, "waiting for a worker")
		}
	}
	defer release()
	w, err := p.takeIdle(workerKey(inv))
	if w == nil && err == nil {
		w, err = p.acquire(waitCtx.get(), inv)
	}
	if err != nil {
		var le *LoadError
		switch {
		case errors.As(err, &le):
			return fail(le.Message)
		case errors.Is(err, errClosed):
			return fail("the server is shutting down")
		case waitCtx.err() != nil:
			return p.ctxResult(ctx, "starting a worker")
		}
		p.log.Error("start function worker", logkey.DB, inv.DatabaseID, logkey.Err, err)
		return fail("the function could not be started")
	}
	remaining := time.Until(deadline)
	if remaining <= 0 {
		p.release(w, true)
		return Result{Status: runtime.StatusTimedOut, Error: "the run exceeded its timeout before it started"}
	}
	// A worker whose lifetime CPU could run out within this run is retired
	// first, so RLIMIT_CPU never ends a run that is within its own limits.
	if w.cpuMS+remaining.Milliseconds() > int64(p.cfg.WorkerCPUSeconds-2)*1000 {
		p.release(w, false)
		if w, err = p.acquire(waitCtx.get(), inv); err != nil {
			return fail("the function could not be started")
		}
	}
	res, reuse := p.run(ctx, w, inv, host, remaining)
	p.release(w, reuse)
	if res.Status == "" {
		return p.ctxResult(ctx, "running")
	}
	return res
}

// deadlineCtx is the caller's ctx bounded by the run's deadline, made only
// when the run has to wait for a slot or a worker, or start one: a warm
// run finds both free, and its own end is the read deadline of run.
type deadlineCtx struct {
	parent   context.Context
	deadline time.Time
	ctx      context.Context
	cancel   context.CancelFunc
}

func (d *deadlineCtx) get() context.Context {
	if d.ctx == nil {
		d.ctx, d.cancel = context.WithDeadline(d.parent, d.deadline)
	}
	return d.ctx
}

func (d *deadlineCtx) err() error {
	if d.ctx == nil {
		return d.parent.Err()
	}
	return d.ctx.Err()
}

func (d *deadlineCtx) stop() {
	if d.cancel != nil {
		d.cancel()
	}
}

// ctxResult is the Result when the caller's ctx (or the run deadline)
// ended before the run did.
func (p *Pool) ctxResult(ctx context.Context, during string) Result {
	if ctx.Err() != nil {
		return fail("the run was canceled while " + during)
	}
	return Result{Status: runtime.StatusTimedOut, Error: "the run exceeded its timeout while " + during}
}

// run executes one invocation on w; reuse says whether w is fit for the
// next run. A zero Status means ctx ended.
func (p *Pool) run(ctx context.Context, w *proc, inv *Invocation, host Host, timeout time.Duration) (res Result, reuse bool) {
	msg := &message{Type: msgInvoke, Input: inv.Input, Secrets: inv.Secrets, TimeoutMS: int(timeout.Milliseconds()),
		LogLimit: runtime.DefaultLogLimit, Self: &runtime.Self{FunctionID: inv.FunctionID, VersionID: inv.VersionID,
			RunID: inv.RunID, TriggerType: inv.Trigger}}
	if msg.TimeoutMS < 1 {
		msg.TimeoutMS = 1
	}
	// The kill at timeout + KillGrace is the read deadline of the worker's
	// answer; an end of ctx kills the worker, which ends the read.
	w.readDeadline(time.Now().Add(timeout + p.cfg.KillGrace))
	if ctx.Done() != nil {
		stop := context.AfterFunc(ctx, w.kill)
		defer func() {
			if !stop() {
				reuse = false // killed, or about to be
			}
		}()
	}
	if err := w.c.send(msg); err != nil {
		return p.readFailed(ctx, w, inv, err)
	}
	// What host calls need is made at the first call: most runs make none.
	var calls *hostCalls
	defer func() {
		if calls != nil {
			calls.cancel() // the calls' context ends with the run
		}
	}()
	for {
		m, err := w.c.recv()
		if err != nil {
			return p.readFailed(ctx, w, inv, err)
		}
		switch m.Type {
		case msgCall:
			if calls == nil {
				cctx, cancel := context.WithCancel(ctx)
				calls = &hostCalls{ctx: cctx, cancel: cancel, inflight: make(chan struct{}, p.cfg.MaxCallsInFlight),
					grant: &hostcall.Grant{DatabaseID: inv.DatabaseID, RunAs: inv.RunAs, BypassRLS: inv.BypassRLS,
						Scope: inv.Scope, Allowlist: inv.Allowlist}}
			}
			select {
			case calls.inflight <- struct{}{}:
				go p.serveCall(calls.ctx, w, calls.grant, host, m, calls.inflight)
			default:
				_ = w.c.send(&message{Type: msgReply, ID: m.ID, Error: &runtime.CallError{Code: "EAGAIN",
					Message: "too many ctx calls in flight at once"}})
			}
		case msgDone:
			if m.Outcome == nil {
				return fail("the worker answered without an outcome"), false
			}
			w.cpuMS = m.CPUMS
			o := m.Outcome
			return Result{Status: o.Status, ResultJSON: o.ResultJSON, Error: o.Error, Logs: o.Logs}, !m.Broken
		}
	}
}

// readFailed is the outcome of a run whose worker could not be written
// to or read from: the deadline passed (timed out), ctx ended (the worker
// was killed for it), or the worker went away.
func (p *Pool) readFailed(ctx context.Context, w *proc, inv *Invocation, err error) (Result, bool) {
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		w.kill()
		return Result{Status: runtime.StatusTimedOut, Error: "the run exceeded its timeout"}, false
	case ctx.Err() != nil:
		w.kill()
		return Result{}, false
	}
	return fail(w.crashReason(inv.Limits.MemoryMB)), false
}

// hostCalls is what the host calls of one run share: their context and
// the bound on how many are in flight.
type hostCalls struct {
	ctx      context.Context
	cancel   context.CancelFunc
	inflight chan struct{}
	grant    *hostcall.Grant
}

func (p *Pool) serveCall(ctx context.Context, w *proc, g *hostcall.Grant, host Host, m *message, inflight chan struct{}) {
	defer func() { <-inflight }()
	reply := &message{Type: msgReply, ID: m.ID}
	var res json.RawMessage
	var err error
	if host == nil {
		err = &runtime.CallError{Code: "ENOSYS", Message: "no host is attached to this run"}
	} else {
		res, err = host.Call(ctx, g, m.Op, m.Args)
	}
	if err != nil {
		var ce *runtime.CallError
		if !errors.As(err, &ce) {
			p.log.Warn("function host call", logkey.DB, g.DatabaseID, logkey.Op, m.Op, logkey.Err, err)
			ce = &runtime.CallError{Code: "EIO", Message: m.Op + " failed"}
		}
		reply.Error = ce
	} else {
		reply.Result = res
	}
	_ = w.c.send(reply)
}
