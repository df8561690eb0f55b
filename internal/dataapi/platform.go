package dataapi

// AuthenticatorRole is the login role the data API's connections use. It is
// NOINHERIT and has no privileges of its own: every request switches to the
// principal's role with set_config('role', ..., true).
const AuthenticatorRole = "_db9_authenticator"

// PlatformSQL creates (idempotently, as the platform superuser) what the
// data API needs inside a database:
//   - role service_role (BYPASSRLS, not superuser) beside anon and
//     authenticated, and the authenticator login role that may switch to
//     the three, whose sessions start with search_path "public" (the
//     default profile's), read-only, request.method GET and anon's
//     request.jwt.claims (dataplane's), so that an anonymous GET of that
//     profile need set none of them (see execute);
//   - the schema version: a sequence bumped by an event trigger on every
//     DDL command. The trigger also holds a shared advisory lock until its
//     transaction ends, so a schema load that gets the lock exclusively
//     knows no DDL is in flight (schema.Load);
//   - _db9.dataapi_check_schema(version), which every request calls in its
//     setup statement and which fails with SQLSTATE DB9SC when the cache the
//     request was built from is stale.
//
// The lead runs it in every database (golden copy and upgrade in place).
// Roles a tenant creates and wants reachable through role_claim must also be
// granted to _db9_authenticator.
const PlatformSQL = `
DO $do$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'anon') THEN
    CREATE ROLE anon NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'authenticated') THEN
    CREATE ROLE authenticated NOLOGIN NOINHERIT;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'service_role') THEN
    CREATE ROLE service_role NOLOGIN NOINHERIT BYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '_db9_authenticator') THEN
    CREATE ROLE _db9_authenticator LOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION;
  END IF;
END
$do$;
GRANT anon, authenticated, service_role TO _db9_authenticator;
ALTER ROLE _db9_authenticator SET search_path = public;
ALTER ROLE _db9_authenticator SET default_transaction_read_only = on;
ALTER ROLE _db9_authenticator SET request.method = 'GET';
ALTER ROLE _db9_authenticator SET request.jwt.claims = '{"role":"anon"}';
CREATE SCHEMA IF NOT EXISTS _db9;
REVOKE ALL ON SCHEMA _db9 FROM PUBLIC;
GRANT USAGE ON SCHEMA _db9 TO _db9_authenticator;
CREATE SEQUENCE IF NOT EXISTS _db9.dataapi_schema_seq;
REVOKE ALL ON SEQUENCE _db9.dataapi_schema_seq FROM PUBLIC;
GRANT SELECT ON SEQUENCE _db9.dataapi_schema_seq TO _db9_authenticator;
CREATE OR REPLACE FUNCTION _db9.dataapi_bump_schema() RETURNS event_trigger
  LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1684158777, 1);
  PERFORM nextval('_db9.dataapi_schema_seq');
END
$f$;
REVOKE ALL ON FUNCTION _db9.dataapi_bump_schema() FROM PUBLIC;
CREATE OR REPLACE FUNCTION _db9.dataapi_check_schema(expected bigint) RETURNS boolean
  LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog AS $f$
BEGIN
  IF expected IS NOT NULL AND expected IS DISTINCT FROM
     (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM _db9.dataapi_schema_seq) THEN
    RAISE EXCEPTION USING ERRCODE = 'DB9SC', MESSAGE = 'data API schema cache is stale';
  END IF;
  RETURN true;
END
$f$;
REVOKE ALL ON FUNCTION _db9.dataapi_check_schema(bigint) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION _db9.dataapi_check_schema(bigint) TO _db9_authenticator;
DROP EVENT TRIGGER IF EXISTS _db9_dataapi_ddl;
CREATE EVENT TRIGGER _db9_dataapi_ddl ON ddl_command_end EXECUTE FUNCTION _db9.dataapi_bump_schema();
`

// staleSQLState is raised by _db9.dataapi_check_schema.
const staleSQLState = "DB9SC"
