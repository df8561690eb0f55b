package dataplane

// PlatformSQL is the data plane's part of the platform objects inside every
// database, run by the platform superuser after control's part (which makes
// _db9.users) and dataapi.PlatformSQL (which makes the roles):
//
//   - service_role, what service keys run as, gets every privilege on what
//     the tenant's admin owns: the schemas, tables, sequences and functions
//     there are now, and, through admin's default privileges, those admin
//     makes later. Objects other tenant roles create are theirs to grant.
//     (BYPASSRLS alone reads nothing without a grant.)
//   - Roles made through POST .../users before the data API existed are
//     granted to the authenticator, so a JWT's role_claim can name them as
//     it can name those made since (control's CreateUser grants them).
const PlatformSQL = `
ALTER DEFAULT PRIVILEGES FOR ROLE admin GRANT USAGE ON SCHEMAS TO service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE admin GRANT ALL ON TABLES TO service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE admin GRANT ALL ON SEQUENCES TO service_role;
ALTER DEFAULT PRIVILEGES FOR ROLE admin GRANT EXECUTE ON FUNCTIONS TO service_role;
DO $do$
DECLARE r record;
BEGIN
  FOR r IN SELECT n.nspname FROM pg_catalog.pg_namespace n
           WHERE n.nspowner OPERATOR(pg_catalog.=) (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = 'admin') LOOP
    EXECUTE pg_catalog.format('GRANT USAGE ON SCHEMA %I TO service_role', r.nspname);
    EXECUTE pg_catalog.format('GRANT ALL ON ALL TABLES IN SCHEMA %I TO service_role', r.nspname);
    EXECUTE pg_catalog.format('GRANT ALL ON ALL SEQUENCES IN SCHEMA %I TO service_role', r.nspname);
    EXECUTE pg_catalog.format('GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA %I TO service_role', r.nspname);
  END LOOP;
  FOR r IN SELECT u.username FROM _db9.users u
           JOIN pg_catalog.pg_roles ro ON ro.rolname OPERATOR(pg_catalog.=) u.username
           WHERE NOT ro.rolsuper
             AND NOT pg_catalog.pg_has_role('_db9_authenticator', ro.oid, 'MEMBER') LOOP
    EXECUTE pg_catalog.format('GRANT %I TO _db9_authenticator', r.username);
  END LOOP;
END
$do$;
`
