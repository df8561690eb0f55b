package e2e

import (
	"context"
	"encoding/json"
	"regexp"
	"testing"
)

// TestSDKFields: the answers carry the field names DB9's TypeScript SDK
// reads, besides db9's own: users list items {name, is_superuser,
// can_login, can_create_db, can_create_role}, schema columns
// default_value, and a token created without a name gets one.
func TestSDKFields(t *testing.T) {
	t.Parallel()
	s := StartServer(t, "--warm-pool", "1", "--spare-pool", "1")
	c := s.Anonymous()
	db := c.CreateDB("sdk")
	c.MustDo("POST", "/customer/databases/sdk/users", map[string]any{"username": "app_user"}, 201, nil)
	ctx := context.Background()

	// Users: the SDK's fields agree with the role's attributes in the instance.
	var users []map[string]any
	c.MustDo("GET", "/customer/databases/sdk/users", nil, 200, &users)
	if len(users) != 2 {
		t.Fatalf("users = %v, want app_user and admin", users)
	}
	sc := s.superConn(t, db.ID)
	for _, u := range users {
		name, _ := u["name"].(string)
		if name == "" || name != u["username"] {
			t.Errorf("user %v: name %q, want the username", u, u["name"])
			continue
		}
		var login, super, createDB, createRole bool
		if err := sc.QueryRow(ctx, "select rolcanlogin, rolsuper, rolcreatedb, rolcreaterole from pg_roles where rolname = $1", name).
			Scan(&login, &super, &createDB, &createRole); err != nil {
			t.Fatal(err)
		}
		want := map[string]bool{"can_login": login, "is_superuser": super, "can_create_db": createDB, "can_create_role": createRole}
		for k, v := range want {
			if got, ok := u[k].(bool); !ok || got != v {
				t.Errorf("user %s: %s = %v, want %v", name, k, u[k], v)
			}
		}
		// Neither may become superuser nor make roles (ARCHITECTURE.md §2).
		if super || createRole || !login {
			t.Errorf("user %s: superuser %v, createrole %v, login %v", name, super, createRole, login)
		}
	}

	// Schema columns: default_value repeats default.
	c.MustSQL(db.ID, "create table items (id bigint generated always as identity primary key, n int default 42, label text)")
	var schema struct {
		Tables []struct {
			Name    string
			Columns []map[string]any
		}
	}
	c.MustDo("GET", "/customer/databases/sdk/schema", nil, 200, &schema)
	if len(schema.Tables) != 1 || len(schema.Tables[0].Columns) != 3 {
		t.Fatalf("schema = %+v", schema)
	}
	for _, col := range schema.Tables[0].Columns {
		dv, ok := col["default_value"]
		if !ok || dv != col["default"] {
			t.Errorf("column %v: default_value %v, want default %v", col["name"], dv, col["default"])
		}
	}
	if n := schema.Tables[0].Columns[1]; n["default_value"] != "42" {
		t.Errorf("column n: default_value %v, want \"42\"", n["default_value"])
	}
	if l := schema.Tables[0].Columns[2]; l["default_value"] != nil {
		t.Errorf("column label: default_value %v, want null", l["default_value"])
	}

	// Tokens: without a name (or with null) a name is generated; an empty
	// name is still refused.
	for _, body := range []any{map[string]any{}, map[string]any{"name": nil, "expires_in_days": 1}} {
		var tok tokenCreated
		c.MustDo("POST", "/customer/tokens", body, 201, &tok)
		if !regexp.MustCompile(`^token-\d{8}-\d{6}$`).MatchString(tok.Name) || tok.Token == "" {
			t.Errorf("token made from %v: name %q", body, tok.Name)
		}
		c.as(tok.Token).MustDo("GET", "/customer/me", nil, 200, nil)
		var list []tokenListed
		c.MustDo("GET", "/customer/tokens", nil, 200, &list)
		found := false
		for _, l := range list {
			found = found || l.ID == tok.ID && l.Name == tok.Name
		}
		if !found {
			b, _ := json.Marshal(list)
			t.Errorf("token %s (%s) not listed under its name: %s", tok.ID, tok.Name, b)
		}
	}
	if code, body := c.Do("POST", "/customer/tokens", map[string]any{"name": ""}); code != 400 {
		t.Errorf("empty token name: %d %s, want 400", code, body)
	}
}
