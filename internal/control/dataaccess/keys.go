package dataaccess

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/cors"
	"github.com/db9/db9/internal/platform"
	"github.com/db9/db9/internal/ratelimit"
)

// Kinds as the catalog stores them.
const (
	kindPublishable = "publishable"
	kindService     = "service"
)

func kindName(k auth.KeyKind) (string, error) {
	switch k {
	case auth.PublishableKey:
		return kindPublishable, nil
	case auth.ServiceKey:
		return kindService, nil
	}
	return "", fmt.Errorf("unknown key kind %d", k)
}

// Bounds of a key's settings.
const (
	maxKeyList     = 100 // entries of allowed_origins, exposed_schemas, exposed_tables
	maxKeyDays     = 3650
	maxRateRPS     = 100_000
	maxRateBurst   = 100_000
	maxKeyNameRune = 100
)

// DataKeyRequest is the input of CreateDataKey; nil means the default.
// Only Name and ExpiresInDays apply to service keys.
type DataKeyRequest struct {
	Name           *string
	AllowedOrigins []string // nil: ["*"]
	ExposedSchemas []string // nil: ["public"]
	ExposedTables  []string // nil: [] (every table of the exposed schemas)
	RateLimit      *ratelimit.Limit
	ExpiresInDays  *int
}

// DataKeyInfo is a key as its owner sees it (never its secret).
type DataKeyInfo struct {
	DataKey
	LastUsedAt *time.Time
}

// CreatedDataKey is a new key with its secret, shown once.
type CreatedDataKey struct {
	DataKeyInfo
	Secret string
}

// CreateDataKey makes a publishable or service key for a database.
func (d *DataPlane) CreateDataKey(ctx context.Context, p tenancy.Principal, idOrName string, kind auth.KeyKind, req DataKeyRequest) (CreatedDataKey, error) {
	kn, err := kindName(kind)
	if err != nil {
		return CreatedDataKey{}, err
	}
	db, err := d.lookup(ctx, p, idOrName)
	if err != nil {
		return CreatedDataKey{}, err
	}
	if err := tenancy.RequireWrite(p, db.ID); err != nil {
		return CreatedDataKey{}, err
	}
	row, err := buildDataKey(kind, req)
	if err != nil {
		return CreatedDataKey{}, err
	}
	row.ID, row.DatabaseID, row.CustomerID, row.Kind = platform.NewID(16), db.ID, db.CustomerID, kn
	secret := auth.NewPublishableKey()
	if kind == auth.ServiceKey {
		secret = auth.NewServiceKey()
	}
	row, err = d.cat.DataPlane.InsertKey(ctx, row, auth.HashDataKey(secret))
	if err != nil {
		return CreatedDataKey{}, fmt.Errorf("record %s key: %w", kn, err)
	}
	return CreatedDataKey{DataKeyInfo: DataKeyInfo{DataKey: dataKeyFromRow(row, db.Name)}, Secret: secret}, nil
}

// buildDataKey validates a request and fills the defaults of API.md.
func buildDataKey(kind auth.KeyKind, req DataKeyRequest) (catalog.DataKey, error) {
	bad := func(format string, args ...any) error { return platform.Errorf(platform.CodeInvalid, format, args...) }
	k := catalog.DataKey{Name: kind.String() + "-key", AllowedOrigins: []string{}, ExposedSchemas: []string{}, ExposedTables: []string{}}
	if req.Name != nil {
		k.Name = *req.Name
		if k.Name == "" || utf8.RuneCountInString(k.Name) > maxKeyNameRune || strings.ContainsFunc(k.Name, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
			return k, bad("name: must be 1 to %d characters without control characters", maxKeyNameRune)
		}
	}
	if req.ExpiresInDays != nil {
		n := *req.ExpiresInDays
		if n < 1 || n > maxKeyDays {
			return k, bad("expires_in_days: must be from 1 to %d", maxKeyDays)
		}
		exp := time.Now().Add(time.Duration(n) * 24 * time.Hour).UTC().Truncate(time.Second)
		k.ExpiresAt = &exp
	}
	if kind == auth.ServiceKey {
		return k, nil
	}
	k.AllowedOrigins = []string{"*"}
	if req.AllowedOrigins != nil {
		if len(req.AllowedOrigins) > maxKeyList {
			return k, bad("allowed_origins: at most %d entries", maxKeyList)
		}
		if o, ok := cors.ValidateOrigins(req.AllowedOrigins); !ok {
			return k, bad(`allowed_origins: %q is not "*" nor an origin like https://app.example.com (scheme://host[:port], no path)`, o)
		}
		k.AllowedOrigins = req.AllowedOrigins
	}
	k.ExposedSchemas = []string{"public"}
	if req.ExposedSchemas != nil {
		if len(req.ExposedSchemas) == 0 || len(req.ExposedSchemas) > maxKeyList {
			return k, bad("exposed_schemas: 1 to %d schema names", maxKeyList)
		}
		seen := map[string]bool{}
		for _, s := range req.ExposedSchemas {
			if err := exposableSchema(s); err != nil {
				return k, bad("exposed_schemas: %v", err)
			}
			if seen[s] {
				return k, bad("exposed_schemas: %q named twice", s)
			}
			seen[s] = true
		}
		k.ExposedSchemas = req.ExposedSchemas
	}
	if req.ExposedTables != nil {
		if len(req.ExposedTables) > maxKeyList {
			return k, bad("exposed_tables: at most %d entries", maxKeyList)
		}
		for _, t := range req.ExposedTables {
			schema, name, qualified := strings.Cut(t, ".")
			if !qualified {
				schema, name = "", t
			}
			if checkIdent(name) != nil || qualified && checkIdent(schema) != nil {
				return k, bad(`exposed_tables: %q is not "table" or "schema.table" (names of 1-63 bytes without dots, quotes or control characters)`, t)
			}
			if qualified && !slices.Contains(k.ExposedSchemas, schema) {
				return k, bad("exposed_tables: %q is in a schema not in exposed_schemas", t)
			}
		}
		k.ExposedTables = req.ExposedTables
	}
	if l := req.RateLimit; l != nil {
		if !l.Valid() || l.RPS > maxRateRPS || l.Burst > maxRateBurst {
			return k, bad("rate_limit: rps must be above 0 and at most %d, burst from 1 to %d", maxRateRPS, maxRateBurst)
		}
		k.RateRPS, k.RateBurst = &l.RPS, &l.Burst
	}
	return k, nil
}

// checkIdent checks a schema or table name of a key's settings: a plain
// PostgreSQL name as it is stored (case kept), never quoted.
func checkIdent(s string) error {
	if s == "" || len(s) > 63 || strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '.' }) {
		return errors.New("bad name")
	}
	return nil
}

// exposableSchema refuses schemas a key may never expose: PostgreSQL's
// own and the platform's.
func exposableSchema(s string) error {
	if checkIdent(s) != nil {
		return fmt.Errorf("%q is not a schema name (1-63 bytes without dots, quotes or control characters)", s)
	}
	if strings.HasPrefix(s, "pg_") || s == "information_schema" || strings.HasPrefix(s, tenancy.PlatformSchema) || slices.Contains(tenancy.PlatformSchemas(), s) {
		return fmt.Errorf("%q belongs to PostgreSQL or the platform and cannot be exposed", s)
	}
	return nil
}

// ListDataKeys lists a database's unrevoked keys of one kind (expired ones
// included), newest first. Read-only tokens may list.
func (d *DataPlane) ListDataKeys(ctx context.Context, p tenancy.Principal, idOrName string, kind auth.KeyKind) ([]DataKeyInfo, error) {
	kn, err := kindName(kind)
	if err != nil {
		return nil, err
	}
	db, err := d.lookup(ctx, p, idOrName)
	if err != nil {
		return nil, err
	}
	rows, err := d.cat.DataPlane.ListKeys(ctx, db.ID, kn)
	if err != nil {
		return nil, err
	}
	out := make([]DataKeyInfo, len(rows))
	for i, r := range rows {
		out[i] = DataKeyInfo{DataKey: dataKeyFromRow(r, db.Name), LastUsedAt: r.LastUsedAt}
	}
	return out, nil
}

// RevokeDataKey revokes a key; it stops working at once in this process
// (and within tenancy.CacheTTL in others sharing the catalog).
func (d *DataPlane) RevokeDataKey(ctx context.Context, p tenancy.Principal, idOrName string, kind auth.KeyKind, keyID string) error {
	kn, err := kindName(kind)
	if err != nil {
		return err
	}
	db, err := d.lookup(ctx, p, idOrName)
	if err != nil {
		return err
	}
	if err := tenancy.RequireWrite(p, db.ID); err != nil {
		return err
	}
	what := kind.String() + " key"
	if keyID == "" || len(keyID) > 64 {
		return platform.NotFound(what)
	}
	err = d.cat.DataPlane.RevokeKey(ctx, db.ID, kn, keyID)
	if errors.Is(err, catalog.ErrNotFound) {
		return platform.NotFound(what)
	}
	if err != nil {
		return err
	}
	d.invalidate("", func(k DataKey) bool { return k.ID == keyID })
	return nil
}
