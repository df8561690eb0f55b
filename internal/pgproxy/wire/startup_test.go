package wire

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/db9/db9/internal/platform"
)

func startupBytes(version uint32, params ...string) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint32(b[4:], version)
	for _, p := range params {
		b = append(b, p...)
		b = append(b, 0)
	}
	b = append(b, 0)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func special(code uint32, extra ...byte) []byte {
	b := make([]byte, 8, 8+len(extra))
	binary.BigEndian.PutUint32(b[4:], code)
	b = append(b, extra...)
	binary.BigEndian.PutUint32(b, uint32(len(b)))
	return b
}

func passwordBytes(pw string) []byte {
	b := []byte{'p', 0, 0, 0, 0}
	b = append(b, pw...)
	b = append(b, 0)
	binary.BigEndian.PutUint32(b[1:], uint32(len(b)-1))
	return b
}

func TestReadStartupPacket_Kinds(t *testing.T) {
	m, err := ReadStartupPacket(bytes.NewReader(startupBytes(pgproto3.ProtocolVersion30, "user", "db.admin", "database", "postgres")))
	if err != nil {
		t.Fatal(err)
	}
	sm := m.(*pgproto3.StartupMessage)
	if diff := cmp.Diff(map[string]string{"user": "db.admin", "database": "postgres"}, sm.Parameters); diff != "" {
		t.Error(diff)
	}
	if m, err := ReadStartupPacket(bytes.NewReader(special(codeSSLRequest))); err != nil || m.(*pgproto3.SSLRequest) == nil {
		t.Errorf("SSLRequest: %v", err)
	}
	if m, err := ReadStartupPacket(bytes.NewReader(special(codeGSSENCRequest))); err != nil || m.(*pgproto3.GSSEncRequest) == nil {
		t.Errorf("GSSENCRequest: %v", err)
	}
	m, err = ReadStartupPacket(bytes.NewReader(special(codeCancelRequest, 0, 0, 0, 7, 1, 2, 3, 4)))
	if cr, ok := m.(*pgproto3.CancelRequest); err != nil || !ok || cr.ProcessID != 7 || !bytes.Equal(cr.SecretKey, []byte{1, 2, 3, 4}) {
		t.Errorf("CancelRequest: %+v %v", m, err)
	}
	m, err = ReadStartupPacket(bytes.NewReader(startupBytes(pgproto3.ProtocolVersion32, "user", "a.b")))
	if sm, ok := m.(*pgproto3.StartupMessage); err != nil || !ok || sm.ProtocolVersion != pgproto3.ProtocolVersion32 {
		t.Errorf("3.2 startup: %+v %v", m, err)
	}
}

func TestReadStartupPacket_Bad(t *testing.T) {
	huge := make([]byte, 4)
	binary.BigEndian.PutUint32(huge, 1<<30)
	cases := map[string][]byte{
		"too short":          {0, 0, 0, 4},
		"too long":           huge,
		"protocol 2":         startupBytes(2<<16, "user", "x"),
		"no terminator":      startupBytes(pgproto3.ProtocolVersion30, "user")[:12],
		"long SSLRequest":    special(codeSSLRequest, 1),
		"short cancel":       special(codeCancelRequest, 1),
		"negative length":    {0xff, 0xff, 0xff, 0xff},
		"odd parameter list": startupBytes(pgproto3.ProtocolVersion30, "user"),
	}
	for name, b := range cases {
		if _, err := ReadStartupPacket(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestReadPassword(t *testing.T) {
	pw, err := readPassword(bytes.NewReader(passwordBytes("s3cret")))
	if err != nil || pw != "s3cret" {
		t.Fatalf("%q %v", pw, err)
	}
	for name, b := range map[string][]byte{
		"wrong type":   append([]byte{'Q'}, passwordBytes("x")[1:]...),
		"empty":        passwordBytes(""),
		"two strings":  passwordBytes("a\x00b"),
		"too long":     passwordBytes(strings.Repeat("x", maxPasswordLen+1)),
		"truncated":    passwordBytes("abc")[:7],
		"no NUL":       {'p', 0, 0, 0, 6, 'a', 'b'},
		"small length": {'p', 0, 0, 0, 3},
	} {
		if _, err := readPassword(bytes.NewReader(b)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestParseUser(t *testing.T) {
	for in, want := range map[string][2]string{
		"abc.admin":       {"abc", "admin"},
		"my-db.app.user":  {"my-db", "app.user"},
		"x1y2z3a4b5c6.ro": {"x1y2z3a4b5c6", "ro"},
	} {
		db, role, err := parseUser(in)
		if err != nil || db != want[0] || role != want[1] {
			t.Errorf("%q: %q %q %v", in, db, role, err)
		}
	}
	for _, in := range []string{"", "abc", ".admin", "abc."} {
		if _, _, err := parseUser(in); err == nil {
			t.Errorf("%q accepted", in)
		}
	}
}

func TestBackendParams_ProxyDecides(t *testing.T) {
	client := map[string]string{"user": "db.admin", "database": "postgres", "application_name": "app",
		"options": "-c work_mem=8MB", "replication": "database", "_pq_.x": "1",
		"request.jwt.claims": "forged", "Request.JWT.claim.sub": "forged", "client_encoding": "UTF8"}
	got := BackendParams(client, "admin", map[string]string{"request.jwt.claims": `{"usr":"admin"}`})
	want := map[string]string{"user": "admin", "database": "postgres", "application_name": "app",
		"options": "-c work_mem=8MB", "client_encoding": "UTF8", "request.jwt.claims": `{"usr":"admin"}`}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Error(diff)
	}
	for _, opt := range []string{"-c request.jwt.claim.sub=x", "--REQUEST.JWT.claims=x", `-c request\.jwt.claims=x`} {
		if checkOptions(map[string]string{"options": opt}) == nil {
			t.Errorf("options %q accepted", opt)
		}
	}
	if checkOptions(map[string]string{"options": "-c search_path=a"}) != nil {
		t.Error("plain options refused")
	}
}

func TestSQLSTATE_EveryCode(t *testing.T) {
	for _, c := range platform.AllCodes {
		s, ok := sqlstateByCode[c]
		if !ok || len(s) != 5 {
			t.Errorf("code %s has no SQLSTATE", c)
		}
	}
	want := map[platform.Code]string{platform.CodeUnauthorized: "28P01", platform.CodeNotFound: "3D000",
		platform.CodeForbidden: "28000", platform.CodeUnavailable: "57P03", platform.CodeRateLimited: "53300"}
	for c, s := range want {
		if SQLSTATE(c) != s {
			t.Errorf("%s -> %s, want %s", c, SQLSTATE(c), s)
		}
	}
	r := ErrorResponse(platform.Wrap(platform.CodeInternal, errors.New("secret cause"), "boom"))
	if r.Code != "XX000" || strings.Contains(r.Message, "secret") {
		t.Errorf("internal error shown as %+v", r)
	}
	r = ErrorResponse(io.EOF)
	if r.Message != "internal error" {
		t.Errorf("plain error shown as %+v", r)
	}
}
