package wire

import (
	"bytes"
	"testing"

	"github.com/jackc/pgx/v5/pgproto3"
)

func FuzzReadStartupPacket(f *testing.F) {
	f.Add(startupBytes(pgproto3.ProtocolVersion30, "user", "db.admin", "database", "postgres", "options", "-c x=1"))
	f.Add(startupBytes(pgproto3.ProtocolVersion32, "user", "a.b", "_pq_.ext", "1"))
	f.Add(special(codeSSLRequest))
	f.Add(special(codeGSSENCRequest))
	f.Add(special(codeCancelRequest, 0, 0, 0, 1, 2, 3, 4, 5))
	f.Add([]byte{0, 0, 0, 8, 0, 3, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ReadStartupPacket(bytes.NewReader(b))
		if err == nil && m == nil {
			t.Fatal("nil message without error")
		}
		if sm, ok := m.(*pgproto3.StartupMessage); ok {
			if u, ok := sm.Parameters["user"]; ok {
				_, _, _ = parseUser(u)
			}
			_ = checkOptions(sm.Parameters)
			p := BackendParams(sm.Parameters, "r", map[string]string{"request.jwt.claims": "{}"})
			if p["user"] != "r" || p["database"] != "postgres" || p["request.jwt.claims"] != "{}" {
				t.Fatalf("backend params %v", p)
			}
		}
	})
}

func FuzzReadPassword(f *testing.F) {
	f.Add(passwordBytes("secret"))
	f.Add(passwordBytes("db9ck_abc"))
	f.Add(passwordBytes("a.b.c"))
	f.Add([]byte{'p', 0, 0, 0, 4})
	f.Fuzz(func(t *testing.T, b []byte) {
		pw, err := readPassword(bytes.NewReader(b))
		if err == nil && (pw == "" || len(pw) > maxPasswordLen) {
			t.Fatalf("accepted password of %d bytes", len(pw))
		}
	})
}
