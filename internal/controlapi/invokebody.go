package controlapi

import (
	"encoding/json"
	"unicode/utf8"

	"github.com/db9/db9/internal/control/functions"
	"github.com/db9/db9/internal/web"
)

// decodeInvokeRequest decodes the body of POST .../invoke, {input,
// idempotency_key}; an empty body is no input.
func decodeInvokeRequest(body []byte) (functions.InvokeRequest, error) {
	if req, ok := plainInvoke(body); ok {
		return req, nil
	}
	return decodeInvokeRequestJSON(body)
}

// decodeInvokeRequestJSON is decodeInvokeRequest with encoding/json, for
// any body.
func decodeInvokeRequestJSON(body []byte) (functions.InvokeRequest, error) {
	var b struct {
		Input          json.RawMessage `json:"input"`
		IdempotencyKey string          `json:"idempotency_key"`
	}
	err := web.Unmarshal(body, &b, true)
	return functions.InvokeRequest{Input: b.Input, IdempotencyKey: b.IdempotencyKey}, err
}

// plainInvoke reads the common bodies without reflection: an object whose
// keys, spelled exactly so and each at most once, are "input" (any valid
// JSON value, kept as it is written, as json.RawMessage keeps it) and
// "idempotency_key" (a string without escapes), only JSON white space
// around the tokens. Every other body (other or escaped keys, an escaped
// key, a null key) is left to encoding/json, and so is every error; for
// the bodies it takes the answer is the same (FuzzDecodeInvokeRequest
// checks).
func plainInvoke(b []byte) (functions.InvokeRequest, bool) {
	var req functions.InvokeRequest
	i := skipSpace(b, 0)
	if !hasPrefixAt(b, i, `{`) {
		return req, false
	}
	i = skipSpace(b, i+1)
	if hasPrefixAt(b, i, `}`) {
		return req, skipSpace(b, i+1) == len(b)
	}
	var haveInput, haveKey bool
	for {
		var key string
		var ok bool
		if key, i, ok = plainString(b, i); !ok {
			return req, false
		}
		i = skipSpace(b, i)
		if !hasPrefixAt(b, i, `:`) {
			return req, false
		}
		i = skipSpace(b, i+1)
		switch {
		case key == "input" && !haveInput:
			haveInput = true
			end, ok := valueEnd(b, i)
			if !ok || !json.Valid(b[i:end]) {
				return req, false
			}
			req.Input = json.RawMessage(b[i:end:end])
			i = end
		case key == "idempotency_key" && !haveKey:
			haveKey = true
			if req.IdempotencyKey, i, ok = plainString(b, i); !ok {
				return req, false
			}
		default:
			return req, false
		}
		i = skipSpace(b, i)
		switch {
		case hasPrefixAt(b, i, `,`):
			i = skipSpace(b, i+1)
		case hasPrefixAt(b, i, `}`):
			return req, skipSpace(b, i+1) == len(b)
		default:
			return req, false
		}
	}
}

// plainString reads a JSON string at b[i] that has no escapes nor control
// characters and is valid UTF-8; next is the index after its quote.
func plainString(b []byte, i int) (s string, next int, ok bool) {
	if !hasPrefixAt(b, i, `"`) {
		return "", i, false
	}
	start := i + 1
	end := start
	for end < len(b) && b[end] != '"' {
		if b[end] < 0x20 || b[end] == '\\' {
			return "", i, false
		}
		end++
	}
	if end == len(b) || !utf8.Valid(b[start:end]) {
		return "", i, false
	}
	return string(b[start:end]), end + 1, true
}

// valueEnd finds where the JSON value starting at b[i] ends, for a value
// that is valid (the caller checks it with json.Valid): strings are
// skipped with their escapes, arrays and objects to their closing bracket,
// literals and numbers to the next delimiter. ok is false when the text
// ends first.
func valueEnd(b []byte, i int) (end int, ok bool) {
	depth := 0
	for j := i; j < len(b); j++ {
		switch c := b[j]; c {
		case '"':
			for j++; j < len(b) && b[j] != '"'; j++ {
				if b[j] == '\\' {
					j++
				}
			}
			if j >= len(b) {
				return 0, false
			}
			if depth == 0 {
				return j + 1, true
			}
		case '[', '{':
			depth++
		case ']', '}':
			if depth == 0 { // the end of the enclosing object
				return j, j > i
			}
			depth--
			if depth == 0 {
				return j + 1, true
			}
		case ',', ' ', '\t', '\r', '\n':
			if depth == 0 {
				return j, j > i
			}
		}
	}
	return len(b), depth == 0 && len(b) > i
}
