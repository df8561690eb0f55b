// The schema browser: tables and views of GET .../schema, each with its
// columns; "Query" opens the SQL editor on it.

import { api, dbPath } from './api.js';
import { h, replace } from './dom.js';
import { store, navigate } from './app.js';
import { errorNotice, section, table, fmtNum } from './ui.js';

function quoteIdent(s) {
  return /^[a-z_][a-z0-9_]*$/.test(s) ? s : `"${s.replace(/"/g, '""')}"`;
}

export async function renderSchema(ctx, db) {
  const { main } = ctx;
  replace(main, h('p', { class: 'muted' }, 'Loading schema…'));
  let sc;
  try {
    sc = await api('GET', dbPath(db.id, '/schema'), undefined, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(main, errorNotice(e, 'Schema'));
    return;
  }
  const rel = (r, kind) => {
    const qname = `${quoteIdent(r.schema)}.${quoteIdent(r.name)}`;
    const pk = new Set(r.primary_key || []);
    return h('details', { class: 'rel' },
      h('summary', {},
        h('span', { class: 'rel-name' }, `${r.schema}.${r.name}`),
        h('span', { class: 'muted' }, ` ${kind}${r.row_estimate !== undefined && r.row_estimate >= 0 ? ` · ~${fmtNum(r.row_estimate, 0)} rows` : ''}`)),
      h('div', { class: 'row end' }, h('button', {
        type: 'button', class: 'secondary small',
        onClick: () => {
          store.pendingSQL = `select * from ${qname} limit 100;`;
          navigate(`#/db/${encodeURIComponent(db.id)}/sql`);
        },
      }, `Query ${r.name}`)),
      table([
        { label: 'Column', cell: (c) => [c.name, pk.has(c.name) ? h('span', { class: 'badge ok', title: 'primary key' }, 'PK') : null] },
        { label: 'Type', cell: (c) => h('code', {}, c.type) },
        { label: 'Nullable', cell: (c) => (c.nullable ? 'yes' : 'no') },
        { label: 'Default', cell: (c) => (c.default ? h('code', {}, c.default) : '—'), class: 'hide-narrow' },
      ], (r.columns || []).slice().sort((a, b) => (a.position ?? 0) - (b.position ?? 0)), { label: `Columns of ${r.name}` }));
  };
  const tables = sc.tables || [];
  const views = sc.views || [];
  replace(main,
    section(`Tables (${tables.length})`, tables.length ? tables.map((t) => rel(t, 'table')) : h('p', { class: 'muted' }, 'No tables yet.')),
    section(`Views (${views.length})`, views.length ? views.map((v) => rel(v, v.materialized ? 'materialized view' : 'view')) : h('p', { class: 'muted' }, 'No views.')));
}
