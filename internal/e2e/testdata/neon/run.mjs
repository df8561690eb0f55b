// Drives @neondatabase/serverless (HTTP and WebSocket) and
// drizzle-orm/neon-http against a db9 server; run by
// internal/e2e/neon_test.go. Env: DB9_HTTP (host:port of the HTTP server),
// DATABASE_URL (postgresql://<db>.admin:<password>@<host>/postgres).
// Prints one JSON object of everything it saw; the Go test checks it.
import { neon, neonConfig, Pool, Client } from '@neondatabase/serverless';
import { drizzle } from 'drizzle-orm/neon-http';
import { pgTable, serial, text, integer } from 'drizzle-orm/pg-core';
import { eq } from 'drizzle-orm';
import ws from 'ws';

const http = process.env.DB9_HTTP;
const url = process.env.DATABASE_URL;
// The documented knobs only (docs/NEON.md).
neonConfig.fetchEndpoint = () => `http://${http}/sql`;
neonConfig.webSocketConstructor = ws;
neonConfig.wsProxy = () => `${http}/v2`;
neonConfig.useSecureWebSocket = false;

const out = {};
const sql = neon(url);

out.single = await sql`SELECT 1 + ${41}::int AS answer, ${'db9'} AS name`;
out.query = await sql.query('SELECT $1::text || $2::text AS s', ['a', 'b']);
out.arrayMode = await sql.query('SELECT 1 AS a, 2 AS b', [], { arrayMode: true });
const full = await sql.query('SELECT 7::int4 AS n', [], { fullResults: true });
out.full = { command: full.command, rowCount: full.rowCount, rows: full.rows, rowAsArray: full.rowAsArray,
  fields: full.fields.map(f => ({ name: f.name, dataTypeID: f.dataTypeID })) };

await sql`CREATE TABLE IF NOT EXISTS neon_items (id serial PRIMARY KEY, name text NOT NULL, qty integer NOT NULL DEFAULT 0)`;
out.tx = await sql.transaction([
  sql`INSERT INTO neon_items (name, qty) VALUES (${'apple'}, ${3})`,
  sql`INSERT INTO neon_items (name, qty) VALUES (${'pear'}, ${5})`,
  sql`SELECT name, qty FROM neon_items ORDER BY id`,
], { isolationLevel: 'Serializable' });
try {
  await sql.transaction([
    sql`INSERT INTO neon_items (name) VALUES (${'never'})`,
    sql`SELECT 1/0`,
  ]);
  out.txError = 'no error';
} catch (e) {
  out.txError = e.code;
}
out.afterFailedTx = await sql`SELECT count(*)::int AS n FROM neon_items WHERE name = 'never'`;

const [t] = await sql`SELECT 9007199254740993::int8 AS big, 12345.678901234567890::numeric AS num,
  '{"k":[1,"two",null]}'::jsonb AS doc, '2024-05-06T07:08:09.123Z'::timestamptz AS at,
  '\\xdeadbeef'::bytea AS bin, ARRAY[1,2,3]::int4[] AS ints, ARRAY['x','y,z',NULL]::text[] AS texts,
  true AS yes, ${Buffer.from([1, 2, 255])}::bytea AS echoed, ${new Date('2020-01-02T03:04:05Z')}::timestamptz AS echoedAt`;
out.types = { big: t.big, bigType: typeof t.big, num: t.num, doc: t.doc, at: t.at.toISOString(),
  bin: Buffer.from(t.bin).toString('hex'), ints: t.ints, texts: t.texts, yes: t.yes,
  echoed: Buffer.from(t.echoed).toString('hex'), echoedAt: t.echoedat.toISOString() };

try {
  await sql`SELECT no_such_column FROM neon_items`;
  out.sqlError = 'no error';
} catch (e) {
  out.sqlError = { name: e.name, message: e.message, code: e.code, position: e.position, severity: e.severity };
}
try {
  await neon(url.replace(/:[^:@/]+@/, ':wrong@'))`SELECT 1`;
  out.authError = 'no error';
} catch (e) {
  out.authError = { message: e.message, code: e.code };
}

// WebSocket mode: Pool and Client, a transaction on one connection.
const pool = new Pool({ connectionString: url });
const pc = await pool.connect();
await pc.query('BEGIN');
await pc.query('INSERT INTO neon_items (name, qty) VALUES ($1, $2)', ['ws-pool', 7]);
const inside = await pc.query("SELECT count(*)::int AS n FROM neon_items WHERE name = 'ws-pool'");
await pc.query('ROLLBACK');
pc.release();
const afterRollback = await pool.query("SELECT count(*)::int AS n FROM neon_items WHERE name = 'ws-pool'");
out.wsPool = { inside: inside.rows[0].n, afterRollback: afterRollback.rows[0].n };
await pool.end();

const client = new Client(url);
await client.connect();
await client.query('BEGIN');
await client.query('INSERT INTO neon_items (name, qty) VALUES ($1, $2)', ['ws-client', 11]);
await client.query('COMMIT');
const who = await client.query('SELECT current_user AS u, pg_backend_pid() AS pid');
const got = await client.query("SELECT qty FROM neon_items WHERE name = 'ws-client'");
out.wsClient = { user: who.rows[0].u, qty: got.rows[0].qty };
await client.end();

// drizzle-orm/neon-http on top of the HTTP mode.
const items = pgTable('neon_items', { id: serial('id').primaryKey(), name: text('name').notNull(), qty: integer('qty').notNull() });
const db = drizzle({ client: neon(url) });
const inserted = await db.insert(items).values({ name: 'drizzle', qty: 42 }).returning();
const selected = await db.select().from(items).where(eq(items.name, 'drizzle'));
out.drizzle = { inserted: inserted.map(r => ({ name: r.name, qty: r.qty })), selected: selected.map(r => ({ name: r.name, qty: r.qty })) };

console.log(JSON.stringify(out));
