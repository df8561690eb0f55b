// Functions: the deployed functions, a function's runs and a run's logs.
// Routes: .../functions, .../functions/<function>, .../functions/<function>/<run>.

import { api, dbPath } from './api.js';
import { h, replace } from './dom.js';
import { errorNotice, section, table, timeCell, fmtNum } from './ui.js';

const STATUS_CLASS = { succeeded: 'ok', failed: 'bad', timed_out: 'bad', running: 'busy', queued: 'busy' };

export async function renderFunctions(ctx, db, sub) {
  const { main } = ctx;
  const base = `#/db/${encodeURIComponent(db.id)}/functions`;
  const [fnId, runId] = sub;
  const get = (path) => api('GET', dbPath(db.id, path), undefined, { signal: ctx.signal });
  replace(main, h('p', { class: 'muted' }, 'Loading functions…'));
  let fns;
  try {
    fns = await get('/functions');
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(main, errorNotice(e, 'Functions'));
    return;
  }
  replace(main, section('Functions', table([
    { label: 'Name', cell: (f) => h('a', { href: `${base}/${encodeURIComponent(f.id)}`, 'aria-current': f.id === fnId || f.name === fnId ? 'true' : null }, f.name) },
    { label: 'Version', cell: (f) => String(f.version ?? '—') },
    { label: 'Entrypoint', cell: (f) => h('code', {}, f.entrypoint), class: 'hide-narrow' },
    { label: 'Schedule', cell: (f) => (f.cron_schedule ? h('code', {}, f.cron_schedule) : '—'), class: 'hide-narrow' },
    { label: 'Updated', cell: (f) => timeCell(f.updated_at), class: 'hide-narrow' },
  ], fns || [], { label: 'Functions', empty: 'No functions deployed. Deploy one with `db9 functions deploy`.' })));
  if (!fnId) return;
  const fn = (fns || []).find((f) => f.id === fnId || f.name === fnId);
  const fnName = fn ? fn.name : fnId;
  const runsSec = section(`Runs of ${fnName}`, h('p', { class: 'muted' }, 'Loading runs…'));
  main.append(runsSec);
  let runs;
  try {
    runs = await get(`/functions/${encodeURIComponent(fnId)}/runs?limit=50`);
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(runsSec, errorNotice(e, 'Runs'));
    return;
  }
  replace(runsSec, h('h3', {}, `Runs of ${fnName}`), table([
    { label: 'Run', cell: (r) => h('a', { href: `${base}/${encodeURIComponent(fnId)}/${encodeURIComponent(r.id)}` }, h('code', {}, r.id)) },
    { label: 'Status', cell: (r) => h('span', { class: `badge ${STATUS_CLASS[r.status] || ''}` }, r.status) },
    { label: 'Trigger', cell: (r) => r.trigger_type, class: 'hide-narrow' },
    { label: 'Started', cell: (r) => timeCell(r.started_at) },
    { label: 'Duration', cell: (r) => (r.duration_ms === null || r.duration_ms === undefined ? '—' : `${fmtNum(r.duration_ms, 0)} ms`), class: 'hide-narrow' },
  ], runs || [], { label: 'Runs', empty: 'No runs yet.' }));
  if (!runId) return;
  const runSec = section(`Run ${runId}`, h('p', { class: 'muted' }, 'Loading…'));
  main.append(runSec);
  try {
    const [run, logs] = await Promise.all([
      get(`/functions/${encodeURIComponent(fnId)}/runs/${encodeURIComponent(runId)}`),
      get(`/functions/${encodeURIComponent(fnId)}/runs/${encodeURIComponent(runId)}/logs`),
    ]);
    replace(runSec, h('h3', {}, `Run ${runId}`),
      h('dl', { class: 'props' },
        h('dt', {}, 'Status'), h('dd', {}, run.status),
        h('dt', {}, 'Input'), h('dd', {}, h('code', { class: 'wrap-anywhere' }, run.input_json ?? '—')),
        h('dt', {}, 'Result'), h('dd', {}, h('code', { class: 'wrap-anywhere' }, run.result_json ?? '—')),
        run.error ? [h('dt', {}, 'Error'), h('dd', { class: 'error-text' }, run.error)] : null,
        h('dt', {}, 'Finished'), h('dd', {}, timeCell(run.finished_at))),
      h('h4', {}, 'Logs'),
      (logs || []).length
        ? h('pre', { class: 'logs', tabindex: '0', 'aria-label': 'Run logs' }, logs.map((l) => h('span', { class: `log ${l.level}` }, `${l.ts} ${String(l.level).toUpperCase().padEnd(5)} ${l.message}\n`)))
        : h('p', { class: 'muted' }, 'No log lines.'));
  } catch (e) {
    if (e.name === 'AbortError') return;
    replace(runSec, errorNotice(e, 'Run'));
  }
}
