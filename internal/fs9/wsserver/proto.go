package wsserver

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"strings"
	"time"

	"github.com/db9/db9/internal/fs9"
	"github.com/db9/db9/internal/fs9/store"
)

// request is every field any op uses; ops read the ones they need.
type request struct {
	ID             json.RawMessage `json:"id"`
	Op             string          `json:"op"`
	Username       string          `json:"username"`
	Password       string          `json:"password"`
	Path           string          `json:"path"`
	OldPath        string          `json:"old_path"`
	NewPath        string          `json:"new_path"`
	Target         string          `json:"target"`
	Paths          []string        `json:"paths"`
	Files          []fileReq       `json:"files"`
	Content        *string         `json:"content"`
	Encoding       string          `json:"encoding"`
	Offset         *int64          `json:"offset"`
	Length         *int64          `json:"length"`
	Size           *int64          `json:"size"`
	Mode           *int            `json:"mode"`
	Recursive      bool            `json:"recursive"`
	Streaming      bool            `json:"streaming"`
	MaxDepth       int             `json:"max_depth"`
	MaxEntries     int             `json:"max_entries"`
	SinceSeq       *int64          `json:"since_seq"`
	SubscriptionID string          `json:"subscription_id"`
	Stream         string          `json:"stream"`
	StreamID       *uint64         `json:"stream_id"`
	Checksum       string          `json:"checksum"`

	// release frees the request's in-flight slot; called before its final
	// answer, so a client that sends the next request on receipt never
	// meets EAGAIN for a request the server is done with.
	release func()
}

func (r *request) done() {
	if r.release != nil {
		r.release()
	}
}

type fileReq struct {
	Path     string  `json:"path"`
	Content  *string `json:"content"`
	Encoding string  `json:"encoding"`
	Mode     *int    `json:"mode"`
}

// decodeRequest parses one text frame. The id must be a JSON string or
// number and op (or, for the end of an upload, stream) must be present.
func decodeRequest(b []byte) (*request, error) {
	var r request
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&r); err != nil {
		return nil, fs9.Errorf(fs9.EPROTO, "malformed JSON request")
	}
	if dec.More() {
		return nil, fs9.Errorf(fs9.EPROTO, "trailing data after the JSON request")
	}
	if !validID(r.ID) {
		return &r, fs9.Errorf(fs9.EPROTO, "request needs an id (string or number)")
	}
	if r.Op == "" && r.Stream == "" {
		return &r, fs9.Errorf(fs9.EPROTO, "request needs an op")
	}
	return &r, nil
}

func validID(id json.RawMessage) bool {
	if len(id) == 0 {
		return false
	}
	switch id[0] {
	case '"':
		var s string
		return json.Unmarshal(id, &s) == nil && s != ""
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		var n json.Number
		return json.Unmarshal(id, &n) == nil
	}
	return false
}

// peekID fishes the id out of a frame too large or too broken to decode,
// so the error can still be matched by the client; null when there is none.
func peekID(b []byte) json.RawMessage {
	var r struct {
		ID json.RawMessage `json:"id"`
	}
	if json.Unmarshal(b, &r) == nil && validID(r.ID) {
		return r.ID
	}
	head := b[:min(len(b), 4096)]
	i := bytes.Index(head, []byte(`"id"`))
	if i < 0 {
		return json.RawMessage("null")
	}
	rest := bytes.TrimLeft(head[i+4:], " \t\r\n")
	if len(rest) == 0 || rest[0] != ':' {
		return json.RawMessage("null")
	}
	rest = bytes.TrimLeft(rest[1:], " \t\r\n")
	dec := json.NewDecoder(bytes.NewReader(rest))
	var v json.RawMessage
	if dec.Decode(&v) == nil && validID(v) {
		return v
	}
	return json.RawMessage("null")
}

// decodeContent turns content + encoding into bytes: base64 (the default)
// or utf8/utf-8/text taken as is.
func decodeContent(content *string, encoding string) ([]byte, error) {
	if content == nil {
		return nil, fs9.Errorf(fs9.EINVAL, "content is required")
	}
	switch strings.ToLower(encoding) {
	case "", "base64":
		b, err := base64.StdEncoding.DecodeString(*content)
		if err != nil {
			return nil, fs9.Errorf(fs9.EINVAL, "content is not valid base64")
		}
		return b, nil
	case "utf8", "utf-8", "text":
		return []byte(*content), nil
	}
	return nil, fs9.Errorf(fs9.EINVAL, "encoding must be base64 or utf8: %s", encoding)
}

// fileInfo is FS9.md's file info.
type fileInfo struct {
	Path       string `json:"path"`
	Type       string `json:"type"`
	Size       int64  `json:"size"`
	Mode       int    `json:"mode"`
	Generation int64  `json:"generation"`
	MTime      string `json:"mtime"`
	Storage    string `json:"storage"`
}

func toInfo(i store.Info) fileInfo {
	return fileInfo{Path: i.Path, Type: i.Type, Size: i.Size, Mode: i.Mode, Generation: i.Generation,
		MTime: i.MTime.UTC().Format(time.RFC3339), Storage: "inline"}
}

func toInfos(in []store.Info) []fileInfo {
	out := make([]fileInfo, len(in))
	for i, v := range in {
		out[i] = toInfo(v)
	}
	return out
}

type errBody struct {
	Code    fs9.Code `json:"code"`
	Message string   `json:"message"`
}

type response struct {
	ID    json.RawMessage `json:"id"`
	OK    bool            `json:"ok"`
	Data  any             `json:"data,omitempty"`
	Error *errBody        `json:"error,omitempty"`
}
