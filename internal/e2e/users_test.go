package e2e

import (
	"context"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// frontDoorTry connects through the PostgreSQL front door (without TLS).
func frontDoorTry(t testing.TB, s *Server, user, password string) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	u := url.URL{Scheme: "postgresql", User: url.UserPassword(user, password), Host: s.PGAddr, Path: "/postgres", RawQuery: "sslmode=disable"}
	c, err := pgx.Connect(ctx, u.String())
	if err == nil {
		t.Cleanup(func() { c.Close(context.Background()) })
	}
	return c, err
}

// frontDoor connects through the front door or fails the test.
func frontDoor(t testing.TB, s *Server, user, password string) *pgx.Conn {
	t.Helper()
	c, err := frontDoorTry(t, s, user, password)
	if err != nil {
		t.Fatalf("connect %s through the front door: %v", user, err)
	}
	return c
}

type userListed struct {
	Username  string  `json:"username"`
	CanLogin  bool    `json:"can_login"`
	CreatedAt *string `json:"created_at"`
}

func listUsers(c *Client, db string) []userListed {
	c.t.Helper()
	var us []userListed
	c.MustDo("GET", "/customer/databases/"+db+"/users", nil, 200, &us)
	return us
}

func usernames(us []userListed) []string {
	var out []string
	for _, u := range us {
		out = append(out, u.Username)
	}
	return out
}

func TestUsers_CreateLoginDelete(t *testing.T) {
	t.Parallel()
	s := StartServer(t)
	c := s.Anonymous()
	db := c.CreateDB("users")
	base := "/customer/databases/" + db.ID + "/users"

	if got := usernames(listUsers(c, db.ID)); !slices.Equal(got, []string{"admin"}) {
		t.Fatalf("users of a fresh database = %v, want [admin]", got)
	}

	// Created with a chosen password: it logs in through the front door.
	var created struct{ Username, Password string }
	c.MustDo("POST", base, map[string]any{"username": "app_user", "password": "s3cret-Pass!"}, 201, &created)
	if created.Username != "app_user" || created.Password != "s3cret-Pass!" {
		t.Fatalf("created = %+v", created)
	}
	conn := frontDoor(t, s, db.ID+".app_user", "s3cret-Pass!")
	var who string
	if err := conn.QueryRow(context.Background(), "SELECT current_user").Scan(&who); err != nil || who != "app_user" {
		t.Fatalf("current_user through the front door = %q, %v", who, err)
	}
	if _, err := frontDoorTry(t, s, db.ID+".app_user", "wrong-password"); err == nil {
		t.Errorf("wrong password accepted")
	}

	// Generated password.
	var gen struct{ Username, Password string }
	c.MustDo("POST", base, map[string]any{"username": "reporter"}, 201, &gen)
	if len(gen.Password) < 16 {
		t.Fatalf("generated password %q", gen.Password)
	}
	frontDoor(t, s, db.Name+".reporter", gen.Password)

	us := listUsers(c, db.ID)
	if got := usernames(us); !slices.Equal(got, []string{"reporter", "app_user", "admin"}) {
		t.Errorf("users = %v, want newest first then admin", got)
	}
	for _, u := range us {
		if !u.CanLogin || (u.Username != "admin" && u.CreatedAt == nil) {
			t.Errorf("user %+v", u)
		}
	}

	// Conflicts and reserved names.
	c.MustDo("POST", base, map[string]any{"username": "app_user"}, 409, nil)
	for _, name := range []string{"admin", "anon", "authenticated", "pg_monitor", "pg_x", "_db9_super", "_db9x", "public", "Upper", "with space", "a.b", "", strings.Repeat("a", 64)} {
		code, body := c.Do("POST", base, map[string]any{"username": name})
		if code != 400 {
			t.Errorf("create user %q: %d %s, want 400", name, code, body)
		}
	}
	c.MustDo("POST", base, map[string]any{"username": "shortpw", "password": "short"}, 400, nil)
	c.MustDo("POST", base, map[string]any{}, 400, nil)

	// Objects the user owned pass to admin on delete; the user can no longer log in.
	c.MustSQL(db.ID, "GRANT CREATE ON SCHEMA public TO app_user")
	if _, err := conn.Exec(context.Background(), "CREATE TABLE public.owned_by_app (v int)"); err != nil {
		t.Fatalf("app_user creates a table: %v", err)
	}
	var msg map[string]string
	c.MustDo("DELETE", base+"/app_user", nil, 200, &msg)
	if msg["message"] == "" {
		t.Errorf("delete answer %v", msg)
	}
	if _, err := frontDoorTry(t, s, db.ID+".app_user", "s3cret-Pass!"); err == nil {
		t.Errorf("deleted user still logs in")
	}
	if owner := sqlValue(t, c, db.ID, "SELECT tableowner FROM pg_tables WHERE tablename = 'owned_by_app'"); owner != "admin" {
		t.Errorf("owner of the deleted user's table = %v, want admin", owner)
	}
	c.MustDo("DELETE", base+"/app_user", nil, 404, nil)
	c.MustDo("DELETE", base+"/nobody", nil, 404, nil)
	c.MustDo("DELETE", base+"/admin", nil, 400, nil)
	c.MustDo("DELETE", base+"/_db9_super", nil, 400, nil)
	if got := usernames(listUsers(c, db.ID)); !slices.Equal(got, []string{"reporter", "admin"}) {
		t.Errorf("users after delete = %v", got)
	}
	// admin still cannot create roles itself (no CREATEROLE by design).
	if r := c.SQL(db.ID, "CREATE ROLE sneaky LOGIN"); r.Error == nil || r.Error.Code != "42501" {
		t.Errorf("admin CREATE ROLE: %+v, want 42501", r.Error)
	}
}
