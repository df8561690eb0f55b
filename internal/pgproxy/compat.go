package pgproxy

// PlatformSQL is the front door's part of the platform objects
// (internal/platformsql): what clients written against a stock PostgreSQL
// cluster take for granted. Every initdb'd cluster has a role named
// postgres (its bootstrap superuser, the default user of every client);
// a db9 instance's bootstrap superuser is the platform's own, so drivers
// and tools that name postgres in an ACL (aclitem 'postgres=arwdDxt/postgres',
// GRANT ... TO postgres, ALTER ... OWNER TO postgres in a dump of another
// cluster) would fail with 42704. The role is NOLOGIN, owns nothing and
// holds no privilege: nobody can log in as it (the front door also checks
// rolcanlogin). A tenant role of that name made earlier is left as it is.
const PlatformSQL = `
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = 'postgres') THEN
    CREATE ROLE postgres NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOINHERIT NOREPLICATION NOBYPASSRLS;
  END IF;
END $$;
`
