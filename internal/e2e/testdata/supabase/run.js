// Runs cases.js against db9's data API and prints, as one JSON document,
// what each case returned: {name, data, count, error, status}. The Go test
// (internal/e2e/dataapi_node_test.go) compares it with /sql.
//
//   node run.js list   the cases' SQL: [{name, sql, countSql, when}]
//   node run.js run    the results (env DB9_DATA_URL, DB9_PUBLISHABLE_KEY,
//                      DB9_SERVICE_KEY)
'use strict';

const { createClient } = require('@supabase/supabase-js');
const { PostgrestClient } = require('@supabase/postgrest-js');
const cases = require('./cases.js');

async function main() {
  if (process.argv[2] === 'list') {
    process.stdout.write(JSON.stringify(cases.map((c) => ({
      name: c.name, sql: c.sql, countSql: c.countSql || '', when: c.when || 'before',
    }))));
    return;
  }
  const url = process.env.DB9_DATA_URL;
  const pk = process.env.DB9_PUBLISHABLE_KEY;
  const sk = process.env.DB9_SERVICE_KEY;
  // Realtime is not used; Node 20 has no WebSocket for it to find.
  const opts = {
    auth: { persistSession: false, autoRefreshToken: false },
    realtime: { transport: function NoRealtime() { throw new Error('realtime is not used by this test'); } },
  };
  const clients = {
    sb: createClient(url, pk, opts),
    svc: createClient(url, sk, opts),
    pg: new PostgrestClient(url + '/rest/v1', { headers: { apikey: pk } }),
  };
  const out = [];
  for (const c of cases) {
    let res;
    try {
      res = await c.run(clients[c.client]);
    } catch (e) {
      res = { error: { message: 'threw: ' + (e && e.stack || e) } };
    }
    let data = res.data === undefined ? null : res.data;
    if (c.sortBy && Array.isArray(data)) {
      data = [...data].sort((a, b) => (a[c.sortBy] < b[c.sortBy] ? -1 : a[c.sortBy] > b[c.sortBy] ? 1 : 0));
    }
    out.push({ name: c.name, data, count: res.count === undefined ? null : res.count,
      error: res.error || null, status: res.status || 0 });
  }
  process.stdout.write(JSON.stringify(out));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
