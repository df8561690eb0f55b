package e2e

import (
	"context"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/db9/db9/internal/auth"
)

// TestProxy_Refusals checks that every bad login is refused with its
// SQLSTATE, over TLS and without.
func TestProxy_Refusals(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	other := f.c.CreateDB("other")
	var otherTok, anonTok, userTok struct{ Token string }
	f.c.MustDo("POST", "/customer/databases/other/connect-token", nil, 200, &otherTok)
	f.c.MustDo("POST", "/customer/databases/front/connect-token", map[string]any{"role": "anon"}, 200, &anonTok)
	f.c.MustDo("POST", "/customer/databases/front/connect-token", map[string]any{"role": "app_user"}, 200, &userTok)
	admin := f.db.ID + ".admin"
	token := f.creds[2].password

	// A token made with the server's own key, at another time. Re-dated
	// into the future it works: what refuses the expired one is its date.
	expired := redatedConnectToken(t, f.s.DataDir, token, -time.Second)
	f.s.mustPG(t, admin, redatedConnectToken(t, f.s.DataDir, token, 5*time.Minute), "disable")
	parts := strings.Split(token, ".")
	tampered := parts[0] + "." + strings.Replace(parts[1], parts[1][10:14], "AAAA", 1) + "." + parts[2]
	foreign, err := auth.LoadOrCreateConnectKey(t.TempDir()) // another server's key
	if err != nil {
		t.Fatal(err)
	}
	foreignKey, _, _ := foreign.Sign(f.db.ID, "admin")

	// A revoked key.
	var key struct {
		ID         string `json:"id"`
		ConnectKey string `json:"connect_key"`
	}
	f.c.MustDo("POST", "/customer/databases/front/connect-keys", map[string]any{"name": "gone"}, 201, &key)
	f.s.mustPG(t, admin, key.ConnectKey, "disable") // works before
	f.c.MustDo("DELETE", "/customer/databases/front/connect-keys/"+key.ID, nil, 200, nil)

	cases := []struct {
		name, user, password, state string
	}{
		{"wrong password", admin, "not-the-password", "28P01"},
		{"wrong user password", f.db.ID + ".app_user", "nope-nope-nope", "28P01"},
		{"unknown role", f.db.ID + ".ghost", "whatever-pw", "28P01"},
		{"expired token", admin, expired, "28P01"},
		{"tampered token", admin, tampered, "28P01"},
		{"token signed by another key", admin, foreignKey, "28P01"},
		{"token for another database", admin, otherTok.Token, "28P01"},
		{"token for another database, by name", "front.admin", otherTok.Token, "28P01"},
		{"token for another role", f.db.ID + ".app_user", token, "28P01"},
		{"user token used as admin", admin, userTok.Token, "28P01"},
		{"revoked key", admin, key.ConnectKey, "28P01"},
		{"unknown key", admin, "db9ck_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", "28P01"},
		{"key for another database", other.ID + ".admin", f.creds[3].password, "28P01"},
		{"unknown database", "nosuchdb.admin", "whatever-pw", "3D000"},
		{"unknown database id", "aaaaaaaaaaaa.admin", "whatever-pw", "3D000"},
		{"no role in user", f.db.ID, f.db.AdminPassword, "28000"},
		{"platform superuser", f.db.ID + "._db9_super", f.db.AdminPassword, "28000"},
		{"read-only platform role", f.db.ID + "._db9_sys_readonly", f.db.AdminPassword, "28000"},
		{"data API authenticator", f.db.ID + "._db9_authenticator", f.db.AdminPassword, "28000"},
		{"data API service role (NOLOGIN)", f.db.ID + ".service_role", f.db.AdminPassword, "28P01"},
		{"role that may not log in", f.db.ID + ".anon", anonTok.Token, "28000"},
	}
	for _, mode := range sslModes {
		for _, tc := range cases {
			_, err := f.s.pgConnect(t, tc.user, tc.password, mode)
			wantSQLState(t, tc.name+" sslmode="+mode, err, tc.state)
		}
	}

	// Another PostgreSQL database than postgres.
	ctx := context.Background()
	_, err = pgxConnectURL(ctx, strings.Replace(f.s.pgURL(admin, f.db.AdminPassword, "disable"), "/postgres?", "/template1?", 1))
	wantSQLState(t, "database template1", err, "3D000")

	// Client options may not set the claims the token carries.
	_, err = pgxConnectURL(ctx, f.s.pgURL(admin, token, "disable")+"&options=-c%20request.jwt.claim.sub%3Dforged")
	wantSQLState(t, "options setting request.jwt.*", err, "28000")

	// Deleting a database ends its sessions and its logins at once.
	sess := f.s.mustPG(t, other.ID+".admin", other.AdminPassword, "require")
	if _, err := sess.Exec(ctx, "select 1"); err != nil {
		t.Fatal(err)
	}
	f.c.MustDo("DELETE", "/customer/databases/other", nil, 200, nil)
	if _, err := sess.Exec(ctx, "select 1"); err == nil {
		t.Error("a session of a deleted database still answers")
	}
	_, err = f.s.pgConnect(t, other.ID+".admin", other.AdminPassword, "disable")
	wantSQLState(t, "login to a deleted database", err, "3D000")

	// A new admin password works at once; the old one stops at once.
	f.s.mustPG(t, admin, f.db.AdminPassword, "disable") // cached check
	var cred struct {
		AdminPassword string `json:"admin_password"`
	}
	f.c.MustDo("POST", "/customer/databases/front/reset-password", nil, 200, &cred)
	_, err = f.s.pgConnect(t, admin, f.db.AdminPassword, "disable")
	wantSQLState(t, "old password after reset", err, "28P01")
	f.s.mustPG(t, admin, cred.AdminPassword, "disable")
}

// TestProxy_ClaimsAndParameters checks the session settings of a token
// login and that startup parameters reach the backend.
func TestProxy_ClaimsAndParameters(t *testing.T) {
	t.Parallel()
	f := newProxyFixture(t)
	ctx := context.Background()
	url := f.s.pgURL(f.db.ID+".admin", f.creds[2].password, "require") +
		"&application_name=claims-test&options=-c%20search_path%3Dextensions,public"
	conn, err := pgxConnectURL(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var app, sp, tid, role, usr, claims string
	err = conn.QueryRow(ctx, `select current_setting('application_name'), current_setting('search_path'),
		current_setting('request.jwt.claim.tid'), auth.role(), auth.jwt()->>'usr', current_setting('request.jwt.claims')`).
		Scan(&app, &sp, &tid, &role, &usr, &claims)
	if err != nil {
		t.Fatal(err)
	}
	if app != "claims-test" || sp != "extensions,public" || tid != f.db.ID || role != "admin" || usr != "admin" ||
		!strings.Contains(claims, `"aud":"db9-server"`) {
		t.Errorf("settings: app %q search_path %q tid %q role %q usr %q claims %s", app, sp, tid, role, usr, claims)
	}
	// A password login carries no claims.
	pc := f.s.mustPG(t, "front.admin", f.db.AdminPassword, "disable")
	var none *string
	if err := pc.QueryRow(ctx, `select current_setting('request.jwt.claims', true)`).Scan(&none); err != nil || none != nil && *none != "" {
		t.Errorf("password login: request.jwt.claims = %v (%v), want unset", none, err)
	}
}

// redatedConnectToken is token, a connect token the server issued,
// re-dated to expire expiresIn from now (negative: in the past) and
// signed again with the server's key: db9 never issues an expired token.
func redatedConnectToken(t *testing.T, dataDir, token string, expiresIn time.Duration) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "secrets", "connect-jwt.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		t.Fatal("connect-jwt.pem: no PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(token, ".")
	dec := base64.RawURLEncoding
	body, err := dec.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(body, &claims); err != nil {
		t.Fatal(err)
	}
	life := claims["exp"].(float64) - claims["iat"].(float64)
	exp := float64(time.Now().Add(expiresIn).Unix())
	claims["iat"], claims["exp"] = exp-life, exp
	if body, err = json.Marshal(claims); err != nil {
		t.Fatal(err)
	}
	signing := parts[0] + "." + dec.EncodeToString(body)
	sum := sha256.Sum256([]byte(signing))
	sig, err := rsa.SignPKCS1v15(nil, k.(*rsa.PrivateKey), crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + dec.EncodeToString(sig)
}
