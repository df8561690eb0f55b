// Users: the database's login roles (GET/POST/DELETE .../users).

import { api, dbPath } from './api.js';
import { h, replace, field } from './dom.js';
import { announce, errorNotice, section, table, form, secretPanel, confirmDanger, timeCell } from './ui.js';

export async function renderUsers(ctx, db) {
  const { main } = ctx;
  const out = h('div', { id: 'users-result' });
  const listEl = h('div', { id: 'users-list' }, h('p', { class: 'muted' }, 'Loading…'));
  const user = field('Username', { id: 'new-user-name', name: 'username', required: true, pattern: '[A-Za-z_][A-Za-z0-9_]{0,62}', autocomplete: 'off', spellcheck: 'false' });
  const pw = field('Password', { name: 'password', type: 'password', autocomplete: 'new-password', placeholder: 'generated when empty' });
  const create = form({ class: 'row wrap align-end', 'aria-label': 'Create a user' }, [user.wrap, pw.wrap, h('button', { type: 'submit', id: 'create-user' }, 'Create user')], async () => {
    const body = { username: user.input.value.trim() };
    if (pw.input.value) body.password = pw.input.value;
    try {
      const u = await api('POST', dbPath(db.id, '/users'), body);
      replace(out, secretPanel(`User ${u.username} created`, [['Password', u.password]]));
      await load();
      return true;
    } catch (e) {
      replace(out, errorNotice(e, 'Create user'));
    }
  });
  const yes = (v) => (v ? 'yes' : 'no');
  const load = async () => {
    let list;
    try {
      list = await api('GET', dbPath(db.id, '/users'), undefined, { signal: ctx.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(listEl, errorNotice(e, 'Users'));
      return;
    }
    replace(listEl, table([
      { label: 'Username', cell: (u) => h('code', {}, u.username) },
      { label: 'Login', cell: (u) => yes(u.can_login) },
      { label: 'Superuser', cell: (u) => yes(u.is_superuser), class: 'hide-narrow' },
      { label: 'Create DB', cell: (u) => yes(u.can_create_db), class: 'hide-narrow' },
      { label: 'Created', cell: (u) => timeCell(u.created_at), class: 'hide-narrow' },
      { label: 'Actions', cell: (u) => (u.username === 'admin' ? '—' : h('button', {
        type: 'button', class: 'danger small', 'aria-label': `Delete user ${u.username}`,
        onClick: async () => {
          if (!await confirmDanger({ title: `Delete user ${u.username}?`, text: 'The role is dropped; its sessions can no longer log in.' })) return;
          try {
            await api('DELETE', dbPath(db.id, `/users/${encodeURIComponent(u.username)}`));
            announce(`User ${u.username} deleted`);
            await load();
          } catch (e) {
            replace(out, errorNotice(e, 'Delete user'));
          }
        },
      }, 'Delete')) },
    ], list || [], { label: 'Users' }));
  };
  replace(main, section('New user', create, out), section('Users', listEl));
  await load();
}
