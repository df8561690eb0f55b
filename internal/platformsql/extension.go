package platformsql

// ExtensionName is the pseudo-extension that owns the platform's objects
// inside every database (docs/adr/0006): a pg_extension row with an OID
// below 16384, where pg_dump takes an extension for built in and leaves it
// and its members out of a dump, exactly as it does for plpgsql.
const ExtensionName = "db9"

// releaseSQL runs before the parts: it takes every object out of the db9
// extension, so a part may drop and recreate its objects (DROP of an
// extension member is refused outside the extension's script). memberSQL
// puts them back at the end, in the same transaction.
const releaseSQL = `
DO $db9$
DECLARE r record;
BEGIN
  FOR r IN SELECT o.type, o.identity
      FROM pg_catalog.pg_extension e
      JOIN pg_catalog.pg_depend d ON d.refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass
        AND d.refobjid OPERATOR(pg_catalog.=) e.oid AND d.deptype OPERATOR(pg_catalog.=) 'e'
      CROSS JOIN LATERAL pg_catalog.pg_identify_object(d.classid, d.objid, d.objsubid) o
      WHERE e.extname OPERATOR(pg_catalog.=) 'db9'
  LOOP
    EXECUTE pg_catalog.format('ALTER EXTENSION db9 DROP %s %s',
      CASE r.type WHEN 'composite type' THEN 'type' ELSE r.type END, r.identity);
  END LOOP;
END $db9$;
`

// memberSQL runs after every part. The platform's schemas are those the
// platform superuser (current_user here) owns beyond PostgreSQL's own
// (OID 16384 and up): auth, extensions, _db9, _db9_fs and whatever a later
// part adds, without being listed anywhere. It
//
//   - makes the pg_extension row db9 when missing, with a free OID in
//     16000-16383 (fs9's row is taken from the same range);
//   - renumbers every extension installed into a platform schema whose
//     OID is a normal one (pg_stat_statements in schema extensions, made
//     by CREATE EXTENSION in the golden directory) into that range too,
//     fixing the catalog rows that point at it, so pg_dump no longer
//     writes CREATE EXTENSION ... WITH SCHEMA extensions into a dump that
//     a plain PostgreSQL (without schema extensions) must restore;
//   - makes every schema, relation, function, type and event trigger of
//     the platform that no extension owns yet a member of db9 (ALTER
//     EXTENSION ADD, which also records the object's privileges as its
//     initial ones, so pg_dump writes no GRANT for them either). Event
//     triggers live in no schema: those whose function is the platform's
//     are the platform's.
//
// Sequences and other relations bound to a table by an internal
// dependency (identity columns) follow their table and are skipped.
const memberSQL = `
DO $db9$
DECLARE
  ext oid; r record; fresh oid;
  su oid := (SELECT oid FROM pg_catalog.pg_roles WHERE rolname OPERATOR(pg_catalog.=) current_user);
BEGIN
  SELECT oid INTO ext FROM pg_catalog.pg_extension WHERE extname OPERATOR(pg_catalog.=) 'db9';
  IF ext IS NULL THEN
    SELECT o::oid INTO ext FROM pg_catalog.generate_series(16000, 16383) o
      WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.oid OPERATOR(pg_catalog.=) o::oid) ORDER BY o LIMIT 1;
    INSERT INTO pg_catalog.pg_extension (oid, extname, extowner, extnamespace, extrelocatable, extversion)
      VALUES (ext, 'db9', su, 'pg_catalog'::pg_catalog.regnamespace, false, '1');
  END IF;

  FOR r IN SELECT e.oid FROM pg_catalog.pg_extension e JOIN pg_catalog.pg_namespace n ON n.oid OPERATOR(pg_catalog.=) e.extnamespace
      WHERE e.oid OPERATOR(pg_catalog.>=) 16384 AND n.oid OPERATOR(pg_catalog.>=) 16384 AND n.nspowner OPERATOR(pg_catalog.=) su
  LOOP
    SELECT o::oid INTO fresh FROM pg_catalog.generate_series(16000, 16383) o
      WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_extension e WHERE e.oid OPERATOR(pg_catalog.=) o::oid) ORDER BY o LIMIT 1;
    UPDATE pg_catalog.pg_extension SET oid = fresh WHERE oid OPERATOR(pg_catalog.=) r.oid;
    UPDATE pg_catalog.pg_depend SET objid = fresh
      WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass AND objid OPERATOR(pg_catalog.=) r.oid;
    UPDATE pg_catalog.pg_depend SET refobjid = fresh
      WHERE refclassid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass AND refobjid OPERATOR(pg_catalog.=) r.oid;
    UPDATE pg_catalog.pg_shdepend SET objid = fresh
      WHERE classid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass AND objid OPERATOR(pg_catalog.=) r.oid;
    UPDATE pg_catalog.pg_description SET objoid = fresh
      WHERE classoid OPERATOR(pg_catalog.=) 'pg_catalog.pg_extension'::pg_catalog.regclass AND objoid OPERATOR(pg_catalog.=) r.oid;
  END LOOP;

  FOR r IN
    WITH ns AS (SELECT n.oid FROM pg_catalog.pg_namespace n
                WHERE n.oid OPERATOR(pg_catalog.>=) 16384 AND n.nspowner OPERATOR(pg_catalog.=) su),
    objs AS (
      SELECT 'pg_catalog.pg_namespace'::pg_catalog.regclass AS classid, oid AS objid FROM ns
      UNION ALL
      SELECT 'pg_catalog.pg_class'::pg_catalog.regclass, c.oid FROM pg_catalog.pg_class c
        WHERE c.relnamespace IN (SELECT oid FROM ns) AND c.relkind IN ('r', 'p', 'v', 'm', 'S', 'f')
      UNION ALL
      SELECT 'pg_catalog.pg_proc'::pg_catalog.regclass, p.oid FROM pg_catalog.pg_proc p
        WHERE p.pronamespace IN (SELECT oid FROM ns)
      UNION ALL
      SELECT 'pg_catalog.pg_type'::pg_catalog.regclass, t.oid FROM pg_catalog.pg_type t
        LEFT JOIN pg_catalog.pg_class c ON c.oid OPERATOR(pg_catalog.=) t.typrelid
        WHERE t.typnamespace IN (SELECT oid FROM ns)
          AND (t.typtype IN ('d', 'e', 'r', 'm') OR t.typtype OPERATOR(pg_catalog.=) 'c' AND c.relkind OPERATOR(pg_catalog.=) 'c')
      UNION ALL
      SELECT 'pg_catalog.pg_event_trigger'::pg_catalog.regclass, et.oid FROM pg_catalog.pg_event_trigger et
        JOIN pg_catalog.pg_proc p ON p.oid OPERATOR(pg_catalog.=) et.evtfoid
        WHERE p.pronamespace IN (SELECT oid FROM ns))
    SELECT o.type, o.identity FROM objs
      CROSS JOIN LATERAL pg_catalog.pg_identify_object(objs.classid, objs.objid, 0) o
      WHERE NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d
        WHERE d.classid OPERATOR(pg_catalog.=) objs.classid AND d.objid OPERATOR(pg_catalog.=) objs.objid
          AND d.deptype IN ('e', 'i'))
  LOOP
    EXECUTE pg_catalog.format('ALTER EXTENSION db9 ADD %s %s',
      CASE r.type WHEN 'composite type' THEN 'type' ELSE r.type END, r.identity);
  END LOOP;
END $db9$;
`
