package e2e

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"

	"github.com/db9/db9/internal/functions/bundle"
)

// TestFunctions_S3Bundles deploys bundles named s3://<bucket>/<key> from an
// S3-compatible server run by the test (gofakes3, in memory) through the
// real server: a file and a zip deploy and run, the digest is checked,
// and every reference the server cannot use is a 422 that says why; the
// storage going away is a 503, not a 422.
func TestFunctions_S3Bundles(t *testing.T) {
	mem := s3mem.New()
	put := func(bucket, key string, body []byte) {
		t.Helper()
		if _, err := mem.PutObject(bucket, key, map[string]string{"Last-Modified": time.Now().UTC().Format(http.TimeFormat)}, bytes.NewReader(body), int64(len(body)), nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range []string{"bundles", "private"} {
		if err := mem.CreateBucket(b); err != nil {
			t.Fatal(err)
		}
	}
	hello := []byte(`export const handler = async (input: { name: string }) => ({ hi: input.name, from: "s3" });`)
	put("bundles", "fns/hello.ts", hello)
	put("bundles", "fns/app.zip", zipOf(t, map[string]string{
		"src/main.js": `const { twice } = require("./lib"); exports.run = (n) => twice(n);`,
		"src/lib.js":  `exports.twice = (n) => n * 2;`,
	}))
	put("bundles", "fns/v2.js", []byte(`module.exports.handler = () => "version 2"`))
	put("bundles", "fns/huge.js", bytes.Repeat([]byte("/"), bundle.MaxRaw+1))
	put("private", "secret.js", []byte(`module.exports.handler = () => "not yours"`))
	fake := httptest.NewServer(gofakes3.New(mem).Server())
	defer fake.Close()

	const secretKey = "s3-secret-key-never-logged-7f3a"
	t.Setenv("DB9_S3_ACCESS_KEY", "db9-test")
	t.Setenv("DB9_S3_SECRET_KEY", secretKey)
	s := StartServer(t, "--s3-endpoint", fake.URL, "--s3-region", "us-east-1", "--s3-buckets", "bundles,gone")
	c := s.Anonymous()
	d := c.CreateDB("s3fns")
	f := fnDB{c, d.ID}

	var fn fnObject
	c.MustDo("POST", f.path("/functions"), map[string]any{"name": "hello", "bundle_ref": "s3://bundles/fns/hello.ts",
		"bundle_digest": bundle.Digest(hello)}, 201, &fn)
	if fn.BundleRef != "s3://bundles/fns/hello.ts" || fn.BundleDigest != bundle.Digest(hello) {
		t.Fatalf("deployed %+v", fn)
	}
	f.succeeded("hello", map[string]any{"name": "ada"}, `{"hi":"ada","from":"s3"}`)

	c.MustDo("POST", f.path("/functions"), map[string]any{"name": "app", "bundle_ref": "s3://bundles/fns/app.zip",
		"entrypoint": "src/main.run"}, 201, nil)
	f.succeeded("app", 21, `42`)

	var up fnObject
	c.MustDo("PUT", f.path("/functions/hello"), map[string]any{"bundle_ref": "s3://bundles/fns/v2.js"}, 200, &up)
	if up.Version != 2 || up.BundleRef != "s3://bundles/fns/v2.js" {
		t.Fatalf("update %+v", up)
	}
	f.succeeded("hello", nil, `"version 2"`)

	for _, tc := range []struct{ name, ref, digest, says string }{
		{"missing key", "s3://bundles/fns/nope.js", "", "does not exist"},
		{"listed bucket that does not exist", "s3://gone/x.js", "", "does not exist"},
		{"bucket not listed", "s3://private/secret.js", "", "not one this server deploys bundles from"},
		{"no key", "s3://bundles", "", `is not s3://`},
		{"too large", "s3://bundles/fns/huge.js", "", "more than the"},
		{"digest mismatch", "s3://bundles/fns/hello.ts", "sha256:" + strings.Repeat("0", 64), "bundle_digest"},
	} {
		body := map[string]any{"name": "bad", "bundle_ref": tc.ref}
		if tc.digest != "" {
			body["bundle_digest"] = tc.digest
		}
		if code, b := c.Do("POST", f.path("/functions"), body); code != 422 || !strings.Contains(string(b), tc.says) {
			t.Errorf("%s: %d %s; want 422 saying %q", tc.name, code, b, tc.says)
		}
	}
	if strings.Contains(s.Log(), secretKey) {
		t.Error("the server log shows the S3 secret key")
	}

	// The storage going away is the server's trouble: 503, try again.
	fake.Close()
	if code, b := c.Do("POST", f.path("/functions"), map[string]any{"name": "later", "bundle_ref": "s3://bundles/fns/hello.ts"}); code != 503 {
		t.Errorf("deploy with the storage down: %d %s; want 503", code, b)
	}
	f.succeeded("app", 1, `2`) // deployed functions do not need the storage
}
