// The console's entry point: sign-in, the database list, and a hash router
// (#/, #/account, #/db/<id>/<tab>) that renders one page at a time into
// <main>. Each page gets a context whose signal aborts and whose cleanups
// run when the user navigates away, so polling and sockets never outlive
// their page.

import { api, session, setUnauthorizedHandler, ApiError } from './api.js';
import { h, replace, field } from './dom.js';
import { announce, notice, secretPanel, form, stateBadge } from './ui.js';
import { renderHome, renderAccount } from './pages.js';
import { renderDatabase } from './database.js';

export const store = {
  dbs: [],
  me: null,
  // SQL handed from the schema browser to the editor.
  pendingSQL: null,
  lastSQL: new Map(),
};

let current = null; // the page being shown: {ctrl, cleanups}

/** refreshDatabases reloads the database list and the sidebar. */
export async function refreshDatabases() {
  try {
    store.dbs = (await api('GET', '/customer/databases')) || [];
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401) announce(`Could not list databases: ${e.message}`);
  }
  renderSidebar();
  return store.dbs;
}

function renderSidebar() {
  const list = document.getElementById('db-list');
  const route = parseRoute();
  replace(list, store.dbs.length ? store.dbs.map((d) => {
    const active = route.name === 'db' && (route.id === d.id || route.id === d.name);
    return h('li', {}, h('a', {
      href: `#/db/${encodeURIComponent(d.id)}`,
      'aria-current': active ? 'page' : null,
      class: active ? 'active' : null,
    }, h('span', { class: 'db-name' }, d.name), stateBadge(d.state)));
  }) : h('li', { class: 'muted' }, 'No databases yet.'));
}

function parseRoute() {
  const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
  if (parts[0] === 'account') return { name: 'account' };
  if (parts[0] === 'db' && parts[1]) return { name: 'db', id: parts[1], tab: parts[2] || 'overview', sub: parts.slice(3) };
  return { name: 'home' };
}

/** navigate changes the route (and so the page). */
export function navigate(hash) {
  if (location.hash === hash) route();
  else location.hash = hash;
}

async function route() {
  if (current) {
    current.ctrl.abort();
    for (const fn of current.cleanups) {
      try { fn(); } catch { /* a cleanup must not block navigation */ }
    }
  }
  const main = document.getElementById('main');
  const ctrl = new AbortController();
  const page = { ctrl, cleanups: [] };
  current = page;
  const ctx = {
    main,
    signal: ctrl.signal,
    onCleanup: (fn) => page.cleanups.push(fn),
    get live() { return current === page; },
  };
  if (!session.token) {
    showSignedIn(false);
    renderSignIn(main);
    return;
  }
  showSignedIn(true);
  const r = parseRoute();
  renderSidebar();
  replace(main);
  try {
    if (r.name === 'account') await renderAccount(ctx);
    else if (r.name === 'db') await renderDatabase(ctx, r);
    else await renderHome(ctx);
  } catch (e) {
    if (e.name === 'AbortError' || !ctx.live) return;
    replace(main, notice('error', `Something went wrong: ${e.message}`));
  }
}

function showSignedIn(on) {
  document.getElementById('account-nav').hidden = !on;
  document.getElementById('sidebar').hidden = !on;
  document.body.classList.toggle('signed-out', !on);
}

function renderSignIn(main, message) {
  const tok = field('API token', {
    type: 'password', name: 'token', required: true, autocomplete: 'off', spellcheck: 'false',
    id: 'token-input', class: 'mono',
  }, 'A db9 API token (128 hex characters), from `db9 admin customer create` or `db9 token create`.');
  const out = h('div', { 'aria-live': 'polite' });
  const signIn = form({ class: 'stack', 'aria-label': 'Sign in with a token' }, [
    tok.wrap,
    h('div', { class: 'row' }, h('button', { type: 'submit', id: 'sign-in' }, 'Sign in')),
  ], async () => {
    const token = tok.input.value.trim();
    session.set(token);
    try {
      store.me = await api('GET', '/customer/me', undefined, { trying: true });
    } catch (e) {
      session.clear();
      replace(out, notice('error', e.status === 401 ? 'That token is not valid (expired or revoked?).' : e.message));
      return;
    }
    announce('Signed in');
    navigate('#/');
  });
  const anon = h('button', {
    type: 'button', class: 'secondary', id: 'anon-register',
    onClick: async () => {
      anon.disabled = true;
      try {
        const reg = await api('POST', '/customer/anonymous-register', undefined, { auth: false });
        session.set(reg.token);
        store.me = null;
        await route();
        document.getElementById('main').prepend(secretPanel('Anonymous account created', [
          ['Account id', reg.anonymous_id],
          ['Account secret', reg.anonymous_secret],
          ['API token', reg.token],
        ]));
      } catch (e) {
        replace(out, notice('error', e.message));
      } finally {
        anon.disabled = false;
      }
    },
  }, 'Create an anonymous account');
  replace(main,
    h('div', { class: 'signin card' },
      h('h1', {}, 'Sign in to db9'),
      message ? notice('warn', message) : null,
      signIn,
      h('div', { class: 'divider' }, h('span', {}, 'or')),
      h('p', {}, 'Quick start: an anonymous account holds up to 5 databases and can be claimed later.'),
      anon,
      out));
  tok.input.focus();
}

function signOut(message) {
  session.clear();
  store.dbs = [];
  store.me = null;
  store.lastSQL.clear();
  if (location.hash && location.hash !== '#/') history.replaceState(null, '', '#/');
  route().then(() => {
    if (message) renderSignIn(document.getElementById('main'), message);
  });
}

function init() {
  setUnauthorizedHandler(() => signOut('Your token is no longer accepted. Sign in again.'));
  document.getElementById('sign-out').addEventListener('click', () => {
    signOut();
    announce('Signed out');
  });
  const toggle = document.getElementById('sidebar-toggle');
  toggle.addEventListener('click', () => {
    const open = document.getElementById('sidebar').classList.toggle('open');
    toggle.setAttribute('aria-expanded', String(open));
    replace(toggle, open ? 'Hide' : 'Show');
  });
  window.addEventListener('hashchange', () => {
    document.getElementById('sidebar').classList.remove('open');
    toggle.setAttribute('aria-expanded', 'false');
    replace(toggle, 'Show');
    route();
  });
  route().then(() => { if (session.token) refreshDatabases(); });
}

init();
