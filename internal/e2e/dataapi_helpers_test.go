package e2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// dataResp is an answer of the data API.
type dataResp struct {
	Status int
	Header http.Header
	Body   []byte
}

func (r dataResp) String() string { return http.StatusText(r.Status) + " " + string(r.Body) }

// dataDo sends one request to the data API of database db (id or name)
// at path (what follows /rest/v1) with the given headers ("" values are
// left out) and a raw body.
func (s *Server) dataDo(t testing.TB, method, db, path string, hdr map[string]string, body string) dataResp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+s.Addr+"/data/"+db+"/rest/v1"+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		if v != "" {
			req.Header.Set(k, v)
		}
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return dataResp{Status: resp.StatusCode, Header: resp.Header, Body: b}
}

// dataKey is a created publishable or service key.
type dataKey struct {
	ID  string `json:"id"`
	Key string `json:"key"`
}

// createKey makes a publishable ("publishable-keys") or service key
// ("service-keys") of db with the given options.
func (c *Client) createKey(db, kind string, opts map[string]any) dataKey {
	c.t.Helper()
	if opts == nil {
		opts = map[string]any{}
	}
	var k dataKey
	c.MustDo("POST", "/customer/databases/"+db+"/"+kind, opts, 201, &k)
	return k
}

// testIdP is an identity provider of the test: an ES256 key whose public
// half the database's auth-config holds inline.
type testIdP struct {
	key    *ecdsa.PrivateKey
	issuer string
}

func newTestIdP(t testing.TB) *testIdP {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return &testIdP{key: k, issuer: "https://idp.test"}
}

// authConfig is the PUT auth-config body trusting this provider.
func (p *testIdP) authConfig() map[string]any {
	jwks, _ := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &p.key.PublicKey, KeyID: "k1", Algorithm: "ES256", Use: "sig"}}})
	return map[string]any{"auth_mode": "byo_jwt", "byo_jwt": map[string]any{
		"jwks": json.RawMessage(jwks), "issuer": p.issuer, "audience": "db9-app"}}
}

// token signs claims; iss, aud, iat and exp (an hour) are filled unless set.
func (p *testIdP) token(t testing.TB, claims map[string]any) string {
	t.Helper()
	c := map[string]any{"iss": p.issuer, "aud": "db9-app", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.ES256, Key: p.key}, (&jose.SignerOptions{}).WithHeader("kid", "k1").WithType("JWT"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	o, err := s.Sign(b)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := o.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// sameJSON reports whether got is the JSON document want (whitespace and
// key order aside).
func sameJSON(got []byte, want string) bool {
	var a, b any
	if json.Unmarshal(got, &a) != nil || json.Unmarshal([]byte(want), &b) != nil {
		return false
	}
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
