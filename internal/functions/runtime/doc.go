// Package runtime runs a built bundle in a goja VM: one Module per worker
// process and function version, invoked once at a time.
//
// It owns the JavaScript surface of API.md: handler(input, ctx) sync or
// async, ctx.db / ctx.fs9 (forwarded through Host, which the worker
// implements over IPC), ctx.secrets, ctx.self, fetch (also through Host),
// console.* captured as logs (bounded per run, with a truncation marker),
// timers and the event loop that settles the handler's promise, Buffer,
// URL, URLSearchParams, TextEncoder/TextDecoder, atob/btoa,
// crypto.randomUUID/getRandomValues, and require() of built-in modules
// only (buffer, url, util): there is no fs, child_process, process or
// environment, and the bundle's own modules were bundled at deploy.
//
// It does not enforce limits beyond the context's deadline and Interrupt:
// memory, CPU and the hard wall clock belong to the worker process that
// hosts the VM. It makes no network or database connection itself.
package runtime
