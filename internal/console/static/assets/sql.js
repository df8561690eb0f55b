// The SQL editor: a textarea (Ctrl/Cmd+Enter runs it) and the results grid
// of POST .../sql. SQL errors come back as HTTP 200 with an error object;
// its position (1-based character offset) is shown as line and column
// with a caret under the offending text.

import { api, dbPath } from './api.js';
import { h, replace } from './dom.js';
import { store } from './app.js';
import { errorNotice, notice, busy } from './ui.js';

const MAX_SHOWN_ROWS = 1000; // the grid shows this many; the rest is counted

export async function renderSQL(ctx, db) {
  const { main } = ctx;
  const initial = store.pendingSQL ?? store.lastSQL.get(db.id) ?? 'select now();';
  store.pendingSQL = null;
  const editor = h('textarea', {
    id: 'sql-editor', class: 'mono editor', rows: '8', spellcheck: 'false', autocomplete: 'off',
    autocapitalize: 'off', 'aria-describedby': 'sql-hint', value: initial,
  });
  const run = h('button', { type: 'button', id: 'run-sql' }, 'Run');
  const result = h('div', { id: 'sql-result', 'aria-live': 'polite' });
  const exec = async () => {
    const query = editor.value;
    store.lastSQL.set(db.id, query);
    if (!query.trim()) return;
    await busy(run, async () => {
      replace(result, h('p', { class: 'muted' }, 'Running…'));
      const started = performance.now();
      let r;
      try {
        r = await api('POST', dbPath(db.id, '/sql'), { query }, { signal: ctx.signal });
      } catch (e) {
        if (e.name === 'AbortError') return;
        replace(result, errorNotice(e, 'SQL'));
        return;
      }
      const ms = performance.now() - started;
      if (r.error) replace(result, sqlError(r.error, query));
      else replace(result, resultGrid(r, ms));
    });
  };
  editor.addEventListener('keydown', (e) => {
    if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
      e.preventDefault();
      exec();
    }
  });
  run.addEventListener('click', exec);
  replace(main,
    h('div', { class: 'card' },
      h('label', { for: 'sql-editor', class: 'block' }, 'SQL'),
      editor,
      h('div', { class: 'row between wrap' },
        h('small', { id: 'sql-hint', class: 'hint' }, 'Ctrl+Enter (⌘+Enter on a Mac) runs it. Several statements separated by ; run in order; the last one\'s result is shown.'),
        run)),
    result);
  editor.focus();
}

function cellText(v) {
  if (v === null) return null;
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

function resultGrid(r, ms) {
  const cols = r.columns || [];
  const rows = r.rows || [];
  const meta = h('p', { class: 'meta', id: 'sql-meta' },
    h('strong', {}, r.command || 'OK'), ` · ${r.row_count ?? rows.length} row${(r.row_count ?? rows.length) === 1 ? '' : 's'} · ${ms.toFixed(0)} ms`);
  const out = [meta];
  if (r.truncated) out.push(notice('warn', 'The result was cut at the server\'s limit (10,000 rows or 10 MiB).'));
  if (!cols.length) return out;
  const shown = rows.slice(0, MAX_SHOWN_ROWS);
  if (rows.length > shown.length) out.push(notice('info', `Showing the first ${shown.length} of ${rows.length} rows.`));
  out.push(h('div', { class: 'table-wrap grid-wrap', tabindex: '0', role: 'region', 'aria-label': 'Query result' },
    h('table', { class: 'data grid', id: 'sql-grid' },
      h('thead', {}, h('tr', {}, cols.map((c) => h('th', { scope: 'col' }, c.name, h('span', { class: 'coltype' }, c.type))))),
      h('tbody', {}, shown.map((row) => h('tr', {}, row.map((v) => {
        const t = cellText(v);
        return t === null ? h('td', { class: 'null' }, 'NULL') : h('td', { class: typeof v === 'number' ? 'num' : null }, t);
      })))))));
  return out;
}

/** lineCol turns a 1-based character position into line and column. */
function lineCol(query, pos) {
  const chars = Array.from(query); // positions count characters, not UTF-16 units
  const before = chars.slice(0, Math.max(0, pos - 1)).join('');
  const lines = before.split('\n');
  return { line: lines.length, col: lines[lines.length - 1].length + 1 };
}

function sqlError(err, query) {
  const parts = [h('strong', {}, 'ERROR: '), err.message];
  const details = [];
  if (err.code) details.push(h('div', {}, 'SQLSTATE ', h('code', {}, err.code)));
  const pos = Number(err.position);
  if (pos > 0) {
    const { line, col } = lineCol(query, pos);
    const text = query.split('\n')[line - 1] ?? '';
    details.push(h('div', {}, `at line ${line}, column ${col}`));
    details.push(h('pre', { class: 'caret', 'aria-hidden': 'true' }, `${text}\n${' '.repeat(Math.max(0, col - 1))}^`));
  }
  if (err.detail) details.push(h('div', {}, 'DETAIL: ', err.detail));
  if (err.hint) details.push(h('div', {}, 'HINT: ', err.hint));
  return h('div', { class: 'notice error sql-error', role: 'alert', id: 'sql-error' }, h('p', {}, parts), details);
}
