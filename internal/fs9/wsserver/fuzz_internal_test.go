package wsserver

import (
	"encoding/json"
	"testing"

	"github.com/db9/db9/internal/fs9"
)

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{
		`{"id":"1","op":"auth","username":"db.admin","password":"p"}`,
		`{"id":2,"op":"write","path":"/a","content":"aGk=","encoding":"base64","mode":420}`,
		`{"id":"3","stream":"end","stream_id":7,"checksum":"sha256:00"}`,
		`{"id":"4","op":"batch_write","files":[{"path":"/a","content":""}]}`,
		`{"id":null,"op":"x"}`, `{"op":"x"}`, `[]`, `{"id":"1"} {}`, `{"id":"1","op":"read","offset":-1,"length":1e99}`, ``,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := decodeRequest(b)
		if err != nil {
			if c := fs9.ErrorCode(err); c != fs9.EPROTO {
				t.Fatalf("decode error code %s", c)
			}
		} else {
			if !validID(r.ID) || (r.Op == "" && r.Stream == "") {
				t.Fatalf("accepted %q", b)
			}
			if r.Content != nil {
				_, _ = decodeContent(r.Content, r.Encoding)
			}
			if r.Path != "" {
				_, _ = fs9.CleanPath(r.Path)
			}
		}
		id := peekID(b)
		if !json.Valid(id) {
			t.Fatalf("peekID gave invalid JSON %q", id)
		}
	})
}
