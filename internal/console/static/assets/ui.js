// Shared pieces of the console's pages: notices, tables, the one-time
// secret panel, the confirmation dialog, formatting.

import { h, replace } from './dom.js';

/** announce puts a short message in the polite live region. */
export function announce(msg) {
  const el = document.getElementById('status');
  if (!el) return;
  replace(el, msg);
  el.classList.add('show');
  clearTimeout(announce.timer);
  announce.timer = setTimeout(() => el.classList.remove('show'), 4000);
}

/** notice is a block message: kind is info, error, warn or ok. */
export function notice(kind, ...children) {
  return h('div', { class: `notice ${kind}`, role: kind === 'error' ? 'alert' : null }, ...children);
}

/** unavailableNotice tells that the server lacks a feature. */
export function unavailableNotice(what) {
  return notice('info', h('strong', {}, `${what}: `), 'not available on this server.');
}

/**
 * errorNotice shows an error; an ApiError for a missing endpoint becomes the
 * "not available" notice instead.
 */
export function errorNotice(err, what) {
  if (err && err.unavailable) return unavailableNotice(what || 'This feature');
  const code = err && err.code ? ` (${err.code})` : '';
  return notice('error', `${what ? `${what}: ` : ''}${(err && err.message) || err}${code}`);
}

/** section is a titled block of a page. */
export function section(title, ...children) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  return h('section', { class: 'card', 'aria-labelledby': id }, h('h3', { id }, title), ...children);
}

/**
 * table renders rows as a table. columns: [{label, cell: row => node|string, class?}].
 */
export function table(columns, rows, opts = {}) {
  if (!rows.length) return h('p', { class: 'muted empty' }, opts.empty || 'Nothing here yet.');
  return h('div', { class: 'table-wrap', tabindex: '0', role: 'region', 'aria-label': opts.label || 'table' },
    h('table', { class: opts.class || 'data' },
      opts.caption ? h('caption', { class: 'sr-only' }, opts.caption) : null,
      h('thead', {}, h('tr', {}, columns.map((c) => h('th', { scope: 'col', class: c.class }, c.label)))),
      h('tbody', {}, rows.map((r) => h('tr', {}, columns.map((c) => h('td', { class: c.class }, c.cell(r))))))));
}

/** secretPanel shows a secret the server returns only once. */
export function secretPanel(title, entries) {
  const panel = h('div', { class: 'notice ok secret', role: 'alert', 'data-testid': 'secret' },
    h('strong', {}, title),
    h('p', {}, 'Copy it now: it will not be shown again.'),
    entries.map(([label, value]) => {
      const input = h('input', { readonly: true, value: value ?? '', 'aria-label': label, spellcheck: 'false', class: 'mono' });
      const copy = h('button', {
        type: 'button', class: 'secondary small',
        onClick: async () => {
          input.select();
          try {
            await navigator.clipboard.writeText(input.value);
            announce(`${label} copied`);
          } catch {
            announce('Selected: press Ctrl+C to copy');
          }
        },
      }, 'Copy');
      return h('div', { class: 'secret-row' }, h('span', { class: 'secret-label' }, label), input, copy);
    }),
    h('div', { class: 'row end' }, h('button', { type: 'button', class: 'secondary small', onClick: () => panel.remove() }, 'Done')));
  return panel;
}

/**
 * confirmDanger asks in a modal dialog; with expect set the user must type
 * it (a database's name) before the dangerous button is enabled.
 */
export function confirmDanger({ title, text, expect, action = 'Delete' }) {
  const dlg = document.getElementById('confirm');
  const input = document.getElementById('confirm-input');
  const ok = document.getElementById('confirm-ok');
  const cancel = document.getElementById('confirm-cancel');
  replace(document.getElementById('confirm-title'), title);
  replace(document.getElementById('confirm-text'), text);
  replace(ok, action);
  document.getElementById('confirm-typed').hidden = !expect;
  replace(document.getElementById('confirm-expect'), expect || '');
  input.value = '';
  ok.disabled = !!expect;
  return new Promise((resolve) => {
    const onInput = () => { ok.disabled = input.value !== expect; };
    const onKey = (e) => { if (e.key === 'Enter' && !ok.disabled) { e.preventDefault(); finish(true); } };
    const finish = (v) => {
      input.removeEventListener('input', onInput);
      input.removeEventListener('keydown', onKey);
      ok.removeEventListener('click', onOk);
      cancel.removeEventListener('click', onCancel);
      dlg.removeEventListener('close', onClose);
      if (dlg.open) dlg.close();
      resolve(v);
    };
    const onOk = () => finish(true);
    const onCancel = () => finish(false);
    const onClose = () => finish(false);
    input.addEventListener('input', onInput);
    input.addEventListener('keydown', onKey);
    ok.addEventListener('click', onOk);
    cancel.addEventListener('click', onCancel);
    dlg.addEventListener('close', onClose);
    dlg.showModal();
    (expect ? input : cancel).focus();
  });
}

/** busy disables a button while fn runs. */
export async function busy(button, fn) {
  const was = button.disabled;
  button.disabled = true;
  button.setAttribute('aria-busy', 'true');
  try {
    return await fn();
  } finally {
    button.disabled = was;
    button.removeAttribute('aria-busy');
  }
}

/** fmtTime formats an RFC 3339 timestamp in the browser's locale and zone. */
export function fmtTime(ts) {
  if (!ts) return '—';
  const d = new Date(ts);
  if (Number.isNaN(d.getTime())) return String(ts);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'medium' });
}

/** timeCell is a <time> element with the full timestamp as its datetime. */
export function timeCell(ts) {
  if (!ts) return '—';
  return h('time', { datetime: ts, title: ts }, fmtTime(ts));
}

/** fmtBytes formats a byte count with binary units. */
export function fmtBytes(n) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  let v = Number(n);
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (Math.abs(v) >= 1024 && i < units.length - 1) {
    v /= 1024;
    i += 1;
  }
  return `${i === 0 ? v : v.toFixed(v < 10 ? 1 : 0)} ${units[i]}`;
}

/** fmtNum formats a number with at most `digits` decimals. */
export function fmtNum(n, digits = 2) {
  if (n === null || n === undefined || Number.isNaN(Number(n))) return '—';
  return Number(n).toLocaleString(undefined, { maximumFractionDigits: digits });
}

/** stateBadge shows a database state. */
export function stateBadge(state) {
  const cls = { ACTIVE: 'ok', CREATE_FAILED: 'bad', DISABLED: 'bad', CLONING: 'busy', CREATING: 'busy', DISABLING: 'busy' }[state] || '';
  return h('span', { class: `badge ${cls}` }, state || 'UNKNOWN');
}

/**
 * form builds a <form> whose submit runs fn with the button disabled; fn
 * returns true on success to clear the form.
 */
export function form(attrs, children, fn) {
  const f = h('form', { ...attrs, novalidate: null }, children);
  f.addEventListener('submit', async (e) => {
    e.preventDefault();
    if (!f.reportValidity()) return;
    const btn = f.querySelector('button[type=submit]');
    const done = await busy(btn || document.createElement('button'), () => fn(f));
    // reset() also forgets that the user touched the fields, so emptied
    // required fields are not shown as invalid after a success.
    if (done === true) f.reset();
  });
  return f;
}
