-- fs9 entry points: SECURITY DEFINER, search_path pinned. The Go store and
-- the SQL functions of schema extensions both call these, so SQL and the
-- WebSocket protocol share one implementation of every rule.

DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_type WHERE typname = 'info' AND typnamespace = '_db9_fs'::regnamespace) THEN
    CREATE TYPE _db9_fs.info AS (path text, type text, size bigint, mode integer, generation bigint, mtime timestamptz, target text);
  END IF;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.info_of(p text, r _db9_fs.inodes) RETURNS _db9_fs.info
LANGUAGE sql IMMUTABLE AS $$ SELECT ROW(p, _db9_fs.kind_name(r.kind), r.size, r.mode, r.generation, r.mtime, r.target)::_db9_fs.info $$;

CREATE OR REPLACE FUNCTION _db9_fs.stat(p text) RETURNS _db9_fs.info
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p);
BEGIN
  RETURN _db9_fs.info_of(_db9_fs.join(segs), _db9_fs.must_get(segs));
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.exists(p text) RETURNS boolean
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes;
BEGIN
  BEGIN
    r := _db9_fs.get(segs);
  EXCEPTION WHEN OTHERS THEN
    RETURN false; -- ENOTDIR on the way
  END;
  RETURN r.id IS NOT NULL;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.readdir(p text) RETURNS SETOF _db9_fs.info
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes; base text;
BEGIN
  r := _db9_fs.must_get(segs);
  IF r.kind <> 'd' THEN PERFORM _db9_fs.fail('ENOTDIR', _db9_fs.join(segs)); END IF;
  base := CASE WHEN cardinality(segs) = 0 THEN '/' ELSE _db9_fs.join(segs) || '/' END;
  RETURN QUERY SELECT (_db9_fs.info_of(base || c.name, c)).* FROM _db9_fs.inodes c WHERE c.parent = r.id ORDER BY c.name;
END $$;

-- walk lists a directory's tree breadth first: at most max_depth levels
-- below it and max_entries rows (one more is returned to tell truncation).
CREATE OR REPLACE FUNCTION _db9_fs.walk(p text, max_depth integer, max_entries integer)
RETURNS TABLE (info _db9_fs.info, depth integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes; base text;
BEGIN
  r := _db9_fs.must_get(segs);
  IF r.kind <> 'd' THEN PERFORM _db9_fs.fail('ENOTDIR', _db9_fs.join(segs)); END IF;
  base := CASE WHEN cardinality(segs) = 0 THEN '' ELSE _db9_fs.join(segs) END;
  RETURN QUERY
  WITH RECURSIVE t AS (
    SELECT c AS n, base || '/' || c.name AS path, 1 AS depth FROM _db9_fs.inodes c WHERE c.parent = r.id
    UNION ALL
    SELECT c, t.path || '/' || c.name, t.depth + 1 FROM t JOIN _db9_fs.inodes c ON c.parent = (t.n).id
    WHERE (t.n).kind = 'd' AND t.depth < max_depth
  )
  SELECT _db9_fs.info_of(t.path, t.n), t.depth FROM t LIMIT max_entries + 1;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.mkdir(p text, recursive boolean, mode integer) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); n integer := cardinality(segs); pid bigint; r _db9_fs.inodes; nid bigint;
BEGIN
  p := _db9_fs.join(segs);
  IF n = 0 THEN
    IF recursive THEN RETURN false; END IF;
    PERFORM _db9_fs.fail('EEXIST', '/');
  END IF;
  IF recursive THEN pid := _db9_fs.mkparents(segs, n - 1);
  ELSE pid := _db9_fs.dir_of(segs, n - 1); END IF;
  IF pid IS NULL THEN PERFORM _db9_fs.fail('ENOENT', _db9_fs.join(segs[1:n-1])); END IF;
  INSERT INTO _db9_fs.inodes (parent, name, kind, mode) VALUES (pid, segs[n], 'd', coalesce(mode, 493) & 4095)
    ON CONFLICT (parent, name) DO NOTHING RETURNING id INTO nid;
  IF nid IS NULL THEN
    SELECT * INTO r FROM _db9_fs.inodes WHERE parent = pid AND name = segs[n];
    IF recursive AND r.kind = 'd' THEN RETURN false; END IF;
    PERFORM _db9_fs.fail('EEXIST', p);
  END IF;
  PERFORM _db9_fs.bump(0, 1, 0);
  PERFORM _db9_fs.event('CREATE', p, NULL, true, 0);
  RETURN true;
END $$;

-- remove deletes a file, symlink or directory tree and returns how many
-- entries went. files_only: unlink (EISDIR on a directory).
CREATE OR REPLACE FUNCTION _db9_fs.remove(p text, recursive boolean, files_only boolean) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes; pid bigint; nf bigint; nd bigint; nb bigint;
BEGIN
  p := _db9_fs.join(segs);
  IF cardinality(segs) = 0 THEN PERFORM _db9_fs.fail('EINVAL', 'cannot remove /'); END IF;
  pid := _db9_fs.dir_of(segs, cardinality(segs) - 1);
  IF pid IS NULL THEN PERFORM _db9_fs.fail('ENOENT', p); END IF;
  SELECT * INTO r FROM _db9_fs.inodes WHERE parent = pid AND name = segs[cardinality(segs)] FOR UPDATE;
  IF NOT FOUND THEN PERFORM _db9_fs.fail('ENOENT', p); END IF;
  IF r.kind = 'd' THEN
    IF files_only THEN PERFORM _db9_fs.fail('EISDIR', p); END IF;
    IF NOT recursive AND EXISTS (SELECT 1 FROM _db9_fs.inodes WHERE parent = r.id) THEN
      PERFORM _db9_fs.fail('ENOTEMPTY', p);
    END IF;
  END IF;
  WITH RECURSIVE t AS (
    SELECT r.id AS id, r.kind AS kind, r.size AS size
    UNION ALL
    SELECT c.id, c.kind, c.size FROM t JOIN _db9_fs.inodes c ON c.parent = t.id WHERE t.kind = 'd'
  )
  SELECT count(*) FILTER (WHERE kind <> 'd'), count(*) FILTER (WHERE kind = 'd'),
         coalesce(sum(size) FILTER (WHERE kind = 'f'), 0)
    INTO nf, nd, nb FROM t;
  DELETE FROM _db9_fs.inodes WHERE id = r.id; -- cascades to children and pages
  PERFORM _db9_fs.bump(-nf, -nd, -nb);
  PERFORM _db9_fs.event('DELETE', p, NULL, r.kind = 'd', CASE WHEN r.kind = 'f' THEN r.size ELSE 0 END);
  RETURN nf + nd;
END $$;

-- read returns len bytes at off (the whole file when both are NULL); at
-- most 10 MiB per call.
CREATE OR REPLACE FUNCTION _db9_fs.read(p text, off bigint, len bigint) RETURNS bytea
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes;
BEGIN
  p := _db9_fs.join(segs);
  r := _db9_fs.must_get(segs);
  IF r.kind = 'd' THEN PERFORM _db9_fs.fail('EISDIR', p); END IF;
  IF r.kind = 'l' THEN PERFORM _db9_fs.fail('EINVAL', p || ' is a symlink; use readlink'); END IF;
  IF (off IS NULL) <> (len IS NULL) THEN PERFORM _db9_fs.fail('EINVAL', 'offset and length go together'); END IF;
  IF off IS NULL THEN off := 0; len := r.size; END IF;
  IF off < 0 OR len < 0 THEN PERFORM _db9_fs.fail('EINVAL', 'negative offset or length'); END IF;
  IF least(len, greatest(r.size - off, 0)) > 10485760 THEN
    PERFORM _db9_fs.fail('EFBIG', p || ': more than 10 MiB in one call; read a range or stream it');
  END IF;
  -- A whole file of whole pages (the common case) is their concatenation,
  -- returned from here: each PL/pgSQL layer a 10 MiB value passes through
  -- copies it once more. RETURN <aggregate> FROM, not RETURN (SELECT ..):
  -- a sub-select is an init plan, which copies its result once more.
  IF off = 0 AND len = r.size AND r.size > 0 AND _db9_fs.whole_pages(r.id, r.size) THEN
    RETURN pg_catalog.string_agg(pg.data, ''::bytea ORDER BY pg.pageno) FROM _db9_fs.pages pg WHERE pg.inode = r.id;
  END IF;
  RETURN _db9_fs.get_range(r.id, r.size, off, len);
END $$;

-- text_pages serves fs9_read, which decodes a file of whole pages (see
-- read) page by page and joins the pieces as text: one 10 MiB buffer fewer
-- than decoding the joined bytes (convert_from checks and copies them
-- whole), and 10 MiB buffers are what a large read costs (each is fresh
-- memory, page faults included). It returns the pages in order, each with
-- what cuts it into whole characters: a character cut by a page boundary
-- goes whole into the piece of the page it starts in, so a piece starts
-- after the up to 3 continuation bytes its page starts with (cont; kept on
-- page 0, where they are invalid) and ends with those of the next page
-- (next_head, next_cont). The data are TOAST pointers here, read by the
-- caller's aggregate: returned concatenated from here, the 10 MiB value
-- would be copied once more on the way out of this function. No rows when
-- the file is empty or not of whole pages; the errors of read.
CREATE OR REPLACE FUNCTION _db9_fs.text_pages(p text)
RETURNS TABLE (page bytea, cont integer, next_head bytea, next_cont integer)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes;
BEGIN
  p := _db9_fs.join(segs);
  r := _db9_fs.must_get(segs);
  IF r.kind = 'd' THEN PERFORM _db9_fs.fail('EISDIR', p); END IF;
  IF r.kind = 'l' THEN PERFORM _db9_fs.fail('EINVAL', p || ' is a symlink; use readlink'); END IF;
  IF r.size > 10485760 THEN
    PERFORM _db9_fs.fail('EFBIG', p || ': more than 10 MiB in one call; read a range or stream it');
  END IF;
  IF r.size = 0 OR NOT _db9_fs.whole_pages(r.id, r.size) THEN RETURN; END IF;
  RETURN QUERY
    SELECT t.data, CASE WHEN t.pageno = 0 THEN 0 ELSE _db9_fs.utf8_cont(t.h) END,
           pg_catalog.lead(t.h) OVER (ORDER BY t.pageno),
           _db9_fs.utf8_cont(pg_catalog.lead(t.h) OVER (ORDER BY t.pageno))
      FROM (SELECT pg.pageno, pg.data, pg_catalog.substring(pg.data, 1, 4) AS h
              FROM _db9_fs.pages pg WHERE pg.inode = r.id OFFSET 0) t
      ORDER BY t.pageno;
END $$;

-- write replaces a file's content whole (creating it and its parents);
-- an existing file keeps its mode. Most files written whole are small
-- (batch_write): a new file has no pages to delete, and a file of one
-- page is one INSERT, not put_range's read-modify-write machinery.
CREATE OR REPLACE FUNCTION _db9_fs.write(p text, data bytea, mode integer) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); o record; len bigint := octet_length(data);
BEGIN
  IF data IS NULL THEN PERFORM _db9_fs.fail('EINVAL', 'content is NULL'); END IF;
  p := _db9_fs.join(segs);
  IF len > 10485760 THEN PERFORM _db9_fs.fail('EFBIG', p || ': more than 10 MiB in one call; stream it'); END IF;
  o := _db9_fs.open_file(segs, coalesce(mode, 420));
  IF NOT o.created THEN DELETE FROM _db9_fs.pages WHERE inode = (o.r).id; END IF;
  IF len > 262144 THEN
    PERFORM _db9_fs.put_range((o.r).id, 0, data, 0);
  ELSIF len > 0 THEN
    INSERT INTO _db9_fs.pages (inode, pageno, data) VALUES ((o.r).id, 0, data);
  END IF;
  UPDATE _db9_fs.inodes SET size = len, generation = generation + CASE WHEN o.created THEN 0 ELSE 1 END, mtime = now()
    WHERE id = (o.r).id;
  PERFORM _db9_fs.bump(0, 0, len - (o.r).size);
  PERFORM _db9_fs.event(CASE WHEN o.created THEN 'CREATE' ELSE 'MODIFY' END, p, NULL, false, len);
  RETURN len;
END $$;

-- pwrite writes at off (creating the file); a gap reads as NUL bytes.
-- off NULL appends.
CREATE OR REPLACE FUNCTION _db9_fs.pwrite(p text, off bigint, data bytea) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); o record; len bigint := octet_length(data); nsz bigint;
BEGIN
  IF data IS NULL THEN PERFORM _db9_fs.fail('EINVAL', 'content is NULL'); END IF;
  IF off < 0 THEN PERFORM _db9_fs.fail('EINVAL', 'negative offset'); END IF;
  IF len > 10485760 THEN PERFORM _db9_fs.fail('EFBIG', _db9_fs.join(segs) || ': more than 10 MiB in one call; stream it'); END IF;
  o := _db9_fs.open_file(segs, 420);
  off := coalesce(off, (o.r).size);
  nsz := greatest((o.r).size, off + len);
  IF nsz > 104857600 THEN PERFORM _db9_fs.fail('EFBIG', _db9_fs.join(segs) || ': files are limited to 100 MiB'); END IF;
  PERFORM _db9_fs.put_range((o.r).id, off, data, (o.r).size);
  UPDATE _db9_fs.inodes SET size = nsz, generation = generation + CASE WHEN o.created THEN 0 ELSE 1 END, mtime = now()
    WHERE id = (o.r).id;
  PERFORM _db9_fs.bump(0, 0, nsz - (o.r).size);
  PERFORM _db9_fs.event(CASE WHEN o.created THEN 'CREATE' ELSE 'MODIFY' END, _db9_fs.join(segs), NULL, false, nsz);
  RETURN len;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.truncate(p text, sz bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); o record;
BEGIN
  IF sz IS NULL OR sz < 0 THEN PERFORM _db9_fs.fail('EINVAL', 'size must be >= 0'); END IF;
  IF sz > 104857600 THEN PERFORM _db9_fs.fail('EFBIG', _db9_fs.join(segs) || ': files are limited to 100 MiB'); END IF;
  o := _db9_fs.open_file(segs, NULL);
  IF sz < (o.r).size THEN PERFORM _db9_fs.truncate_pages((o.r).id, sz); END IF;
  UPDATE _db9_fs.inodes SET size = sz, generation = generation + 1, mtime = now() WHERE id = (o.r).id;
  PERFORM _db9_fs.bump(0, 0, sz - (o.r).size);
  PERFORM _db9_fs.event('MODIFY', _db9_fs.join(segs), NULL, false, sz);
  RETURN true;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.rename(old_p text, new_p text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE os text[] := _db9_fs.split(old_p); ns text[] := _db9_fs.split(new_p);
  r _db9_fs.inodes; t _db9_fs.inodes; opid bigint; npid bigint; a bigint;
BEGIN
  old_p := _db9_fs.join(os); new_p := _db9_fs.join(ns);
  IF cardinality(os) = 0 OR cardinality(ns) = 0 THEN PERFORM _db9_fs.fail('EINVAL', 'cannot rename /'); END IF;
  opid := _db9_fs.dir_of(os, cardinality(os) - 1);
  IF opid IS NULL THEN PERFORM _db9_fs.fail('ENOENT', old_p); END IF;
  SELECT * INTO r FROM _db9_fs.inodes WHERE parent = opid AND name = os[cardinality(os)] FOR UPDATE;
  IF NOT FOUND THEN PERFORM _db9_fs.fail('ENOENT', old_p); END IF;
  IF old_p = new_p THEN RETURN; END IF;
  IF r.kind = 'd' AND starts_with(new_p, old_p || '/') THEN
    PERFORM _db9_fs.fail('EINVAL', 'cannot move ' || old_p || ' into itself');
  END IF;
  npid := _db9_fs.mkparents(ns, cardinality(ns) - 1);
  -- a directory moved under another: make sure no cycle through a
  -- concurrent move (the new parent chain must not pass through r)
  a := npid;
  WHILE a IS NOT NULL LOOP
    IF a = r.id THEN PERFORM _db9_fs.fail('EINVAL', 'cannot move ' || old_p || ' into itself'); END IF;
    SELECT parent INTO a FROM _db9_fs.inodes WHERE id = a;
  END LOOP;
  SELECT * INTO t FROM _db9_fs.inodes WHERE parent = npid AND name = ns[cardinality(ns)] FOR UPDATE;
  IF FOUND THEN
    IF t.kind = 'd' AND r.kind <> 'd' THEN PERFORM _db9_fs.fail('EISDIR', new_p); END IF;
    IF t.kind <> 'd' AND r.kind = 'd' THEN PERFORM _db9_fs.fail('ENOTDIR', new_p); END IF;
    IF t.kind = 'd' AND EXISTS (SELECT 1 FROM _db9_fs.inodes WHERE parent = t.id) THEN
      PERFORM _db9_fs.fail('ENOTEMPTY', new_p);
    END IF;
    DELETE FROM _db9_fs.inodes WHERE id = t.id;
    PERFORM _db9_fs.bump(CASE WHEN t.kind = 'd' THEN 0 ELSE -1 END, CASE WHEN t.kind = 'd' THEN -1 ELSE 0 END,
      CASE WHEN t.kind = 'f' THEN -t.size ELSE 0 END);
  END IF;
  UPDATE _db9_fs.inodes SET parent = npid, name = ns[cardinality(ns)] WHERE id = r.id;
  PERFORM _db9_fs.event('RENAME', new_p, old_p, r.kind = 'd', CASE WHEN r.kind = 'f' THEN r.size ELSE 0 END);
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.symlink(p text, target text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); n integer := cardinality(segs); pid bigint; nid bigint;
BEGIN
  p := _db9_fs.join(segs);
  IF target IS NULL OR target = '' OR octet_length(target) > 4096 THEN
    PERFORM _db9_fs.fail('EINVAL', 'symlink target must be 1 to 4096 bytes');
  END IF;
  IF n = 0 THEN PERFORM _db9_fs.fail('EEXIST', '/'); END IF;
  pid := _db9_fs.mkparents(segs, n - 1);
  INSERT INTO _db9_fs.inodes (parent, name, kind, mode, size, target)
    VALUES (pid, segs[n], 'l', 511, octet_length(target), target)
    ON CONFLICT (parent, name) DO NOTHING RETURNING id INTO nid;
  IF nid IS NULL THEN PERFORM _db9_fs.fail('EEXIST', p); END IF;
  PERFORM _db9_fs.bump(1, 0, 0);
  PERFORM _db9_fs.event('CREATE', p, NULL, false, 0);
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.readlink(p text) RETURNS text
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes;
BEGIN
  r := _db9_fs.must_get(segs);
  IF r.kind <> 'l' THEN PERFORM _db9_fs.fail('EINVAL', _db9_fs.join(segs) || ' is not a symlink'); END IF;
  RETURN r.target;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.chmod(p text, mode integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes; pid bigint;
BEGIN
  IF mode IS NULL OR mode < 0 THEN PERFORM _db9_fs.fail('EINVAL', 'mode must be >= 0'); END IF;
  r := _db9_fs.must_get(segs);
  UPDATE _db9_fs.inodes SET mode = chmod.mode & 4095, generation = generation + 1 WHERE id = r.id;
  PERFORM _db9_fs.event('MODIFY', _db9_fs.join(segs), NULL, r.kind = 'd', CASE WHEN r.kind = 'f' THEN r.size ELSE 0 END);
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.stats() RETURNS TABLE (total_files bigint, total_directories bigint, total_logical_bytes bigint)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(sum(files), 0)::bigint, coalesce(sum(dirs), 0)::bigint, coalesce(sum(bytes), 0)::bigint FROM _db9_fs.stats
$$;

-- Streaming write: stream_open empties (or creates) the file and returns
-- its inode; stream_page adds whole pages; stream_close sets the size and
-- the totals from the pages and records the event. All three run in ONE
-- transaction, so until it commits readers see the old content and an
-- aborted stream leaves nothing behind.
CREATE OR REPLACE FUNCTION _db9_fs.stream_open(p text, mode integer, OUT inode bigint, OUT created boolean)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); o record;
BEGIN
  o := _db9_fs.open_file(segs, coalesce(mode, 420));
  DELETE FROM _db9_fs.pages WHERE pages.inode = (o.r).id;
  UPDATE _db9_fs.inodes SET size = 0, generation = generation + CASE WHEN o.created THEN 0 ELSE 1 END, mtime = now()
    WHERE id = (o.r).id;
  PERFORM _db9_fs.bump(0, 0, -(o.r).size);
  INSERT INTO _db9_fs.streams (inode) VALUES ((o.r).id) ON CONFLICT DO NOTHING;
  inode := (o.r).id; created := o.created;
END $$;

-- must_close (deferred to commit) refuses a transaction that opened a
-- stream and did not close it: its pages are in no size and no total.
CREATE OR REPLACE FUNCTION _db9_fs.must_close() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF EXISTS (SELECT 1 FROM _db9_fs.streams s WHERE s.inode = NEW.inode) THEN
    PERFORM _db9_fs.fail('EINVAL', 'streamed write not closed before commit');
  END IF;
  RETURN NULL;
END $$;
DO $$ BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_trigger WHERE tgrelid = '_db9_fs.streams'::regclass AND tgname = 'must_close') THEN
    CREATE CONSTRAINT TRIGGER must_close AFTER INSERT ON _db9_fs.streams
      DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION _db9_fs.must_close();
  END IF;
END $$;

-- stream_page stores page pageno of a stream this transaction opened (the
-- streams row: stream_open made it, after bumping the generation, so
-- observers see one change). It only inserts the page: updating the inode
-- and the totals for each of a 100 MiB file's 400 pages cost a tenth of
-- the write's time in PostgreSQL; stream_close does it once.
CREATE OR REPLACE FUNCTION _db9_fs.stream_page(ino bigint, pageno integer, data bytea) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE len integer := octet_length(data);
BEGIN
  IF NOT EXISTS (SELECT 1 FROM _db9_fs.streams s WHERE s.inode = ino) THEN
    PERFORM _db9_fs.fail('EINVAL', 'no streaming write open on this file in this transaction');
  END IF;
  IF pageno IS NULL OR pageno < 0 OR len > 262144 THEN
    PERFORM _db9_fs.fail('EINVAL', 'a page is at most 262144 bytes at a page number from 0');
  END IF;
  IF pageno::bigint * 262144 + len > 104857600 THEN PERFORM _db9_fs.fail('EFBIG', 'files are limited to 100 MiB'); END IF;
  IF len > 0 THEN
    INSERT INTO _db9_fs.pages (inode, pageno, data) VALUES (ino, stream_page.pageno, data);
  END IF;
END $$;

-- stream_append (the first protocol, one call per page that kept size and
-- totals up to date itself) stays for servers of the previous release.
-- stream_append accepts only an inode this very transaction has changed
-- (stream_open did, and bumped its generation): observers see one change.
CREATE OR REPLACE FUNCTION _db9_fs.stream_append(ino bigint, data bytea) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE sz bigint; k "char"; x xid; len bigint := octet_length(data); ps constant bigint := 262144;
BEGIN
  SELECT i.size, i.kind, i.xmin INTO sz, k, x FROM _db9_fs.inodes i WHERE id = ino;
  IF k IS DISTINCT FROM 'f' OR x IS DISTINCT FROM pg_catalog.xid(pg_current_xact_id()) THEN
    PERFORM _db9_fs.fail('EINVAL', 'no streaming write open on this file in this transaction');
  END IF;
  IF sz + len > 104857600 THEN PERFORM _db9_fs.fail('EFBIG', 'files are limited to 100 MiB'); END IF;
  IF len = 0 THEN RETURN sz; END IF;
  IF sz % ps = 0 AND len <= ps THEN
    -- a page of its own after whole pages: nothing there to merge with
    INSERT INTO _db9_fs.pages (inode, pageno, data) VALUES (ino, (sz / ps)::integer, data);
  ELSE
    PERFORM _db9_fs.put_range(ino, sz, data, sz);
  END IF;
  UPDATE _db9_fs.inodes SET size = sz + len WHERE id = ino;
  PERFORM _db9_fs.bump(0, 0, len);
  RETURN sz + len;
END $$;

-- stream_close: the size is where the last page ends (or what other calls
-- of this transaction made it, if more), the totals move by the change.
CREATE OR REPLACE FUNCTION _db9_fs.stream_close(p text, ino bigint, created boolean) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE sz bigint; old bigint; x xid;
BEGIN
  SELECT size, i.xmin INTO old, x FROM _db9_fs.inodes i WHERE id = ino AND kind = 'f';
  IF old IS NULL OR x IS DISTINCT FROM pg_catalog.xid(pg_current_xact_id()) THEN
    PERFORM _db9_fs.fail('EINVAL', 'no streaming write open on this file in this transaction');
  END IF;
  SELECT pg.pageno::bigint * 262144 + pg_catalog.octet_length(pg.data) INTO sz
    FROM _db9_fs.pages pg WHERE pg.inode = ino ORDER BY pg.pageno DESC LIMIT 1;
  sz := greatest(coalesce(sz, 0), old);
  IF sz <> old THEN
    UPDATE _db9_fs.inodes SET size = sz WHERE id = ino;
    PERFORM _db9_fs.bump(0, 0, sz - old);
  END IF;
  DELETE FROM _db9_fs.streams s WHERE s.inode = ino;
  PERFORM _db9_fs.event(CASE WHEN created THEN 'CREATE' ELSE 'MODIFY' END, _db9_fs.join(_db9_fs.split(p)), NULL, false, sz);
  RETURN sz;
END $$;

-- open_read and read_pages serve streamed reads: the caller runs them in
-- one REPEATABLE READ transaction, gets the stored pages of the range and
-- fills what is missing with NUL bytes.
CREATE OR REPLACE FUNCTION _db9_fs.open_read(p text, OUT inode bigint, OUT size bigint, OUT generation bigint)
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE segs text[] := _db9_fs.split(p); r _db9_fs.inodes;
BEGIN
  r := _db9_fs.must_get(segs);
  IF r.kind = 'd' THEN PERFORM _db9_fs.fail('EISDIR', _db9_fs.join(segs)); END IF;
  IF r.kind = 'l' THEN PERFORM _db9_fs.fail('EINVAL', _db9_fs.join(segs) || ' is a symlink; use readlink'); END IF;
  inode := r.id; size := r.size; generation := r.generation;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.read_pages(ino bigint, first integer, count integer)
RETURNS TABLE (pageno integer, data bytea)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT pg.pageno, pg.data FROM _db9_fs.pages pg
  WHERE pg.inode = ino AND pg.pageno >= first AND pg.pageno < first + count ORDER BY pg.pageno
$$;

CREATE OR REPLACE FUNCTION _db9_fs.page_size() RETURNS integer LANGUAGE sql IMMUTABLE AS $$ SELECT 262144 $$;
