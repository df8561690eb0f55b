package auth_test

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/layout"
	"github.com/db9/db9/internal/pgtest"
)

var verifierRE = regexp.MustCompile(`^SCRAM-SHA-256\$4096:([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+):([A-Za-z0-9+/=]+)$`)

func TestSCRAMVerifier_Shape(t *testing.T) {
	v := auth.SCRAMVerifier("correct horse")
	m := verifierRE.FindStringSubmatch(v)
	if m == nil {
		t.Fatalf("verifier %q does not have PostgreSQL's SCRAM-SHA-256 shape", v)
	}
	for i, want := range []int{16, 32, 32} { // salt, StoredKey, ServerKey
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil || len(b) != want {
			t.Errorf("part %d of %q: %d bytes (%v), want %d", i+1, v, len(b), err, want)
		}
	}
	if strings.Contains(v, "correct horse") {
		t.Error("verifier contains the plaintext")
	}
	if auth.SCRAMVerifier("correct horse") == v {
		t.Error("two verifiers of one password are equal: the salt is not random")
	}
}

const testRole = "_db9_test_pw"

// TestSCRAMVerifier_PostgreSQL checks the verifier against a real server:
// PostgreSQL stores it as is (were it not recognised as a verifier, it
// would be hashed as a plaintext password and differ), and a SCRAM login
// with the plaintext succeeds while a wrong password gets 28P01.
func TestSCRAMVerifier_PostgreSQL(t *testing.T) {
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	su, err := pgconn.Connect(ctx, c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	exec := func(sql string) []*pgconn.Result {
		t.Helper()
		rs, err := su.Exec(ctx, sql).ReadAll()
		if err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
		return rs
	}

	const password = "s3cret-Pa55 with 'quote' and ünïcode"
	v := auth.SCRAMVerifier(password)
	exec("CREATE ROLE " + testRole + " LOGIN")
	exec(fmt.Sprintf("ALTER ROLE %s PASSWORD '%s'", testRole, v))
	rs := exec("SELECT rolpassword FROM pg_authid WHERE rolname = '" + testRole + "'")
	if len(rs) != 1 || len(rs[0].Rows) != 1 {
		t.Fatalf("pg_authid rows: %+v", rs)
	}
	if got := string(rs[0].Rows[0][0]); got != v {
		t.Fatalf("rolpassword = %q, want the verifier %q as given (PostgreSQL did not take it as a verifier)", got, v)
	}

	hba := "local all " + testRole + " scram-sha-256\nlocal all all trust\n"
	if err := os.WriteFile(filepath.Join(layout.ClusterAt(c.Dir).Data, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		t.Fatal(err)
	}
	exec("SELECT pg_reload_conf()")

	connect := func(pw string) error {
		cs := c.ConnString(testRole) + " password='" + strings.ReplaceAll(pw, "'", `\'`) + "'"
		conn, err := pgconn.Connect(ctx, cs)
		if err == nil {
			conn.Close(ctx)
		}
		return err
	}
	isBadPassword := func(err error) bool {
		var pe *pgconn.PgError
		return errors.As(err, &pe) && pe.Code == "28P01"
	}
	// The reload is asynchronous: until it lands the role logs in by trust.
	deadline := time.Now().Add(10 * time.Second)
	for {
		err := connect("wrong password")
		if isBadPassword(err) {
			break
		}
		if err != nil {
			t.Fatalf("wrong password: error %v, want SQLSTATE 28P01", err)
		}
		if time.Now().After(deadline) {
			t.Fatal("pg_hba.conf reload did not take effect: a wrong password still logs in")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := connect(password); err != nil {
		t.Fatalf("login with the right password over SCRAM: %v", err)
	}
	for _, wrong := range []string{"", strings.ToUpper(password), password + " "} {
		if err := connect(wrong); !isBadPassword(err) {
			t.Errorf("login with %q: error %v, want SQLSTATE 28P01", wrong, err)
		}
	}
}

// TestSCRAMVerifier_MatchesPostgreSQLPlaintext compares, byte for byte, the
// verifier of each password with the one PostgreSQL derives from the same
// plaintext (with its salt): PostgreSQL and libpq prepare non-ASCII
// passwords with SASLprep, so a verifier of the raw bytes would lock the
// owner of such a password out without any error.
func TestSCRAMVerifier_MatchesPostgreSQLPlaintext(t *testing.T) {
	c := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	su, err := pgconn.Connect(ctx, c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	defer su.Close(ctx)
	if _, err := su.Exec(ctx, "SET password_encryption = 'scram-sha-256'; CREATE ROLE _db9_test_plain LOGIN").ReadAll(); err != nil {
		t.Fatal(err)
	}
	tests := []struct{ name, password string }{
		{"ASCII", "plain-Ascii_123 !"},
		{"NoBreakSpace", "pass\u00a0word!"},
		{"IdeographicSpace", "pass\u3000word"},
		{"ZeroWidthSpace", "pass\u200bword"},
		{"SoftHyphen", "soft\u00adhyphen"},
		{"ZeroWidthJoiner", "pass\u200dword"},
		{"Ligature", "\ufb01nance-pw"},
		{"DecomposedAccent", "pa\u0308ssword"},
		{"ComposedAccent", "pässword"},
		{"Fullwidth", "Ａｄｍｉｎ１２３"},
		{"Superscript", "x²-y³-Ⅻ-Å"},
		{"EmojiOnly", "pw-😀-emoji"},
		{"Hebrew", "שלום\u00a0עולם"},
		{"HebrewWithLatin", "שלום\u00a0abc"},
		{"ArabicPresentationForms", "ﻻﻻ\u00a0ﻻ"},
		{"PrivateUse", "pw\ue000\u00a0x"},
		{"OnlyMappedToNothing", "\u00ad\u00ad"},
		{"Quote", "it's-\u00a0quoted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lit := strings.ReplaceAll(tt.password, "'", "''")
			if _, err := su.Exec(ctx, "ALTER ROLE _db9_test_plain PASSWORD '"+lit+"'").ReadAll(); err != nil {
				t.Fatal(err)
			}
			rs, err := su.Exec(ctx, "SELECT rolpassword FROM pg_authid WHERE rolname = '_db9_test_plain'").ReadAll()
			if err != nil || len(rs) != 1 || len(rs[0].Rows) != 1 {
				t.Fatalf("read rolpassword: %v %+v", err, rs)
			}
			pgVerifier := string(rs[0].Rows[0][0])
			m := regexp.MustCompile(`^SCRAM-SHA-256\$(\d+):([^$]+)\$`).FindStringSubmatch(pgVerifier)
			if m == nil {
				t.Fatalf("PostgreSQL stored %q, not a SCRAM verifier", pgVerifier)
			}
			iterations, _ := strconv.Atoi(m[1])
			salt, err := base64.StdEncoding.DecodeString(m[2])
			if err != nil {
				t.Fatal(err)
			}
			if got := auth.ScramVerifierWithSalt(tt.password, salt, iterations); got != pgVerifier {
				t.Errorf("verifier of %q differs from PostgreSQL's:\n got %s\nwant %s", tt.password, got, pgVerifier)
			}
		})
	}
}
