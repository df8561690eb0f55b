// Keys of a database: connect keys (PostgreSQL passwords), publishable keys
// (browser, data API) and service keys (server side). Each kind loads on
// its own, so a server without one of them still shows the others.

import { api, dbPath } from './api.js';
import { h, replace, field } from './dom.js';
import { announce, errorNotice, section, table, form, secretPanel, confirmDanger, timeCell } from './ui.js';

const csv = (s) => s.split(',').map((x) => x.trim()).filter(Boolean);
const list = (v) => (Array.isArray(v) ? (v.length ? v.join(', ') : '—') : v ? JSON.stringify(v) : '—');

const KINDS = [
  {
    title: 'Connect keys', path: '/connect-keys', secret: 'connect_key', id: 'connect-keys',
    fields: () => [
      ['name', field('Name', { autocomplete: 'off', placeholder: 'generated when empty' })],
      ['role', field('Role', { autocomplete: 'off', placeholder: 'admin' })],
      ['expires_in_days', field('Expires in days', { type: 'number', min: '1', inputmode: 'numeric' })],
    ],
    columns: [
      { label: 'Role', cell: (k) => h('code', {}, k.role) },
      { label: 'Scopes', cell: (k) => list(k.scopes), class: 'hide-narrow' },
    ],
  },
  {
    title: 'Publishable keys', path: '/publishable-keys', secret: 'key', id: 'publishable-keys',
    fields: () => [
      ['name', field('Name', { autocomplete: 'off', placeholder: 'generated when empty' })],
      ['allowed_origins', field('Allowed origins', { autocomplete: 'off', placeholder: '*' }, 'Comma-separated, e.g. https://app.example.com')],
      ['exposed_schemas', field('Exposed schemas', { autocomplete: 'off', placeholder: 'public' }, 'Comma-separated')],
    ],
    columns: [
      { label: 'Origins', cell: (k) => list(k.allowed_origins) },
      { label: 'Schemas', cell: (k) => list(k.exposed_schemas), class: 'hide-narrow' },
    ],
  },
  {
    title: 'Service keys', path: '/service-keys', secret: 'key', id: 'service-keys',
    fields: () => [
      ['name', field('Name', { autocomplete: 'off', placeholder: 'generated when empty' })],
      ['expires_in_days', field('Expires in days', { type: 'number', min: '1', inputmode: 'numeric' })],
    ],
    columns: [],
    note: 'Service keys bypass row-level security: keep them on servers, never in a browser.',
  },
];

export async function renderKeys(ctx, db) {
  const { main } = ctx;
  replace(main);
  await Promise.all(KINDS.map((kind) => keySection(ctx, db, kind)));
}

async function keySection(ctx, db, kind) {
  const out = h('div', {});
  const listEl = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const fields = kind.fields();
  const create = form({ class: 'row wrap align-end', 'aria-label': `Create a ${kind.title.toLowerCase().replace(/s$/, '')}` }, [
    fields.map(([, f]) => f.wrap), h('button', { type: 'submit' }, 'Create'),
  ], async () => {
    const body = {};
    for (const [key, f] of fields) {
      const v = f.input.value.trim();
      if (!v) continue;
      if (key === 'expires_in_days') body[key] = Number(v);
      else if (key === 'allowed_origins' || key === 'exposed_schemas') body[key] = csv(v);
      else body[key] = v;
    }
    try {
      const k = await api('POST', dbPath(db.id, kind.path), body);
      replace(out, secretPanel(`${kind.title.replace(/s$/, '')} ${k.name} created`, [['Key', k[kind.secret]]]));
      out.scrollIntoView({ block: 'nearest' });
      await load();
      return true;
    } catch (e) {
      replace(out, errorNotice(e, `Create ${kind.title.toLowerCase()}`));
    }
  });
  const sec = section(kind.title, kind.note ? h('p', { class: 'muted' }, kind.note) : null, create, out, listEl);
  sec.id = kind.id;
  ctx.main.append(sec);
  const load = async () => {
    let keys;
    try {
      keys = await api('GET', dbPath(db.id, kind.path), undefined, { signal: ctx.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      if (e.unavailable) {
        // Nothing to create either when the server lacks the kind.
        create.remove();
        if (kind.note) sec.querySelector('p.muted')?.remove();
      }
      replace(listEl, errorNotice(e, kind.title));
      return;
    }
    replace(listEl, table([
      { label: 'Name', cell: (k) => k.name },
      ...kind.columns,
      { label: 'Created', cell: (k) => timeCell(k.created_at), class: 'hide-narrow' },
      { label: 'Expires', cell: (k) => timeCell(k.expires_at), class: 'hide-narrow' },
      { label: 'Last used', cell: (k) => timeCell(k.last_used_at), class: 'hide-narrow' },
      { label: 'Actions', cell: (k) => h('button', {
        type: 'button', class: 'danger small', 'aria-label': `Revoke ${k.name}`,
        onClick: async () => {
          if (!await confirmDanger({ title: `Revoke ${k.name}?`, text: 'The key stops working at once.', action: 'Revoke' })) return;
          try {
            await api('DELETE', dbPath(db.id, `${kind.path}/${encodeURIComponent(k.id)}`));
            announce(`${k.name} revoked`);
            await load();
          } catch (e) {
            replace(out, errorNotice(e, 'Revoke'));
          }
        },
      }, 'Revoke') },
    ], keys || [], { label: kind.title, empty: 'No keys yet.' }));
  };
  await load();
}
