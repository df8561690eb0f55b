-- fs9(...): listings, globs and file contents as rows. One SQL function
-- has one row type, so the columns are the union of the shapes of FS9.md
-- (listing: path, type, size, mode, mtime; text: _line_number, line;
-- jsonl: _line_number, line, data (the parsed line), _path; csv/tsv:
-- _line_number, data (one object per row), _path); the others are NULL.
-- The first parameter is named pathname, not path: path is a result column.

-- glob_re turns a glob (*, ?, **, [...]) into an anchored regex.
CREATE OR REPLACE FUNCTION _db9_fs.glob_re(g text) RETURNS text
LANGUAGE plpgsql IMMUTABLE STRICT AS $$
DECLARE out text := '^'; i integer := 1; c text; n integer := length(g); j integer;
BEGIN
  WHILE i <= n LOOP
    c := substr(g, i, 1);
    IF c = '*' AND substr(g, i, 3) = '**/' THEN out := out || '(?:.*/)?'; i := i + 3; CONTINUE; END IF;
    IF c = '*' AND substr(g, i, 2) = '**' THEN out := out || '.*'; i := i + 2; CONTINUE; END IF;
    IF c = '*' THEN out := out || '[^/]*';
    ELSIF c = '?' THEN out := out || '[^/]';
    ELSIF c = '[' AND strpos(substr(g, i + 1), ']') > 0 THEN
      j := strpos(substr(g, i + 1), ']');
      out := out || '[' || replace(replace(substr(g, i + 1, j - 1), '\', '\\'), '!', '^') || ']';
      i := i + j;
    ELSIF c ~ '[A-Za-z0-9/_ -]' THEN out := out || c;
    ELSE out := out || '\' || c;
    END IF;
    i := i + 1;
  END LOOP;
  RETURN out || '$';
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.excluded(p text, exclude text) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT exclude IS NOT NULL AND exclude <> '' AND CASE WHEN strpos(exclude, '/') > 0
    THEN p ~ _db9_fs.glob_re(exclude)
    ELSE regexp_replace(p, '^.*/', '') ~ _db9_fs.glob_re(exclude) END
$$;

-- parse_csv splits CSV text (RFC 4180 quoting) into records of fields,
-- with the physical line each record starts on.
CREATE OR REPLACE FUNCTION _db9_fs.parse_csv(content text, delim text)
RETURNS TABLE (line_no bigint, fields text[])
LANGUAGE plpgsql IMMUTABLE AS $$
DECLARE tok text[]; rec text[] := '{}'; f text; lineno bigint := 1; start bigint := 1; d text; pat text;
BEGIN
  IF delim IS NULL OR length(delim) <> 1 OR delim IN ('"', E'\n', E'\r') THEN
    PERFORM _db9_fs.fail('EINVAL', 'delimiter must be one character other than quote or newline');
  END IF;
  d := CASE WHEN delim ~ '[A-Za-z0-9]' THEN delim ELSE '\' || delim END;
  pat := '("(?:[^"]|"")*"|[^"' || d || '\r\n]*)(' || d || '|\r?\n|$)';
  FOR tok IN SELECT regexp_matches(content, pat, 'g') LOOP
    f := tok[1];
    IF left(f, 1) = '"' THEN
      lineno := lineno + length(f) - length(replace(f, E'\n', ''));
      f := replace(substr(f, 2, length(f) - 2), '""', '"');
    END IF;
    rec := rec || f;
    IF tok[2] <> delim THEN
      IF NOT (cardinality(rec) = 1 AND rec[1] = '') THEN
        line_no := start; fields := rec; RETURN NEXT;
      END IF;
      rec := '{}';
      IF tok[2] = '' THEN EXIT; END IF;
      lineno := lineno + 1; start := lineno;
    END IF;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION _db9_fs.read_rows(p text, format text, delimiter text, header boolean)
RETURNS TABLE (_line_number bigint, line text, data jsonb)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE fmt text := lower(coalesce(format, CASE
    WHEN p ~* '\.(jsonl|ndjson)$' THEN 'jsonl' WHEN p ~* '\.csv$' THEN 'csv' WHEN p ~* '\.tsv$' THEN 'tsv' ELSE 'text' END));
  content text; keys text[]; r record; first boolean := true;
BEGIN
  IF fmt NOT IN ('text', 'jsonl', 'csv', 'tsv') THEN
    PERFORM _db9_fs.fail('EINVAL', 'format must be text, jsonl, csv or tsv: ' || fmt);
  END IF;
  content := extensions.fs9_read(p);
  IF fmt IN ('text', 'jsonl') THEN
    FOR r IN SELECT t.l, t.n FROM regexp_split_to_table(content, E'\r?\n') WITH ORDINALITY AS t(l, n) LOOP
      IF fmt = 'text' THEN
        IF r.l = '' AND r.n > 1 AND right(content, 1) = E'\n'
           AND r.n = (length(content) - length(replace(content, E'\n', ''))) + 1 THEN
          CONTINUE; -- the empty "line" after the final newline
        END IF;
        IF content = '' THEN CONTINUE; END IF;
        _line_number := r.n; line := r.l; data := NULL; RETURN NEXT;
      ELSE
        IF btrim(r.l) = '' THEN CONTINUE; END IF;
        _line_number := r.n; line := r.l;
        BEGIN
          data := r.l::jsonb;
        EXCEPTION WHEN invalid_text_representation THEN
          PERFORM _db9_fs.fail('EINVAL', p || ':' || r.n || ': invalid JSON');
        END;
        RETURN NEXT;
      END IF;
    END LOOP;
    RETURN;
  END IF;
  FOR r IN SELECT * FROM _db9_fs.parse_csv(content, coalesce(delimiter, CASE fmt WHEN 'tsv' THEN E'\t' ELSE ',' END)) LOOP
    IF first AND coalesce(header, true) THEN keys := r.fields; first := false; CONTINUE; END IF;
    first := false;
    _line_number := r.line_no; line := NULL;
    SELECT jsonb_object_agg(CASE WHEN coalesce(header, true) AND i <= cardinality(keys) AND keys[i] <> ''
                                 THEN keys[i] ELSE 'c' || i END, v ORDER BY i)
      INTO data FROM unnest(r.fields) WITH ORDINALITY AS u(v, i);
    RETURN NEXT;
  END LOOP;
END $$;

CREATE OR REPLACE FUNCTION extensions.fs9(pathname text, format text DEFAULT NULL, delimiter text DEFAULT NULL,
  header boolean DEFAULT true, recursive boolean DEFAULT false, exclude text DEFAULT NULL)
RETURNS TABLE (path text, type text, size bigint, mode integer, mtime text,
  _line_number bigint, line text, data jsonb, _path text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
#variable_conflict use_column
DECLARE p text := pathname; segs text[]; prefix text[]; re text; m record; i integer;
BEGIN
  PERFORM _db9_fs.require(false, p);
  segs := _db9_fs.split(p);
  IF p ~ '[*?\[]' THEN
    prefix := '{}';
    FOR i IN 1..cardinality(segs) LOOP
      EXIT WHEN segs[i] ~ '[*?\[]';
      prefix := prefix || segs[i];
    END LOOP;
    re := _db9_fs.glob_re(_db9_fs.join(segs));
    FOR m IN SELECT (w.info).path AS mp FROM _db9_fs.walk(_db9_fs.join(prefix), 10, 10000) w
             WHERE (w.info).type = 'file' AND (w.info).path ~ re AND NOT _db9_fs.excluded((w.info).path, fs9.exclude)
             ORDER BY 1 LOOP
      RETURN QUERY SELECT NULL::text, NULL::text, NULL::bigint, NULL::integer, NULL::text,
        x._line_number, x.line, x.data, m.mp FROM _db9_fs.read_rows(m.mp, fs9.format, fs9.delimiter, fs9.header) x;
    END LOOP;
    RETURN;
  END IF;
  IF right(p, 1) = '/' THEN
    IF coalesce(fs9.recursive, false) THEN
      RETURN QUERY SELECT (w.info).path, (w.info).type, (w.info).size, (w.info).mode, _db9_fs.rfc3339((w.info).mtime),
          NULL::bigint, NULL::text, NULL::jsonb, NULL::text
        FROM (SELECT * FROM _db9_fs.walk(p, 10, 10000) LIMIT 10000) w
        WHERE NOT _db9_fs.excluded((w.info).path, fs9.exclude);
    ELSE
      RETURN QUERY SELECT d.path, d.type, d.size, d.mode, _db9_fs.rfc3339(d.mtime),
          NULL::bigint, NULL::text, NULL::jsonb, NULL::text
        FROM _db9_fs.readdir(p) d WHERE NOT _db9_fs.excluded(d.path, fs9.exclude);
    END IF;
    RETURN;
  END IF;
  RETURN QUERY SELECT NULL::text, NULL::text, NULL::bigint, NULL::integer, NULL::text,
    x._line_number, x.line, x.data, _db9_fs.join(segs) FROM _db9_fs.read_rows(p, fs9.format, fs9.delimiter, fs9.header) x;
END $$;
