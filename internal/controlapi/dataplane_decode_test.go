package controlapi

import (
	"testing"

	"github.com/db9/db9/internal/auth"
)

var dataPlaneSeeds = []string{
	``, `{}`, `[]`, `null`, `{"name":"web"}`, `{"allowed_origins":["*"],"exposed_schemas":["public"],"exposed_tables":[]}`,
	`{"rate_limit":{"rps":1.5,"burst":3}}`, `{"rate_limit":{"rps":1}}`, `{"rate_limit":null}`, `{"rate_limit":5}`,
	`{"expires_in_days":"7"}`, `{"expires_in_days":1e400}`, `{"auth_mode":"none"}`, `{"auth_mode":"byo_jwt","byo_jwt":{"issuer":"i"}}`,
	`{"auth_mode":7}`, `{"auth_mode":"none","byo_jwt":null} x`,
}

// FuzzDecodeDataPlane: the auth-config and key decoders answer every body
// with a request or a 400/413 platform.Error, and accept only one JSON
// object (an empty body too, for keys).
func FuzzDecodeDataPlane(f *testing.F) {
	for _, s := range dataPlaneSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if _, err := decodeAuthConfigRequest(body); err != nil {
			checkDecodeError(t, body, err)
		} else {
			checkOneJSONObject(t, body)
		}
		for _, kind := range []auth.KeyKind{auth.PublishableKey, auth.ServiceKey} {
			req, err := decodeDataKeyRequest(body, kind)
			if err != nil {
				checkDecodeError(t, body, err)
				continue
			}
			checkOneJSONObjectOrBlank(t, body)
			if req.RateLimit != nil && kind == auth.ServiceKey {
				t.Fatalf("body %q: a service key decoded a rate limit", body)
			}
		}
	})
}

func checkOneJSONObjectOrBlank(t *testing.T, body []byte) {
	t.Helper()
	for _, c := range body {
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			checkOneJSONObject(t, body)
			return
		}
	}
}
