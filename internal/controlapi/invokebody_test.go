package controlapi

import (
	"bytes"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// invokeSeeds are invoke bodies: the common ones, every kind of input, and
// the shapes the fast path must leave to encoding/json.
var invokeSeeds = []string{
	`{"input":null}`,
	`{"input":{"hold":400}}`,
	`{"input":{"a":[1,"x",{"b":null}],"c":"}]"}}`,
	`{"input":[1,2,3],"idempotency_key":"k-1"}`,
	`{"idempotency_key":"k-1","input":"text"}`,
	` { "input" : 1.5e3 , "idempotency_key" : "ü" } `,
	"{\n\t\"input\": true\r\n}",
	`{"input":false}`,
	`{"input":-0}`,
	`{"input":"a\"b\\"}`,
	`{"input":"\u00e9"}`,
	`{"input":{ "x" : [ 1 , 2 ] }}`,
	`{"input":[]}`,
	`{"input":{}}`,
	`{"input":""}`,
	`{"idempotency_key":""}`,
	`{"idempotency_key":null}`,
	`{"idempotency_key":1}`,
	`{"idempotency_key":"a\nb"}`,
	`{"idempotency_key":"a\u0041"}`,
	`{"input":1,"input":2}`,
	`{"Input":1}`,
	`{"inp\u0075t":1}`,
	`{"input":1,"other":2}`,
	`{"input":nul}`,
	`{"input":01}`,
	`{"input":1 2}`,
	`{"input":[1}`,
	`{"input":{"a":1]}`,
	`{"input":"x}`,
	`{"input":}`,
	`{"input"}`,
	`{"input":1,}`,
	`{,}`,
	`{"input":1}}`,
	`{"input":1} x`,
	`{"input":1}{}`,
	`{}`,
	` {} `,
	``,
	` `,
	`[]`,
	`null`,
	`"input"`,
	`{"input":"\ud800"}`,
	"{\"input\":\"\xff\"}",
	"{\"idempotency_key\":\"\xff\"}",
	"\u00a0{\"input\":1}",
}

func FuzzDecodeInvokeRequest(f *testing.F) {
	for _, s := range append(invokeSeeds, decodeSeeds...) {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		req, err := decodeInvokeRequest(body)
		slow, slowErr := decodeInvokeRequestJSON(body)
		if _, ok := plainInvoke(body); ok && slowErr != nil {
			t.Fatalf("body %q: plainInvoke took it, encoding/json says %v", body, slowErr)
		}
		if (err == nil) != (slowErr == nil) {
			t.Fatalf("body %q: error %v, encoding/json's %v", body, err, slowErr)
		}
		if err != nil {
			checkDecodeError(t, body, err)
			return
		}
		if len(bytes.Trim(body, " \t\r\n")) > 0 { // an empty body is no input
			checkOneJSONObject(t, body)
		}
		if diff := cmp.Diff(slow, req); diff != "" {
			t.Fatalf("body %q: differs from encoding/json (-json +got):\n%s", body, diff)
		}
	})
}

// TestDecodeInvokeRequest pins that the common bodies take the fast path.
func TestDecodeInvokeRequest(t *testing.T) {
	for _, body := range []string{`{"input":null}`, `{"input":{"hold":400}}`, `{"input":[1],"idempotency_key":"k"}`, `{}`} {
		if _, ok := plainInvoke([]byte(body)); !ok {
			t.Errorf("%s: not taken by plainInvoke", body)
		}
	}
}
