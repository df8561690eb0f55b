// The pages outside a database: the database list (home) and the account
// (who am I, API tokens).

import { api } from './api.js';
import { h, replace, field } from './dom.js';
import { store, refreshDatabases } from './app.js';
import { announce, notice, errorNotice, section, table, secretPanel, confirmDanger, form, stateBadge, timeCell } from './ui.js';

/** renderHome lists databases and offers to create one. */
export async function renderHome(ctx) {
  const { main } = ctx;
  const name = field('Name', {
    name: 'name', required: true, pattern: '[a-z0-9][a-z0-9\\-]{0,62}', maxlength: '63',
    autocomplete: 'off', spellcheck: 'false', id: 'new-db-name',
  }, 'Lowercase letters, digits and dashes; up to 63 characters.');
  const out = h('div', { id: 'create-db-result' });
  const listEl = h('div', { 'aria-live': 'polite' }, h('p', { class: 'muted' }, 'Loading databases…'));
  const create = form({ class: 'row wrap align-end', 'aria-label': 'Create a database' }, [
    name.wrap, h('button', { type: 'submit', id: 'create-db' }, 'Create database'),
  ], async () => {
    replace(out, notice('info', 'Creating… (a new PostgreSQL instance starts)'));
    try {
      const d = await api('POST', '/customer/databases', { name: name.input.value.trim() });
      replace(out, secretPanel(`Database ${d.name} created`, [
        ['Admin password', d.admin_password],
        ['Connection string', d.connection_string],
      ]), h('p', {}, h('a', { href: `#/db/${encodeURIComponent(d.id)}/sql`, class: 'button', id: 'open-new-db' }, `Open ${d.name} →`)));
      announce(`Database ${d.name} created`);
      await refresh();
      return true;
    } catch (e) {
      replace(out, errorNotice(e, 'Create database'));
    }
  });
  const refresh = async () => {
    const dbs = await refreshDatabases();
    if (!ctx.live) return;
    replace(listEl, table([
      { label: 'Name', cell: (d) => h('a', { href: `#/db/${encodeURIComponent(d.id)}` }, d.name) },
      { label: 'State', cell: (d) => stateBadge(d.state) },
      { label: 'Id', cell: (d) => h('code', {}, d.id), class: 'hide-narrow' },
      { label: 'Branch of', cell: (d) => parentName(d), class: 'hide-narrow' },
      { label: 'Created', cell: (d) => timeCell(d.created_at), class: 'hide-narrow' },
    ], dbs, { empty: 'No databases yet: create one above.', label: 'Databases' }));
  };
  replace(main,
    h('h1', { tabindex: '-1' }, 'Databases'),
    section('New database', create, out),
    section('Your databases', listEl));
  main.querySelector('h1').focus();
  await refresh();
}

function parentName(d) {
  if (!d.parent_database_id) return '—';
  const p = store.dbs.find((x) => x.id === d.parent_database_id);
  return p ? p.name : d.parent_database_id;
}

/** renderAccount shows the signed-in customer and their API tokens. */
export async function renderAccount(ctx) {
  const { main } = ctx;
  const meEl = h('div', {}, h('p', { class: 'muted' }, 'Loading…'));
  const tokensEl = h('div', {});
  const out = h('div', {});
  replace(main, h('h1', { tabindex: '-1' }, 'Account'), section('You', meEl), section('API tokens', out, tokensEl));
  main.querySelector('h1').focus();
  try {
    const me = await api('GET', '/customer/me', undefined, { signal: ctx.signal });
    store.me = me;
    replace(meEl, h('dl', { class: 'props' },
      h('dt', {}, 'Customer id'), h('dd', {}, h('code', {}, me.id)),
      h('dt', {}, 'Email'), h('dd', {}, me.email || '—'),
      h('dt', {}, 'Anonymous'), h('dd', {}, me.is_anonymous ? 'yes (claim it with `db9 login`)' : 'no'),
      h('dt', {}, 'Created'), h('dd', {}, timeCell(me.created_at))));
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(meEl, errorNotice(e));
  }
  const name = field('Name', { name: 'name', autocomplete: 'off', placeholder: 'generated when empty' });
  const days = field('Expires in days', { name: 'days', type: 'number', min: '1', max: '3650', inputmode: 'numeric', placeholder: '365' });
  const create = form({ class: 'row wrap align-end', 'aria-label': 'Create an API token' }, [
    name.wrap, days.wrap, h('button', { type: 'submit' }, 'Create token'),
  ], async () => {
    const body = {};
    if (name.input.value.trim()) body.name = name.input.value.trim();
    if (days.input.value) body.expires_in_days = Number(days.input.value);
    try {
      const t = await api('POST', '/customer/tokens', body);
      replace(out, secretPanel(`Token ${t.name} created`, [['API token', t.token]]));
      await load();
      return true;
    } catch (e) {
      replace(out, errorNotice(e, 'Create token'));
    }
  });
  const load = async () => {
    try {
      const list = await api('GET', '/customer/tokens', undefined, { signal: ctx.signal });
      replace(tokensEl, table([
        { label: 'Name', cell: (t) => t.name },
        { label: 'Scope', cell: (t) => (typeof t.scope === 'string' ? t.scope : JSON.stringify(t.scope)) },
        { label: 'Created', cell: (t) => timeCell(t.created_at), class: 'hide-narrow' },
        { label: 'Expires', cell: (t) => timeCell(t.expires_at), class: 'hide-narrow' },
        { label: 'Last used', cell: (t) => timeCell(t.last_used_at), class: 'hide-narrow' },
        { label: 'Actions', cell: (t) => h('button', {
          type: 'button', class: 'danger small', 'aria-label': `Revoke token ${t.name}`,
          onClick: async () => {
            if (!await confirmDanger({ title: 'Revoke token?', text: `Token ${t.name} stops working at once. If it is the token you signed in with, you will be signed out.`, action: 'Revoke' })) return;
            try {
              await api('DELETE', `/customer/tokens/${encodeURIComponent(t.id)}`);
              announce(`Token ${t.name} revoked`);
              await load();
            } catch (e) {
              replace(out, errorNotice(e, 'Revoke token'));
            }
          },
        }, 'Revoke') },
      ], list || [], { label: 'API tokens' }));
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(tokensEl, errorNotice(e, 'API tokens'));
    }
  };
  out.before(create);
  await load();
}
