-- fs9 storage: the core functions. Helpers are SECURITY INVOKER and not
-- executable by tenants; the entry points are SECURITY DEFINER (owner: the
-- platform superuser) with EXECUTE granted per role in 090_grants.sql, so a
-- tenant can change the tables only through them and their invariants
-- (size, generation, mtime, counters, events) always hold.

CREATE OR REPLACE FUNCTION _db9_fs.fail(code text, detail text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  RAISE EXCEPTION USING MESSAGE = code || ': ' || coalesce(detail, ''),
    ERRCODE = CASE code WHEN 'ENOENT' THEN '58P01' WHEN 'EEXIST' THEN '58P02'
      WHEN 'EACCES' THEN '42501' WHEN 'EINVAL' THEN '22023' WHEN 'EFBIG' THEN '54000'
      ELSE 'P0001' END;
END $$;

-- split validates an absolute path and returns its segments ('.' and empty
-- segments dropped). NUL cannot occur in text; the WebSocket side rejects it.
CREATE OR REPLACE FUNCTION _db9_fs.split(p text) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE segs text[]; s text;
BEGIN
  IF p IS NULL OR p = '' THEN PERFORM _db9_fs.fail('EINVAL', 'path is empty'); END IF;
  IF pg_catalog.left(p, 1) <> '/' THEN PERFORM _db9_fs.fail('EINVAL', 'path must be absolute: ' || p); END IF;
  IF pg_catalog.octet_length(p) > 4096 THEN PERFORM _db9_fs.fail('EINVAL', 'path longer than 4096 bytes'); END IF;
  segs := pg_catalog.array_remove(pg_catalog.array_remove(pg_catalog.string_to_array(p, '/'), ''), '.');
  FOREACH s IN ARRAY segs LOOP
    IF s = '..' THEN PERFORM _db9_fs.fail('EINVAL', 'path must not contain "..": ' || p); END IF;
    IF pg_catalog.octet_length(s) > 255 THEN PERFORM _db9_fs.fail('EINVAL', 'name longer than 255 bytes: ' || s); END IF;
  END LOOP;
  RETURN segs;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.join(segs text[]) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT '/' || pg_catalog.array_to_string(segs, '/') $$;

CREATE OR REPLACE FUNCTION _db9_fs.rfc3339(t timestamptz) RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT pg_catalog.to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') $$;

CREATE OR REPLACE FUNCTION _db9_fs.kind_name(k "char") RETURNS text
LANGUAGE sql IMMUTABLE AS $$ SELECT CASE k WHEN 'f' THEN 'file' WHEN 'd' THEN 'dir' ELSE 'symlink' END $$;

-- dir_of resolves the first n segments, which must be directories; NULL
-- when one is missing, ENOTDIR when one is not a directory.
CREATE OR REPLACE FUNCTION _db9_fs.dir_of(segs text[], n integer) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
DECLARE cur bigint := 1; nid bigint; k "char";
BEGIN
  FOR i IN 1..n LOOP
    SELECT id, kind INTO nid, k FROM _db9_fs.inodes WHERE parent = cur AND name = segs[i];
    IF NOT FOUND THEN RETURN NULL; END IF;
    IF k <> 'd' THEN PERFORM _db9_fs.fail('ENOTDIR', _db9_fs.join(segs[1:i])); END IF;
    cur := nid;
  END LOOP;
  RETURN cur;
END $$;

-- get returns the inode at segs, or NULL.
CREATE OR REPLACE FUNCTION _db9_fs.get(segs text[]) RETURNS _db9_fs.inodes
LANGUAGE plpgsql STABLE AS $$
DECLARE pid bigint; r _db9_fs.inodes; n integer := pg_catalog.cardinality(segs);
BEGIN
  IF n = 0 THEN SELECT * INTO r FROM _db9_fs.inodes WHERE id = 1; RETURN r; END IF;
  pid := _db9_fs.dir_of(segs, n - 1);
  IF pid IS NULL THEN RETURN NULL; END IF;
  SELECT * INTO r FROM _db9_fs.inodes WHERE parent = pid AND name = segs[n];
  RETURN r;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.must_get(segs text[]) RETURNS _db9_fs.inodes
LANGUAGE plpgsql STABLE AS $$
DECLARE r _db9_fs.inodes;
BEGIN
  r := _db9_fs.get(segs);
  IF r.id IS NULL THEN PERFORM _db9_fs.fail('ENOENT', _db9_fs.join(segs)); END IF;
  RETURN r;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.bump(files bigint, dirs bigint, bytes bigint) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  IF files = 0 AND dirs = 0 AND bytes = 0 THEN RETURN; END IF;
  INSERT INTO _db9_fs.stats (files, dirs, bytes) VALUES (bump.files, bump.dirs, bump.bytes);
  -- Fold the deltas about every 30th change; one folder at a time (the
  -- advisory lock is held to the end of the folder's transaction, others
  -- skip rather than wait).
  IF random() < 0.033 AND pg_try_advisory_xact_lock(7439010) THEN
    WITH d AS (DELETE FROM _db9_fs.stats RETURNING stats.files, stats.dirs, stats.bytes)
    INSERT INTO _db9_fs.stats (files, dirs, bytes)
      SELECT coalesce(sum(d.files), 0), coalesce(sum(d.dirs), 0), coalesce(sum(d.bytes), 0) FROM d;
  END IF;
END $$;

-- event records a change and wakes live watchers (NOTIFY is delivered at
-- commit, in commit order, and never for a rolled back change).
CREATE OR REPLACE FUNCTION _db9_fs.event(etype text, p text, old_p text, is_dir boolean, sz bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE s bigint;
BEGIN
  INSERT INTO _db9_fs.events (event_type, path, old_path, is_dir, size) VALUES (etype, p, old_p, is_dir, sz)
    RETURNING seq INTO s;
  PERFORM pg_catalog.pg_notify('_db9_fs', s::text);
  IF s % 100 = 0 AND pg_try_advisory_xact_lock(7439011) THEN
    -- pruned_through tells watchers asking for older events that they
    -- missed some (watch_gap); gaps left by rolled back changes are not.
    WITH d AS (DELETE FROM _db9_fs.events WHERE seq <= s - 10000
                 OR ts < pg_catalog.now() - interval '1 day' RETURNING seq)
    INSERT INTO _db9_fs.meta (key, value) SELECT 'pruned_through', max(d.seq)::text FROM d HAVING max(d.seq) IS NOT NULL
      ON CONFLICT (key) DO UPDATE SET value = greatest(meta.value::bigint, excluded.value::bigint)::text;
  END IF;
END $$;

-- mkparents resolves the first n segments as directories, creating the
-- missing ones (0o755).
CREATE OR REPLACE FUNCTION _db9_fs.mkparents(segs text[], n integer) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE cur bigint := 1; nid bigint; k "char";
BEGIN
  FOR i IN 1..n LOOP
    SELECT id, kind INTO nid, k FROM _db9_fs.inodes WHERE parent = cur AND name = segs[i];
    IF NOT FOUND THEN
      INSERT INTO _db9_fs.inodes (parent, name, kind, mode) VALUES (cur, segs[i], 'd', 493)
        ON CONFLICT (parent, name) DO NOTHING RETURNING id INTO nid;
      IF nid IS NULL THEN -- created concurrently
        SELECT id, kind INTO nid, k FROM _db9_fs.inodes WHERE parent = cur AND name = segs[i];
      ELSE
        k := 'd';
        PERFORM _db9_fs.bump(0, 1, 0);
        PERFORM _db9_fs.event('CREATE', _db9_fs.join(segs[1:i]), NULL, true, 0);
      END IF;
    END IF;
    IF k <> 'd' THEN PERFORM _db9_fs.fail('ENOTDIR', _db9_fs.join(segs[1:i])); END IF;
    cur := nid;
  END LOOP;
  RETURN cur;
END $$;

-- open_file returns the regular file at segs locked for update, creating
-- it (and its parents) when asked. Concurrent writers of one file queue on
-- this row lock until the first one's transaction ends.
CREATE OR REPLACE FUNCTION _db9_fs.open_file(segs text[], create_mode integer, OUT r _db9_fs.inodes, OUT created boolean)
LANGUAGE plpgsql AS $$
DECLARE pid bigint; n integer := pg_catalog.cardinality(segs); p text := _db9_fs.join(segs);
BEGIN
  created := false;
  IF n = 0 THEN PERFORM _db9_fs.fail('EISDIR', '/'); END IF;
  IF create_mode IS NULL THEN pid := _db9_fs.dir_of(segs, n - 1); ELSE pid := _db9_fs.mkparents(segs, n - 1); END IF;
  IF pid IS NULL THEN PERFORM _db9_fs.fail('ENOENT', p); END IF;
  LOOP
    SELECT * INTO r FROM _db9_fs.inodes WHERE parent = pid AND name = segs[n] FOR UPDATE;
    IF FOUND THEN
      IF r.kind = 'd' THEN PERFORM _db9_fs.fail('EISDIR', p); END IF;
      IF r.kind = 'l' THEN PERFORM _db9_fs.fail('EINVAL', p || ' is a symlink; use readlink'); END IF;
      RETURN;
    END IF;
    IF create_mode IS NULL THEN PERFORM _db9_fs.fail('ENOENT', p); END IF;
    INSERT INTO _db9_fs.inodes (parent, name, kind, mode) VALUES (pid, segs[n], 'f', create_mode & 4095)
      ON CONFLICT (parent, name) DO NOTHING RETURNING * INTO r;
    IF r.id IS NOT NULL THEN
      created := true;
      PERFORM _db9_fs.bump(1, 0, 0);
      RETURN;
    END IF;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.zeros(n bigint) RETURNS bytea
LANGUAGE sql IMMUTABLE AS $$ SELECT pg_catalog.decode(pg_catalog.repeat('00', n::integer), 'hex') $$;

-- put_range writes data at off into the pages of inode ino whose content
-- is old_size bytes long. Pages are 262144 bytes (ADR 0004).
CREATE OR REPLACE FUNCTION _db9_fs.put_range(ino bigint, off bigint, data bytea, old_size bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE ps constant bigint := 262144; len bigint := pg_catalog.octet_length(data);
  pstart bigint; s bigint; e bigint; chunk bytea; old bytea; nd bytea;
BEGIN
  IF len = 0 THEN RETURN; END IF;
  FOR p IN (off / ps)..((off + len - 1) / ps) LOOP
    pstart := p * ps;
    s := greatest(off, pstart);
    e := least(off + len, pstart + ps);
    IF s = off AND e = off + len THEN chunk := data;
    ELSE chunk := substring(data, (s - off + 1)::integer, (e - s)::integer); END IF;
    IF s = pstart AND (e = pstart + ps OR e >= old_size) THEN
      nd := chunk; -- the page's old bytes are all overwritten
    ELSE
      SELECT pg.data INTO old FROM _db9_fs.pages pg WHERE pg.inode = ino AND pg.pageno = p;
      old := coalesce(old, ''::bytea);
      IF pg_catalog.octet_length(old) < s - pstart THEN
        old := old || _db9_fs.zeros(s - pstart - pg_catalog.octet_length(old));
      END IF;
      nd := overlay(old PLACING chunk FROM (s - pstart + 1)::integer FOR (e - s)::integer);
    END IF;
    INSERT INTO _db9_fs.pages (inode, pageno, data) VALUES (ino, p, nd)
      ON CONFLICT (inode, pageno) DO UPDATE SET data = excluded.data;
  END LOOP;
END $$;

-- get_range reads len bytes at off of inode ino whose size is sz.
-- Usually every page of the range is there and whole (only sparse files,
-- made by writing past the end or growing truncations, have gaps): then
-- the pages are concatenated in page order, sorting the rows while their
-- data are still TOAST pointers. Cutting pieces out of the pages first
-- made the aggregate sort the pieces themselves, 10 MiB spilled to a
-- temporary file for a 10 MiB read, at five times the cost.
CREATE OR REPLACE FUNCTION _db9_fs.get_range(ino bigint, sz bigint, off bigint, len bigint) RETURNS bytea
LANGUAGE plpgsql STABLE AS $$
DECLARE ps constant bigint := 262144; res bytea; p0 bigint; p1 bigint; n bigint; whole boolean;
BEGIN
  IF off >= sz OR len <= 0 THEN RETURN ''::bytea; END IF;
  len := least(len, sz - off);
  p0 := off / ps; p1 := (off + len - 1) / ps;
  -- octet_length of an out-of-line value reads its TOAST pointer only
  SELECT count(*), coalesce(bool_and(pg_catalog.octet_length(pg.data) = least(ps, sz - pg.pageno * ps)), false)
    INTO n, whole
    FROM _db9_fs.pages pg WHERE pg.inode = ino AND pg.pageno BETWEEN p0 AND p1;
  IF n = p1 - p0 + 1 AND whole THEN
    SELECT pg_catalog.string_agg(pg.data, ''::bytea ORDER BY pg.pageno) INTO res
      FROM _db9_fs.pages pg WHERE pg.inode = ino AND pg.pageno BETWEEN p0 AND p1;
    IF off = p0 * ps AND len = pg_catalog.octet_length(res) THEN RETURN res; END IF;
    RETURN substring(res, (off - p0 * ps + 1)::integer, len::integer);
  END IF;
  SELECT pg_catalog.string_agg(
      CASE WHEN pg_catalog.octet_length(coalesce(pg.data, ''::bytea)) >= x.e - g * ps
        THEN substring(pg.data, (x.s - g * ps + 1)::integer, (x.e - x.s)::integer)
        ELSE substring(coalesce(pg.data, ''::bytea) || _db9_fs.zeros(x.e - g * ps - pg_catalog.octet_length(coalesce(pg.data, ''::bytea))),
               (x.s - g * ps + 1)::integer, (x.e - x.s)::integer) END,
      ''::bytea ORDER BY g)
    INTO res
  FROM pg_catalog.generate_series(p0, p1) g
  CROSS JOIN LATERAL (SELECT greatest(off, g * ps) AS s, least(off + len, g * ps + ps) AS e) x
  LEFT JOIN _db9_fs.pages pg ON pg.inode = ino AND pg.pageno = g;
  RETURN coalesce(res, ''::bytea);
END $$;

-- whole_pages tells whether file ino of size sz has every page, each
-- whole (only sparse files have gaps); octet_length of an out-of-line
-- value reads its TOAST pointer only.
CREATE OR REPLACE FUNCTION _db9_fs.whole_pages(ino bigint, sz bigint) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT count(*) = (sz + 262143) / 262144
    AND coalesce(bool_and(pg_catalog.octet_length(pg.data) = least(262144, sz - pg.pageno * 262144)), false)
  FROM _db9_fs.pages pg WHERE pg.inode = ino
$$;

-- utf8_cont counts the UTF-8 continuation bytes (0 to 3) that h, the first
-- bytes of a page, starts with (0 for NULL: no next page). Inlined into
-- text_pages's query (like every helper here it runs under an entry
-- point's pinned search_path).
CREATE OR REPLACE FUNCTION _db9_fs.utf8_cont(h bytea) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN h IS NULL OR pg_catalog.octet_length(h) < 1 OR pg_catalog.get_byte(h, 0) & 192 <> 128 THEN 0
              WHEN pg_catalog.octet_length(h) < 2 OR pg_catalog.get_byte(h, 1) & 192 <> 128 THEN 1
              WHEN pg_catalog.octet_length(h) < 3 OR pg_catalog.get_byte(h, 2) & 192 <> 128 THEN 2
              ELSE 3 END
$$;

-- truncate_pages cuts the content of ino to sz bytes.
CREATE OR REPLACE FUNCTION _db9_fs.truncate_pages(ino bigint, sz bigint) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE ps constant bigint := 262144;
BEGIN
  DELETE FROM _db9_fs.pages WHERE inode = ino AND pageno::bigint * ps >= sz;
  IF sz % ps <> 0 THEN
    UPDATE _db9_fs.pages SET data = substring(data, 1, (sz % ps)::integer)
      WHERE inode = ino AND pageno = sz / ps AND pg_catalog.octet_length(data) > sz % ps;
  END IF;
END $$;

-- to_text decodes UTF-8, replacing invalid sequences and NUL (which text
-- cannot hold) with U+FFFD. Valid input takes the fast path: convert_from
-- refuses NUL like any invalid byte, so no search for NUL goes first (a
-- byte-by-byte position() that took as long as the decoding).
CREATE OR REPLACE FUNCTION _db9_fs.to_text(b bytea) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE n integer := pg_catalog.octet_length(b); i integer := 0; run integer := 0; c integer; need integer;
  lo integer; hi integer; ok boolean; parts text[] := '{}';
BEGIN
  BEGIN
    RETURN pg_catalog.convert_from(b, 'UTF8');
  EXCEPTION WHEN character_not_in_repertoire OR untranslatable_character THEN
    NULL; -- fall through to the slow path
  END;
  WHILE i < n LOOP
    c := pg_catalog.get_byte(b, i);
    need := CASE WHEN c BETWEEN 1 AND 127 THEN 0 WHEN c BETWEEN 194 AND 223 THEN 1
      WHEN c BETWEEN 224 AND 239 THEN 2 WHEN c BETWEEN 240 AND 244 THEN 3 ELSE -1 END;
    ok := need >= 0 AND i + need < n;
    IF ok AND need > 0 THEN
      lo := CASE c WHEN 224 THEN 160 WHEN 240 THEN 144 ELSE 128 END;
      hi := CASE c WHEN 237 THEN 159 WHEN 244 THEN 143 ELSE 191 END;
      IF pg_catalog.get_byte(b, i + 1) NOT BETWEEN lo AND hi THEN ok := false; END IF;
      FOR j IN 2..need LOOP
        IF ok AND pg_catalog.get_byte(b, i + j) NOT BETWEEN 128 AND 191 THEN ok := false; END IF;
      END LOOP;
    END IF;
    IF ok THEN
      run := run + need + 1; i := i + need + 1;
    ELSE
      IF run > 0 THEN parts := parts || pg_catalog.convert_from(substring(b, i - run + 1, run), 'UTF8'); END IF;
      parts := array_append(parts, U&'\FFFD');
      run := 0; i := i + 1;
    END IF;
  END LOOP;
  IF run > 0 THEN parts := parts || pg_catalog.convert_from(substring(b, n - run + 1, run), 'UTF8'); END IF;
  RETURN pg_catalog.array_to_string(parts, '');
END $$;
