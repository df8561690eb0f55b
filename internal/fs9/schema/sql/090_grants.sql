-- Who may call what. Functions are executable by PUBLIC by default:
-- take that away from everything in _db9_fs, then grant the entry points.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA _db9_fs FROM PUBLIC;
GRANT EXECUTE ON FUNCTION _db9_fs.require(boolean, text), _db9_fs.fail(text, text) TO PUBLIC;
GRANT EXECUTE ON FUNCTION
  _db9_fs.stat(text), _db9_fs.exists(text), _db9_fs.readdir(text), _db9_fs.walk(text, integer, integer),
  _db9_fs.read(text, bigint, bigint), _db9_fs.text_pages(text), _db9_fs.stats(), _db9_fs.open_read(text),
  _db9_fs.read_pages(bigint, integer, integer), _db9_fs.readlink(text), _db9_fs.page_size(),
  _db9_fs.to_text(bytea), _db9_fs.read_rows(text, text, text, boolean),
  _db9_fs.split(text), _db9_fs.join(text[]), _db9_fs.rfc3339(timestamptz), _db9_fs.glob_re(text),
  _db9_fs.excluded(text, text), _db9_fs.fail(text, text), _db9_fs.parse_csv(text, text)
  TO admin, _db9_sys_readonly;
GRANT EXECUTE ON FUNCTION
  _db9_fs.mkdir(text, boolean, integer), _db9_fs.remove(text, boolean, boolean),
  _db9_fs.write(text, bytea, integer), _db9_fs.pwrite(text, bigint, bytea), _db9_fs.truncate(text, bigint),
  _db9_fs.rename(text, text), _db9_fs.symlink(text, text), _db9_fs.chmod(text, integer),
  _db9_fs.stream_open(text, integer), _db9_fs.stream_append(bigint, bytea),
  _db9_fs.stream_page(bigint, integer, bytea), _db9_fs.stream_close(text, bigint, boolean)
  TO admin;

-- CREATE EXTENSION IF NOT EXISTS fs9 must succeed for clients that issue
-- it. PostgreSQL 15 looks for an extension's control file only in the
-- binaries' share directory, which the platform may not write; but the IF
-- NOT EXISTS check comes before any file is read, so a catalog row named
-- fs9 (owned by the platform superuser, so admin cannot drop it) is all
-- that is needed. Its OID is taken below 16384, where pg_dump treats an
-- extension as built in and leaves it (and its members: the fs9 schema,
-- tables and functions) out of the tenant's dumps. ADR 0004.
DO $$
DECLARE ext oid; obj record;
BEGIN
  SELECT oid INTO ext FROM pg_catalog.pg_extension WHERE extname = 'fs9';
  IF ext IS NULL THEN
    SELECT o::oid INTO ext FROM pg_catalog.generate_series(16000, 16383) o
      WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.oid = o::oid) ORDER BY o LIMIT 1;
    INSERT INTO pg_catalog.pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
      VALUES (ext, 'fs9', (SELECT oid FROM pg_catalog.pg_roles WHERE rolname = current_user),
              'extensions'::regnamespace, false, '1.0');
  END IF;
  -- make every fs9 object a member, once
  FOR obj IN
    SELECT 'FUNCTION ' || p.oid::regprocedure::text AS what FROM pg_catalog.pg_proc p
      WHERE (p.pronamespace = '_db9_fs'::regnamespace OR (p.pronamespace = 'extensions'::regnamespace AND p.proname LIKE 'fs9%'))
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'TABLE ' || c.oid::regclass::text FROM pg_catalog.pg_class c
      WHERE c.relnamespace = '_db9_fs'::regnamespace AND c.relkind = 'r'
      AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = 'pg_class'::regclass AND d.objid = c.oid AND d.deptype = 'e')
    UNION ALL
    SELECT 'TYPE _db9_fs.info' WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_type'::regclass AND d.objid = '_db9_fs.info'::regtype AND d.deptype = 'e')
    UNION ALL
    SELECT 'SCHEMA _db9_fs' WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
      WHERE d.classid = 'pg_namespace'::regclass AND d.objid = '_db9_fs'::regnamespace AND d.deptype = 'e')
  LOOP
    EXECUTE 'ALTER EXTENSION fs9 ADD ' || obj.what;
  END LOOP;
END $$;
