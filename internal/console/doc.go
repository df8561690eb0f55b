// Package console serves db9's web console: a static single-page app,
// embedded in the binary with embed, mounted at /console. The app is plain
// ES modules and CSS with no build step, so what is committed is what is
// served. It talks only to the server's own origin: the REST API under
// /customer and the fs9 WebSocket at /fs9.
//
// The package owns the assets and the HTTP policy around them (Content
// Security Policy, framing, caching, content types). It deliberately has no
// API logic, no session state and no knowledge of tokens: the browser keeps
// the API token in sessionStorage and sends it to /customer itself.
package console
