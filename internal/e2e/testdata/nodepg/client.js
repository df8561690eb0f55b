// Connects through the db9 front door with node-postgres and prints
// current_user. PGURL is the connection URL; SSL=true asks for TLS
// (certificate not verified: the server's is self-signed).
const { Client } = require('pg');
const url = new URL(process.env.PGURL);
url.searchParams.delete('sslmode');
url.searchParams.delete('connect_timeout');
const client = new Client({
  connectionString: url.toString(),
  ssl: process.env.SSL === 'true' ? { rejectUnauthorized: false } : false,
});
(async () => {
  await client.connect();
  const r = await client.query('select current_user as u, $1::int + 1 as n', [41]);
  if (r.rows[0].n !== 42) throw new Error('bad answer ' + JSON.stringify(r.rows));
  console.log(r.rows[0].u);
  await client.end();
})().catch((e) => { console.error(e.code || '', e.message); process.exit(1); });
