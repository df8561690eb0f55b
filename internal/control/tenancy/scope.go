package tenancy

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/db9/db9/internal/platform"
)

// Principal is the authenticated caller of a request.
type Principal struct {
	Customer platform.Customer
	TokenID  string
	// Scope limits the token to some databases; nil is full access.
	Scope *Scope
}

// DatabaseLookup resolves a caller's database by id or name with the
// rules of every /customer call: another customer's database, or one
// outside a scoped token's scope, is platform.CodeNotFound.
// control.Databases.GetDatabase is one.
type DatabaseLookup func(ctx context.Context, p Principal, idOrName string) (platform.Database, error)

// Access levels of a scoped token on a database.
const (
	AccessRO = "ro"
	AccessRW = "rw"
)

// Scope is the parsed scope of an API token: the databases it may see and
// how. A nil *Scope is full access.
type Scope struct {
	Databases []ScopeDatabase `json:"databases"`
}

// ScopeDatabase is one database of a scope.
type ScopeDatabase struct {
	ID     string `json:"id"`
	Access string `json:"access"`
}

// Access returns the token's access to database id ("" = none).
func (s *Scope) Access(id string) string {
	if s == nil {
		return AccessRW
	}
	for _, d := range s.Databases {
		if d.ID == id {
			return d.Access
		}
	}
	return ""
}

// maxScopeDatabases bounds the databases one token's scope may name.
const maxScopeDatabases = 100

// ParseStoredScope decodes a scope as the catalog stores it.
func ParseStoredScope(raw []byte) (*Scope, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return nil, nil
	}
	var s Scope
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("decode stored scope: %w", err)
	}
	return &s, nil
}

// ParseScopeJSON decodes scope_json as a client sends it. It is strict:
// unknown keys are refused (a misspelt key must not widen a token), every
// access is ro or rw, at least one database, no database twice.
func ParseScopeJSON(text string) (*Scope, error) {
	bad := func(format string, args ...any) error {
		return platform.Errorf(platform.CodeInvalid, "scope_json: "+format, args...)
	}
	dec := json.NewDecoder(strings.NewReader(text))
	dec.DisallowUnknownFields()
	var s Scope
	if err := dec.Decode(&s); err != nil {
		return nil, bad(`must be a JSON object {"databases":[{"id":"...","access":"ro"|"rw"}]}: %v`, err)
	}
	if dec.More() {
		return nil, bad("has data after the JSON object")
	}
	if len(s.Databases) == 0 {
		return nil, bad("databases: must name at least one database")
	}
	if len(s.Databases) > maxScopeDatabases {
		return nil, bad("databases: at most %d", maxScopeDatabases)
	}
	for i, d := range s.Databases {
		if d.ID == "" {
			return nil, bad("databases[%d].id: required", i)
		}
		if d.Access != AccessRO && d.Access != AccessRW {
			return nil, bad(`databases[%d].access: must be "ro" or "rw"`, i)
		}
	}
	return &s, nil
}

// RequireUnscoped refuses scoped tokens: account-wide operations (creating
// and deleting databases, managing tokens, claim, adopt) need full access.
func RequireUnscoped(p Principal) error {
	if p.Scope != nil {
		return platform.Errorf(platform.CodeForbidden, "this operation needs an unscoped API token")
	}
	return nil
}

// RequireWrite refuses tokens with read-only access to database id.
func RequireWrite(p Principal, id string) error {
	if p.Scope.Access(id) != AccessRW {
		return platform.Errorf(platform.CodeForbidden, "this API token has read-only access to the database")
	}
	return nil
}
