// Package cors answers the browser side of the data plane: preflights,
// Access-Control-* headers for the origins a publishable key allows, the
// refusal of a request from an origin the key does not allow, and the
// refusal of a service key sent by a browser.
//
// Preflights carry no apikey (browsers strip credentials and custom headers
// from them), so a preflight cannot be judged per key: it is answered for
// any origin, which grants nothing, since the actual request is judged by
// its key and refused before it runs when its Origin is not allowed.
//
// It does not authenticate keys nor know where they are stored.
package cors
