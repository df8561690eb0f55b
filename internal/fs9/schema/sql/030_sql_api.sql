-- The SQL face of fs9 in schema extensions (FS9.md). These run as the
-- caller (SECURITY INVOKER): require() checks the effective role, so a
-- SECURITY DEFINER function owned by admin can offer file access to other
-- roles; the entry points they call are executable by admin (and, for
-- reading, _db9_sys_readonly) only, so the check cannot be skipped.

CREATE OR REPLACE FUNCTION _db9_fs.require(write boolean, p text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF pg_has_role(current_user, 'admin', 'USAGE') THEN RETURN; END IF;
  IF NOT write AND pg_has_role(current_user, '_db9_sys_readonly', 'USAGE') THEN RETURN; END IF;
  IF write AND pg_has_role(current_user, '_db9_sys_readonly', 'USAGE') THEN
    PERFORM _db9_fs.fail('EACCES', 'read-only access: ' || coalesce(p, ''));
  END IF;
  PERFORM _db9_fs.fail('EACCES', 'role ' || current_user || ' has no file access: ' || coalesce(p, ''));
END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_read_bytea(path text) RETURNS bytea
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(false, path); RETURN _db9_fs.read(path, NULL, NULL); END $$;

-- fs9_read joins the pieces text_pages cuts (a 10 MiB value is copied
-- once more by each PL/pgSQL layer it passes through: this is the only
-- one). Invalid UTF-8 and NUL go to to_text's repair, files not of whole
-- pages too (no rows: string_agg gives NULL, and coalesce evaluates its
-- second argument only then). It stays PL/pgSQL: an inlined SQL function
-- would have PostgreSQL check EXECUTE on the _db9_fs functions before
-- require() could answer EACCES, and a SQL function that is not inlined
-- keeps its result in a tuple store (spilled to disk past work_mem) and
-- copies it again. The pieces come in page order from text_pages; an
-- ORDER BY in the aggregate would sort the decoded pieces themselves,
-- 10 MiB spilled to a temporary file.
CREATE OR REPLACE FUNCTION extensions.fs9_read(path text) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM _db9_fs.require(false, path);
  BEGIN
    RETURN coalesce(pg_catalog.string_agg(pg_catalog.convert_from(
        CASE WHEN s.cont = 0 AND s.next_cont = 0 THEN s.page
          ELSE pg_catalog.substring(s.page, s.cont + 1) || pg_catalog.substring(coalesce(s.next_head, ''::bytea), 1, s.next_cont) END,
        'UTF8'), ''), _db9_fs.to_text(_db9_fs.read(path, NULL, NULL)))
      FROM _db9_fs.text_pages(path) s;
  EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    RETURN _db9_fs.to_text(_db9_fs.read(path, NULL, NULL));
  END;
END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_read_at_bytea(path text, "offset" bigint, length bigint) RETURNS bytea
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(false, path); RETURN _db9_fs.read(path, "offset", length); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_read_at(path text, "offset" bigint, length bigint) RETURNS text
LANGUAGE plpgsql STRICT SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(false, path); RETURN _db9_fs.to_text(_db9_fs.read(path, "offset", length)); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_write(path text, data bytea) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(true, path); RETURN _db9_fs.write(path, data, NULL); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_write(path text, data text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(true, path); RETURN _db9_fs.write(path, convert_to(data, 'UTF8'), NULL); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_append(path text, data bytea) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(true, path); RETURN _db9_fs.pwrite(path, NULL, data); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_append(path text, data text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(true, path); RETURN _db9_fs.pwrite(path, NULL, convert_to(data, 'UTF8')); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_write_at(path text, "offset" bigint, data bytea) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM _db9_fs.require(true, path);
  IF "offset" IS NULL THEN PERFORM _db9_fs.fail('EINVAL', 'offset is NULL'); END IF;
  RETURN _db9_fs.pwrite(path, "offset", data);
END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_write_at(path text, "offset" bigint, data text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM _db9_fs.require(true, path);
  IF "offset" IS NULL THEN PERFORM _db9_fs.fail('EINVAL', 'offset is NULL'); END IF;
  RETURN _db9_fs.pwrite(path, "offset", convert_to(data, 'UTF8'));
END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_truncate(path text, size bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(true, path); RETURN _db9_fs.truncate(path, size); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_exists(path text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(false, path); RETURN _db9_fs.exists(path); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_size(path text) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(false, path); RETURN (_db9_fs.stat(path)).size; END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_mtime(path text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(false, path); RETURN _db9_fs.rfc3339((_db9_fs.stat(path)).mtime); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_remove(path text, recursive boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(true, path); RETURN _db9_fs.remove(path, coalesce(recursive, false), false); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_mkdir(path text, recursive boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(true, path); RETURN _db9_fs.mkdir(path, coalesce(recursive, false), NULL); END $$;

CREATE OR REPLACE FUNCTION extensions.fs9_storage_stats()
RETURNS TABLE (total_files bigint, total_directories bigint, total_logical_bytes bigint)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN PERFORM _db9_fs.require(false, NULL); RETURN QUERY SELECT * FROM _db9_fs.stats(); END $$;
