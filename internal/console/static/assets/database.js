// One database's page: a header with its state and a tab per capability.

import { api, dbPath } from './api.js';
import { h, replace } from './dom.js';
import { store, refreshDatabases, navigate } from './app.js';
import { announce, notice, errorNotice, section, secretPanel, confirmDanger, stateBadge, timeCell } from './ui.js';
import { renderSQL } from './sql.js';
import { renderSchema } from './schema.js';
import { renderBranches } from './branches.js';
import { renderUsers } from './users.js';
import { renderKeys } from './keys.js';
import { renderFunctions } from './functions.js';
import { renderFiles } from './files.js';
import { renderObservability } from './observability.js';

const TABS = [
  ['overview', 'Overview', renderOverview],
  ['sql', 'SQL', renderSQL],
  ['schema', 'Schema', renderSchema],
  ['branches', 'Branches', renderBranches],
  ['users', 'Users', renderUsers],
  ['keys', 'Keys', renderKeys],
  ['functions', 'Functions', renderFunctions],
  ['files', 'Files', renderFiles],
  ['observability', 'Observability', renderObservability],
];

/** renderDatabase renders the database page for route {id, tab, sub}. */
export async function renderDatabase(ctx, route) {
  const { main } = ctx;
  let db = store.dbs.find((d) => d.id === route.id || d.name === route.id);
  try {
    db = await api('GET', dbPath(route.id), undefined, { signal: ctx.signal });
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(main, h('h1', {}, route.id), errorNotice(e, 'Database'), h('p', {}, h('a', { href: '#/' }, '← All databases')));
    return;
  }
  const tab = TABS.find((t) => t[0] === route.tab) || TABS[0];
  const base = `#/db/${encodeURIComponent(db.id)}`;
  const body = h('div', { class: 'tab-body', id: 'tab-body' });
  replace(main,
    h('div', { class: 'db-head' },
      h('h1', { tabindex: '-1' }, db.name, ' ', stateBadge(db.state)),
      h('code', { class: 'muted' }, db.id)),
    h('nav', { class: 'tabs', 'aria-label': `${db.name} sections` },
      h('ul', {}, TABS.map(([key, label]) => h('li', {}, h('a', {
        href: key === 'overview' ? base : `${base}/${key}`,
        'aria-current': key === tab[0] ? 'page' : null,
        id: `tab-${key}`,
      }, label))))),
    body);
  main.querySelector('h1').focus();
  main.querySelector('.tabs [aria-current]')?.scrollIntoView({ block: 'nearest', inline: 'nearest' });
  await tab[2]({ ...ctx, main: body }, db, route.sub || []);
}

async function renderOverview(ctx, db) {
  const { main } = ctx;
  const creds = h('div', {});
  const props = [
    ['Id', h('code', {}, db.id)],
    ['State', [stateBadge(db.state), db.state_reason ? ` ${db.state_reason}` : '']],
    ['Region', db.region],
    ['Host', `${db.host}:${db.port}`],
    ['Database', db.database],
    ['Admin user', db.admin_user],
    ['Connection string', h('code', { class: 'wrap-anywhere' }, db.connection_string)],
    ['Created', timeCell(db.created_at)],
  ];
  if (db.parent_database_id) {
    const p = store.dbs.find((d) => d.id === db.parent_database_id);
    props.push(['Branch of', h('a', { href: `#/db/${encodeURIComponent(db.parent_database_id)}` }, p ? p.name : db.parent_database_id)]);
    props.push(['Snapshot at', timeCell(db.snapshot_at)]);
  }
  replace(main,
    section('Details', h('dl', { class: 'props' }, props.map(([k, v]) => [h('dt', {}, k), h('dd', {}, v)]))),
    section('Credentials',
      h('p', {}, 'The admin password is shown on request; resetting it ends its use at once.'),
      h('div', { class: 'row wrap' },
        h('button', {
          type: 'button', class: 'secondary',
          onClick: async () => {
            try {
              const c = await api('GET', dbPath(db.id, '/credentials'));
              replace(creds, secretPanel('Credentials', [['Admin user', c.admin_user], ['Admin password', c.admin_password], ['Connection string', c.connection_string]]));
            } catch (e) {
              replace(creds, errorNotice(e, 'Credentials'));
            }
          },
        }, 'Show credentials'),
        h('button', {
          type: 'button', class: 'secondary',
          onClick: async () => {
            if (!await confirmDanger({ title: 'Reset the admin password?', text: 'The current password stops working at once.', action: 'Reset' })) return;
            try {
              const c = await api('POST', dbPath(db.id, '/reset-password'));
              replace(creds, secretPanel('New credentials', [['Admin password', c.admin_password], ['Connection string', c.connection_string]]));
            } catch (e) {
              replace(creds, errorNotice(e, 'Reset password'));
            }
          },
        }, 'Reset password')),
      creds),
    section('Danger zone',
      h('p', {}, 'Deleting ends every session, stops the instance and removes its files.'),
      h('button', {
        type: 'button', class: 'danger', id: 'delete-db',
        onClick: async () => {
          const ok = await confirmDanger({ title: `Delete ${db.name}?`, text: 'This cannot be undone.', expect: db.name });
          if (!ok) return;
          try {
            await api('DELETE', dbPath(db.id));
            announce(`Database ${db.name} deleted`);
            await refreshDatabases();
            navigate('#/');
          } catch (e) {
            main.prepend(errorNotice(e, 'Delete'));
          }
        },
      }, 'Delete database')));
  if (db.state !== 'ACTIVE') main.prepend(notice('warn', `This database is ${db.state}.`));
}
