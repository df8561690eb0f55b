package dbadmin

import (
	"context"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/db9/db9/internal/auth"
	"github.com/db9/db9/internal/control/tenancy"
	"github.com/db9/db9/internal/dataapi"
	"github.com/db9/db9/internal/logkey"
	"github.com/db9/db9/internal/placement"
	"github.com/db9/db9/internal/platform"
)

// User is a database role as GET .../users shows it, with the role
// attributes DB9's SDK reads.
type User struct {
	Username      string
	CanLogin      bool
	IsSuperuser   bool
	CanCreateDB   bool
	CanCreateRole bool
	CreatedAt     *time.Time // nil for admin
}

// usernameRE is the shape of usernames made through the API: PostgreSQL
// identifiers that need no quoting, so the wire user "<db>.<role>" and
// psql both take them as written.
var usernameRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)

// reservedUsername reports names the API does not hand out or take away:
// the platform's roles, PostgreSQL's, and names PostgreSQL reserves.
func reservedUsername(name string) bool {
	switch name {
	case placement.AdminRole, "anon", "authenticated", "service_role", "postgres", "public", "none", "current_user", "current_role", "session_user":
		return true
	}
	return strings.HasPrefix(name, "pg_") || strings.HasPrefix(name, "_db9")
}

func checkUsername(name string) error {
	if !usernameRE.MatchString(name) {
		return platform.Errorf(platform.CodeInvalid, "username: must be 1-63 characters of a-z, 0-9 and '_', not starting with a digit")
	}
	if reservedUsername(name) {
		return platform.Errorf(platform.CodeInvalid, "username: %q is reserved", name)
	}
	return nil
}

// customerRolesSQL selects the roles customers made, plus admin: the
// platform's and PostgreSQL's own roles are left out.
const customerRolesSQL = `SELECT r.rolname, r.rolcanlogin, pg_catalog.date_part('epoch', u.created_at),
	  r.rolsuper, r.rolcreatedb, r.rolcreaterole
	FROM pg_catalog.pg_roles r LEFT JOIN _db9.users u ON u.username OPERATOR(pg_catalog.=) r.rolname
	WHERE r.rolname OPERATOR(pg_catalog.=) 'admin' OR (NOT r.rolsuper
	  AND NOT r.rolname OPERATOR(pg_catalog.~~) 'pg\_%' AND NOT r.rolname OPERATOR(pg_catalog.~~) '\_db9%'
	  AND r.rolname OPERATOR(pg_catalog.<>) ALL (ARRAY['anon', 'authenticated', 'service_role'])
	  AND NOT (r.rolname OPERATOR(pg_catalog.=) 'postgres' AND u.username IS NULL))
	ORDER BY u.created_at DESC NULLS LAST, r.rolname`

// ListUsers lists the roles customers made in a database, plus admin.
func (q *SQL) ListUsers(ctx context.Context, p tenancy.Principal, idOrName string) ([]User, error) {
	d, err := q.openDB(ctx, p, idOrName, false)
	if err != nil {
		return nil, err
	}
	defer d.close()
	conn, err := d.superuser(ctx)
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	rr := conn.ExecParams(ctx, customerRolesSQL, nil, nil, nil, nil)
	var out []User
	for rr.NextRow() {
		v := rr.Values()
		u := User{Username: string(v[0]), CanLogin: string(v[1]) == "t",
			IsSuperuser: string(v[3]) == "t", CanCreateDB: string(v[4]) == "t", CanCreateRole: string(v[5]) == "t"}
		if v[2] != nil {
			t, err := parsePGTime(string(v[2]))
			if err != nil {
				rr.Close()
				return nil, err
			}
			u.CreatedAt = &t
		}
		out = append(out, u)
	}
	if _, err := rr.Close(); err != nil {
		return nil, fmt.Errorf("list users of %s: %w", d.row.ID, err)
	}
	return out, nil
}

// parsePGTime parses the text of extract(epoch FROM timestamptz), which,
// unlike timestamptz output, does not depend on settings the tenant may
// change (DateStyle, TimeZone).
func parsePGTime(s string) (time.Time, error) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("parse epoch %q: %w", s, err)
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e6)*1e3).UTC(), nil
}

// CreateUser creates a login role in a database. The password (generated
// when empty) reaches the instance only as a SCRAM verifier.
func (q *SQL) CreateUser(ctx context.Context, p tenancy.Principal, idOrName, username, password string) (string, error) {
	if err := checkUsername(username); err != nil {
		return "", err
	}
	if password == "" {
		password = auth.NewPassword()
	} else if len(password) < 8 || len(password) > 128 || !utf8.ValidString(password) ||
		strings.ContainsFunc(password, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", platform.Errorf(platform.CodeInvalid, "password: must be 8 to 128 characters without control characters")
	}
	d, err := q.openDB(ctx, p, idOrName, true)
	if err != nil {
		return "", err
	}
	defer d.close()
	conn, err := d.superuser(ctx)
	if err != nil {
		return "", err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	err = inTx(ctx, conn, func() error {
		// The name matched usernameRE: quoting is for form's sake.
		if _, err := conn.Exec(ctx, fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'",
			pgx.Identifier{username}.Sanitize(), auth.SCRAMVerifier(password))).ReadAll(); err != nil {
			return err
		}
		// The data API's authenticator may switch to it, so an end user's
		// JWT can name it in role_claim (the platform part "dataplane"
		// does the same for roles older than the data API).
		if _, err := conn.Exec(ctx, "GRANT "+pgx.Identifier{username}.Sanitize()+" TO "+dataapi.AuthenticatorRole).ReadAll(); err != nil {
			return err
		}
		_, err := conn.ExecParams(ctx, `INSERT INTO _db9.users (username) VALUES ($1)
			ON CONFLICT (username) DO UPDATE SET created_at = pg_catalog.now()`, [][]byte{[]byte(username)}, nil, nil, nil).Close()
		return err
	})
	var pe *pgconn.PgError
	if errors.As(err, &pe) && pe.Code == "42710" { // duplicate_object
		return "", platform.Errorf(platform.CodeConflict, "user %q already exists", username)
	}
	if err != nil {
		return "", fmt.Errorf("create user in %s: %w", d.row.ID, err)
	}
	q.log.Info("user created", logkey.DB, d.row.ID)
	return password, nil
}

// DeleteUser drops a role made through the API: its sessions end, what it
// owned passes to admin, its privileges go.
func (q *SQL) DeleteUser(ctx context.Context, p tenancy.Principal, idOrName, username string) error {
	if reservedUsername(username) {
		return platform.Errorf(platform.CodeInvalid, "username: %q is reserved and cannot be deleted", username)
	}
	d, err := q.openDB(ctx, p, idOrName, true)
	if err != nil {
		return err
	}
	defer d.close()
	if !usernameRE.MatchString(username) {
		return platform.NotFound("user")
	}
	conn, err := d.superuser(ctx)
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	errMissing := errors.New("no such role")
	err = inTx(ctx, conn, func() error {
		res := conn.ExecParams(ctx, `SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = $1 AND NOT rolsuper`,
			[][]byte{[]byte(username)}, nil, nil, nil).Read()
		if res.Err != nil {
			return res.Err
		}
		if len(res.Rows) == 0 {
			return errMissing
		}
		q := pgx.Identifier{username}.Sanitize()
		if _, err := conn.ExecParams(ctx, `SELECT pg_catalog.pg_terminate_backend(pid) FROM pg_catalog.pg_stat_activity WHERE usename = $1`,
			[][]byte{[]byte(username)}, nil, nil, nil).Close(); err != nil {
			return err
		}
		if _, err := conn.Exec(ctx, "REASSIGN OWNED BY "+q+" TO admin; DROP OWNED BY "+q+"; DROP ROLE "+q).ReadAll(); err != nil {
			return err
		}
		_, err := conn.ExecParams(ctx, `DELETE FROM _db9.users WHERE username = $1`, [][]byte{[]byte(username)}, nil, nil, nil).Close()
		return err
	})
	if errors.Is(err, errMissing) {
		return platform.NotFound("user")
	}
	if err != nil {
		return fmt.Errorf("delete user in %s: %w", d.row.ID, err)
	}
	q.log.Info("user deleted", logkey.DB, d.row.ID)
	return nil
}

// inTx runs fn inside BEGIN/COMMIT on conn, rolling back when it fails.
func inTx(ctx context.Context, conn *pgconn.PgConn, fn func() error) error {
	if _, err := conn.Exec(ctx, "BEGIN").ReadAll(); err != nil {
		return err
	}
	if err := fn(); err != nil {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK").ReadAll()
		return err
	}
	_, err := conn.Exec(ctx, "COMMIT").ReadAll()
	return err
}
