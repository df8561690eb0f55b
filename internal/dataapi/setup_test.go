package dataapi

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/db9/db9/internal/pgtest"
)

// poolBackend lends connections of one pgx pool per database name.
type poolBackend struct{ pools map[string]*pgxpool.Pool }

type poolConn struct{ c *pgxpool.Conn }

func (p poolConn) PgConn() *pgconn.PgConn { return p.c.Conn().PgConn() }
func (p poolConn) Release()               { p.c.Release() }

func (b *poolBackend) Acquire(ctx context.Context, db string) (Conn, error) {
	pool := b.pools[db]
	if pool == nil {
		return nil, &pgconn.PgError{Code: "3D000", Message: "database " + db + " does not exist"}
	}
	c, err := pool.Acquire(ctx)
	if err != nil {
		return nil, err
	}
	return poolConn{c}, nil
}

// testSchemaSQL is a realistic application schema: users, posts with
// comments, tags through a junction table, an enum, jsonb, ranges, a
// tsvector, a view, functions and RLS on a claim.
const testSchemaSQL = `
CREATE ROLE admin LOGIN BYPASSRLS NOSUPERUSER;
CREATE SCHEMA auth;
GRANT USAGE ON SCHEMA auth TO PUBLIC;
CREATE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS $$
  SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $$;
CREATE FUNCTION auth.uid() RETURNS uuid LANGUAGE sql STABLE AS $$
  SELECT nullif(coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''), auth.jwt() ->> 'sub'), '')::uuid $$;
CREATE TYPE post_status AS ENUM ('draft', 'published');
CREATE TABLE users (id uuid PRIMARY KEY, name text NOT NULL, email text UNIQUE, profile jsonb NOT NULL DEFAULT '{}');
CREATE TABLE posts (
  id serial PRIMARY KEY,
  author_id uuid NOT NULL REFERENCES users(id),
  title text NOT NULL,
  body text,
  status post_status NOT NULL DEFAULT 'draft',
  meta jsonb,
  during int4range,
  labels text[],
  search tsvector GENERATED ALWAYS AS (to_tsvector('english', title || ' ' || coalesce(body, ''))) STORED);
CREATE TABLE comments (id serial PRIMARY KEY, post_id int NOT NULL REFERENCES posts(id) ON DELETE CASCADE,
  author_id uuid NOT NULL REFERENCES users(id), body text NOT NULL, likes int NOT NULL DEFAULT 0);
CREATE TABLE tags (id serial PRIMARY KEY, name text NOT NULL UNIQUE);
CREATE TABLE post_tags (post_id int REFERENCES posts(id) ON DELETE CASCADE, tag_id int REFERENCES tags(id), PRIMARY KEY (post_id, tag_id));
CREATE TABLE secrets (id int PRIMARY KEY, v text);
CREATE TABLE notes (id serial PRIMARY KEY, owner uuid NOT NULL DEFAULT auth.uid(), body text);
ALTER TABLE notes ENABLE ROW LEVEL SECURITY;
CREATE POLICY own ON notes USING (owner = auth.uid()) WITH CHECK (owner = auth.uid());
CREATE VIEW published_posts AS SELECT id, title, author_id FROM posts WHERE status = 'published';
CREATE FUNCTION add(a int, b int DEFAULT 1) RETURNS int LANGUAGE sql IMMUTABLE AS 'SELECT a + b';
CREATE FUNCTION posts_by(uid uuid) RETURNS SETOF posts LANGUAGE sql STABLE AS 'SELECT * FROM posts WHERE author_id = uid ORDER BY id';
CREATE FUNCTION new_tag(name text) RETURNS int LANGUAGE sql VOLATILE AS 'INSERT INTO tags(name) VALUES (name) RETURNING id';
CREATE FUNCTION whoami() RETURNS text LANGUAGE sql STABLE AS $$ SELECT current_user || ':' || coalesce(auth.uid()::text, '-') $$;
CREATE FUNCTION numbers(n int) RETURNS SETOF int LANGUAGE sql IMMUTABLE AS 'SELECT generate_series(1, n)';
CREATE FUNCTION stats() RETURNS TABLE (total bigint, drafts bigint) LANGUAGE sql STABLE AS
  $$ SELECT count(*), count(*) FILTER (WHERE status = 'draft') FROM posts $$;
CREATE FUNCTION nothing() RETURNS void LANGUAGE sql AS 'SELECT';
CREATE SCHEMA api;
CREATE TABLE api.items (id int PRIMARY KEY, name text);
INSERT INTO api.items VALUES (1, 'from api');
GRANT USAGE ON SCHEMA public, api TO anon, authenticated, service_role;
GRANT SELECT ON users, posts, comments, tags, post_tags, published_posts TO anon;
GRANT ALL ON ALL TABLES IN SCHEMA public, api TO authenticated, service_role;
GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO authenticated, service_role;
GRANT SELECT ON api.items TO anon;
INSERT INTO users VALUES
  ('00000000-0000-0000-0000-000000000001', 'Ada', 'ada@example.com', '{"city": "London", "langs": ["en", "fr"]}'),
  ('00000000-0000-0000-0000-000000000002', 'Bob', 'bob@example.com', '{"city": "Paris"}');
INSERT INTO posts (author_id, title, body, status, meta, during, labels) VALUES
  ('00000000-0000-0000-0000-000000000001', 'Hello world', 'first post about databases', 'published', '{"views": 10}', '[1,10)', '{a,b}'),
  ('00000000-0000-0000-0000-000000000001', 'Second', 'more on postgres', 'draft', '{"views": 3}', '[5,20)', '{b}'),
  ('00000000-0000-0000-0000-000000000002', 'Bobs post', NULL, 'published', NULL, '[30,40)', '{}');
INSERT INTO comments (post_id, author_id, body, likes) VALUES
  (1, '00000000-0000-0000-0000-000000000002', 'nice', 3),
  (1, '00000000-0000-0000-0000-000000000001', 'thanks', 1),
  (3, '00000000-0000-0000-0000-000000000001', 'hi bob', 5);
INSERT INTO tags (name) VALUES ('go'), ('sql'), ('news');
INSERT INTO post_tags VALUES (1, 1), (1, 2), (3, 3);
INSERT INTO notes (owner, body) VALUES
  ('00000000-0000-0000-0000-000000000001', 'ada note'),
  ('00000000-0000-0000-0000-000000000002', 'bob note');
INSERT INTO secrets VALUES (1, 'hidden');
ANALYZE;
`

type env struct {
	h       *Handler
	cluster *pgtest.Cluster
	su      *pgx.Conn
}

func mustOpenEnv(t testing.TB) *env {
	t.Helper()
	c := pgtest.Start(t)
	ctx := context.Background()
	su, err := pgx.Connect(ctx, c.ConnString(pgtest.Superuser))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { su.Close(ctx) })
	for _, s := range []string{PlatformSQL, testSchemaSQL} {
		if _, err := su.Exec(ctx, s); err != nil {
			t.Fatalf("setup: %v", err)
		}
	}
	pool, err := pgxpool.New(ctx, c.ConnString(AuthenticatorRole)+" pool_max_conns=4")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return &env{h: NewHandler(&poolBackend{pools: map[string]*pgxpool.Pool{"db1": pool}}, nil), cluster: c, su: su}
}

var anonP = Principal{Role: "anon", Schemas: []string{"public", "api"}, Anonymous: true}

func userP(sub string) Principal {
	return Principal{Role: "authenticated", Schemas: []string{"public", "api"},
		Claims: []byte(`{"sub":"` + sub + `","role":"authenticated"}`)}
}

var serviceP = Principal{Role: "service_role", Schemas: []string{"public", "api"}, Service: true}

type resp struct {
	status int
	header http.Header
	body   string
}

// do sends one request; target is "/path?query".
func (e *env) do(t testing.TB, p Principal, method, target string, hdr map[string]string, body string) resp {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	target = strings.NewReplacer(" ", "%20", `"`, "%22", "{", "%7B", "}", "%7D", "^", "%5E").Replace(target)
	r := httptest.NewRequest(method, "http://x/data/db1/rest/v1"+target, rd)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	if body != "" && r.Header.Get("Content-Type") == "" {
		r.Header.Set("Content-Type", "application/json")
	}
	w := httptest.NewRecorder()
	path := strings.TrimPrefix(r.URL.Path, "/data/db1/rest/v1")
	e.h.Serve(w, r, "db1", path, &p)
	return resp{w.Code, w.Header(), w.Body.String()}
}
