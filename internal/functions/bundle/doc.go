// Package bundle turns an uploaded function bundle into the one CommonJS
// script the runtime executes.
//
// A bundle is one JavaScript/TypeScript file or a zip of files. The
// entrypoint "index.handler" names the module (index.js, index.ts, .mjs,
// .cjs, .mts, .cts) and its export. Build bundles the module and the
// bundle's own modules it imports or requires (relative paths, and
// node_modules/ inside the zip) with esbuild's Go API into one CommonJS
// script targeting what goja runs; TypeScript and ESM are transpiled there.
// Imports that the bundle does not contain (node:fs, child_process, ...)
// are left as runtime require calls, which the runtime refuses except for
// its few built-in modules.
//
// Build does not run the code: whether the module really exports the
// handler is checked by loading it in a sandboxed worker
// (worker.Pool.Validate), because module top-level code is customer code.
//
// Every failure of the customer's bundle is an *Error (the API answers 422
// with its message); the digest of the raw bytes is "sha256:<hex>".
package bundle
