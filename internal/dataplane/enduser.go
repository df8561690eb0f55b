package dataplane

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/db9/db9/internal/control/dataaccess"
	"github.com/db9/db9/internal/dataapi"
	"github.com/db9/db9/internal/jwtverify"
)

// rolesTTL is how long a database's set of claimable roles is trusted for
// a role it holds. A role it lacks reloads it at once (roles are not seen
// by DDL event triggers, so there is no cheaper signal; a role made a
// moment ago must work): only validly signed tokens get that far, and the
// query is one small catalog read, as cheap as the request itself.
const rolesTTL = 30 * time.Second

// endUsers verifies end users' JWTs: one jwtverify.Verifier per database
// and auth-config version, and the roles a token may claim per database.
type endUsers struct {
	kc      *jwtverify.KeyCache
	backend dataapi.Backend
	now     func() time.Time

	mu        sync.Mutex
	verifiers map[string]verifierEntry // database id
	roles     map[string]roleSet       // database id
}

type verifierEntry struct {
	version int64
	v       *jwtverify.Verifier
}

type roleSet struct {
	names  map[string]bool
	loaded time.Time
}

func newEndUsers(kc *jwtverify.KeyCache, b dataapi.Backend) *endUsers {
	return &endUsers{kc: kc, backend: b, now: time.Now,
		verifiers: map[string]verifierEntry{}, roles: map[string]roleSet{}}
}

// errNoAuthConfig marks a JWT sent to a database without byo_jwt.
var errNoAuthConfig = errors.New("this database accepts no end-user JWTs (auth_mode is none)")

// verifier returns the verifier of the database's current auth-config.
func (e *endUsers) verifier(cfg dataaccess.AuthConfig, db string) (*jwtverify.Verifier, error) {
	if cfg.Mode != dataaccess.AuthModeBYOJWT || cfg.BYOJWT == nil {
		return nil, errNoAuthConfig
	}
	e.mu.Lock()
	ent, ok := e.verifiers[db]
	e.mu.Unlock()
	if ok && ent.version == cfg.Version {
		return ent.v, nil
	}
	v, err := jwtverify.New(*cfg.BYOJWT, e.kc)
	if err != nil {
		return nil, fmt.Errorf("build verifier of %s: %w", db, err)
	}
	e.mu.Lock()
	if cur, ok := e.verifiers[db]; !ok || cur.version <= cfg.Version {
		e.verifiers[db] = verifierEntry{version: cfg.Version, v: v}
	}
	e.mu.Unlock()
	return v, nil
}

// claimableRolesSQL lists the roles a token may claim that the
// authenticator can also switch to.
const claimableRolesSQL = `SELECT r.rolname FROM (` + jwtverify.ClaimableRolesSQL +
	`) r WHERE pg_catalog.pg_has_role(r.rolname, 'MEMBER')`

// checkRole reports whether role may be claimed in database db, from the
// cached set, reloading it when old or when it lacks role.
func (e *endUsers) checkRole(ctx context.Context, db, role string) (bool, error) {
	if jwtverify.CheckRoleName(role) != nil {
		return false, nil
	}
	now := e.now()
	e.mu.Lock()
	rs, ok := e.roles[db]
	e.mu.Unlock()
	if ok && rs.names[role] && now.Sub(rs.loaded) < rolesTTL {
		return true, nil
	}
	names, err := e.loadRoles(ctx, db)
	if err != nil {
		return false, err
	}
	e.mu.Lock()
	e.roles[db] = roleSet{names: names, loaded: now}
	e.mu.Unlock()
	return names[role], nil
}

func (e *endUsers) loadRoles(ctx context.Context, db string) (map[string]bool, error) {
	c, err := e.backend.Acquire(ctx, db)
	if err != nil {
		return nil, err
	}
	defer c.Release()
	res, err := c.PgConn().Exec(ctx, claimableRolesSQL).ReadAll()
	if err != nil {
		return nil, fmt.Errorf("list claimable roles of %s: %w", db, err)
	}
	names := map[string]bool{}
	for _, r := range res {
		for _, row := range r.Rows {
			names[string(row[0])] = true
		}
	}
	return names, nil
}

// forget drops what is cached for a database.
func (e *endUsers) forget(db string) {
	e.mu.Lock()
	delete(e.verifiers, db)
	delete(e.roles, db)
	e.mu.Unlock()
}
