package client

import (
	"context"
	"net/url"
	"time"
)

// UsersService is the login roles customers make in a database (not the
// accounts that own databases: see AccountsService).
type UsersService service

// User is a database role as the users endpoint lists it.
type User struct {
	Username  string     `json:"username"`
	CanLogin  bool       `json:"can_login"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
}

// NewUser is the answer of creating a user: its password shows only here.
type NewUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// List lists the roles customers made in db, plus admin.
func (s *UsersService) List(ctx context.Context, db string) ([]User, error) {
	var us []User
	err := s.client.call(ctx, "GET", dbPath(db, "users"), true, nil, &us)
	return us, err
}

// Create creates a login role; an empty password is generated.
func (s *UsersService) Create(ctx context.Context, db, username, password string) (NewUser, error) {
	in := map[string]string{"username": username}
	if password != "" {
		in["password"] = password
	}
	var u NewUser
	err := s.client.call(ctx, "POST", dbPath(db, "users"), true, in, &u)
	return u, err
}

// Delete drops a role.
func (s *UsersService) Delete(ctx context.Context, db, username string) (Message, error) {
	var m Message
	err := s.client.call(ctx, "DELETE", dbPath(db, "users", url.PathEscape(username)), true, nil, &m)
	return m, err
}
