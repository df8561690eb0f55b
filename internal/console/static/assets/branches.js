// Branches: the databases branched from this one, and a form to branch it
// now or at a past moment. A new branch is CLONING; the page polls it
// until ACTIVE or CREATE_FAILED and shows the state as it goes.

import { api, dbPath } from './api.js';
import { h, replace, field } from './dom.js';
import { refreshDatabases } from './app.js';
import { announce, errorNotice, notice, section, table, form, stateBadge, timeCell, secretPanel } from './ui.js';

const POLL_MS = 1000;

/** toLocalInput formats a Date for <input type=datetime-local step=1>. */
function toLocalInput(d) {
  const p = (n) => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())}T${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}

export async function renderBranches(ctx, db) {
  const { main } = ctx;
  const name = field('Branch name', { name: 'name', required: true, pattern: '[a-z0-9][a-z0-9\\-]{0,62}', maxlength: '63', autocomplete: 'off', spellcheck: 'false', id: 'branch-name' });
  const at = field('At a past moment (optional)', {
    type: 'datetime-local', step: '1', name: 'snapshot_at', id: 'branch-at', max: toLocalInput(new Date()),
  }, 'Your local time. Empty: the branch holds the data as of now. Within the retention window (7 days by default).');
  const progress = h('div', { id: 'branch-progress', 'aria-live': 'polite' });
  const listEl = h('div', {});
  const create = form({ class: 'stack', 'aria-label': 'Create a branch' }, [
    h('div', { class: 'row wrap align-start' }, name.wrap, at.wrap),
    h('div', { class: 'row' }, h('button', { type: 'submit', id: 'create-branch' }, 'Create branch')),
  ], async () => {
    const body = { name: name.input.value.trim() };
    if (at.input.value) {
      const when = new Date(at.input.value);
      if (Number.isNaN(when.getTime())) {
        replace(progress, notice('error', 'That moment is not a valid date and time.'));
        return;
      }
      body.snapshot_at = when.toISOString();
    }
    let b;
    try {
      b = await api('POST', dbPath(db.id, '/branch'), body);
    } catch (e) {
      replace(progress, errorNotice(e, 'Create branch'));
      return;
    }
    announce(`Branch ${b.name} is ${b.state}`);
    await load();
    watch(ctx, b, progress, load);
    return true;
  });
  const load = async () => {
    const dbs = await refreshDatabases();
    if (!ctx.live) return;
    const branches = dbs.filter((d) => d.parent_database_id === db.id);
    replace(listEl, table([
      { label: 'Name', cell: (d) => h('a', { href: `#/db/${encodeURIComponent(d.id)}` }, d.name) },
      { label: 'State', cell: (d) => [stateBadge(d.state), d.state_reason ? h('small', { class: 'muted' }, ` ${d.state_reason}`) : null] },
      { label: 'Snapshot at', cell: (d) => timeCell(d.snapshot_at), class: 'hide-narrow' },
      { label: 'Created', cell: (d) => timeCell(d.created_at), class: 'hide-narrow' },
    ], branches, { empty: 'No branches of this database yet.', label: 'Branches' }));
    return branches;
  };
  replace(main, section('New branch', create, progress), section('Branches', listEl));
  const branches = await load();
  // Branches still cloning from an earlier visit are followed too.
  for (const b of branches || []) if (b.state === 'CLONING' || b.state === 'CREATING') watch(ctx, b, progress, load);
}

/** watch polls a branch until it settles, showing its state and the time spent. */
function watch(ctx, b, container, onDone) {
  const started = Date.now();
  const state = h('span', { class: 'branch-state', 'data-testid': 'branch-state' }, b.state);
  const bar = h('progress', { 'aria-label': `Cloning ${b.name}` });
  const elapsed = h('span', { class: 'muted' }, '0 s');
  const row = h('div', { class: 'notice info progress-row', 'data-branch': b.name },
    h('strong', {}, b.name), ' ', state, ' ', bar, ' ', elapsed);
  container.prepend(row);
  let timer = null;
  const stop = () => clearTimeout(timer);
  ctx.onCleanup(stop);
  const tick = async () => {
    if (!ctx.live) return;
    let cur;
    try {
      cur = await api('GET', dbPath(b.id), undefined, { signal: ctx.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(state, `unknown (${e.message}); retrying`);
      timer = setTimeout(tick, POLL_MS * 2);
      return;
    }
    replace(state, cur.state);
    replace(elapsed, `${Math.round((Date.now() - started) / 1000)} s`);
    if (cur.state === 'ACTIVE') {
      bar.max = 1;
      bar.value = 1;
      row.className = 'notice ok progress-row';
      row.append(' ', h('a', { href: `#/db/${encodeURIComponent(cur.id)}/sql` }, 'Open'), ' ',
        h('button', {
          type: 'button', class: 'secondary small',
          onClick: async (e) => {
            try {
              const c = await api('GET', dbPath(cur.id, '/credentials'));
              e.target.replaceWith(secretPanel(`Credentials of ${cur.name}`, [['Admin password', c.admin_password], ['Connection string', c.connection_string]]));
            } catch (err) {
              e.target.replaceWith(errorNotice(err, 'Credentials'));
            }
          },
        }, 'Credentials'));
      announce(`Branch ${cur.name} is ACTIVE`);
      onDone();
      return;
    }
    if (cur.state === 'CREATE_FAILED' || cur.state === 'DISABLED') {
      bar.remove();
      row.className = 'notice error progress-row';
      row.append(' ', cur.state_reason || '');
      announce(`Branch ${cur.name} failed`);
      onDone();
      return;
    }
    timer = setTimeout(tick, POLL_MS);
  };
  timer = setTimeout(tick, POLL_MS / 2);
}
