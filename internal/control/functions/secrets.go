package functions

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/catalog"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/platform"
)

// SecretInfo is a secret as the API shows it: never its value.
type SecretInfo struct {
	Name      string
	CreatedAt time.Time
	UpdatedAt time.Time
}

// maxSecretBytes bounds one secret's value.
const maxSecretBytes = 64 << 10

// Secrets holds the use cases of a database's secrets, which functions
// bind by name (their values are opened only for a run, by Functions).
// Secrets need rw access even to list: an ro token may read functions,
// runs and logs, not manage secrets (API.md).
type Secrets struct {
	resolver
	sealer *auth.Sealer
}

// NewSecrets returns the secrets use cases; sealer seals values with the
// master key, lookup is the database lookup of the /customer API.
func NewSecrets(cat *catalog.Catalog, sealer *auth.Sealer, lookup tenancy.DatabaseLookup) *Secrets {
	return &Secrets{resolver: resolver{cat: cat, lookup: lookup}, sealer: sealer}
}

// ListSecrets lists a database's secrets by name, without values.
func (sec *Secrets) ListSecrets(ctx context.Context, p tenancy.Principal, dbRef string) ([]SecretInfo, error) {
	db, err := sec.database(ctx, p, dbRef, true)
	if err != nil {
		return nil, err
	}
	all, err := sec.cat.Secrets.List(ctx, db.ID)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out := make([]SecretInfo, len(all))
	for i, s := range all {
		out[i] = SecretInfo{Name: s.Name, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}
	}
	return out, nil
}

// PutSecret creates or replaces a secret, sealed with the master key.
func (sec *Secrets) PutSecret(ctx context.Context, p tenancy.Principal, dbRef, name, value string) (SecretInfo, error) {
	db, err := sec.database(ctx, p, dbRef, true)
	if err != nil {
		return SecretInfo{}, err
	}
	if !secretName.MatchString(name) {
		return SecretInfo{}, platform.Errorf(platform.CodeInvalid, "name: 1-128 letters, digits or '_', not starting with a digit")
	}
	if len(value) > maxSecretBytes {
		return SecretInfo{}, platform.Errorf(platform.CodeInvalid, "value: at most %d bytes", maxSecretBytes)
	}
	s, err := sec.cat.Secrets.Put(ctx, db.ID, name, sec.sealer.Seal(value))
	if err != nil {
		return SecretInfo{}, fmt.Errorf("store secret: %w", err)
	}
	return SecretInfo{Name: name, CreatedAt: s.CreatedAt, UpdatedAt: s.UpdatedAt}, nil
}

// DeleteSecret removes a secret.
func (sec *Secrets) DeleteSecret(ctx context.Context, p tenancy.Principal, dbRef, name string) error {
	db, err := sec.database(ctx, p, dbRef, true)
	if err != nil {
		return err
	}
	err = sec.cat.Secrets.Delete(ctx, db.ID, name)
	if errors.Is(err, catalog.ErrNotFound) {
		return platform.NotFound("secret")
	}
	return err
}
