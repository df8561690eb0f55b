// Observability: GET .../observability?window=… as summary figures,
// charts (QPS, latency avg/p99, connections, storage) and top queries.

import { api, dbPath } from './api.js';
import { h, replace } from './dom.js';
import { errorNotice, section, table, fmtNum, fmtBytes } from './ui.js';
import { lineChart } from './chart.js';

const WINDOWS = [[900, 'Last 15 minutes'], [3600, 'Last hour'], [21600, 'Last 6 hours'], [86400, 'Last 24 hours'], [604800, 'Last 7 days']];

export async function renderObservability(ctx, db) {
  const { main } = ctx;
  const sel = h('select', { id: 'obs-window' }, WINDOWS.map(([v, label]) => h('option', { value: String(v), selected: v === 3600 }, label)));
  const refresh = h('button', { type: 'button', class: 'secondary' }, 'Refresh');
  const body = h('div', { id: 'obs-body', 'aria-live': 'polite' });
  replace(main,
    h('div', { class: 'row wrap align-end' }, h('div', { class: 'field' }, h('label', { for: 'obs-window' }, 'Window'), sel), refresh),
    body);
  const load = async () => {
    replace(body, h('p', { class: 'muted' }, 'Loading…'));
    const win = Number(sel.value);
    let o;
    try {
      o = await api('GET', dbPath(db.id, `/observability?window=${win}`), undefined, { signal: ctx.signal });
    } catch (e) {
      if (e.name === 'AbortError') return;
      replace(body, errorNotice(e, 'Observability'));
      return;
    }
    if (!ctx.live) return;
    replace(body, ...view(o || {}, win));
  };
  sel.addEventListener('change', load);
  refresh.addEventListener('click', load);
  await load();
}

function view(o, win) {
  const sm = o.summary || {};
  const samples = (o.samples || []).map((x) => ({ ...x, t: Date.parse(x.ts) })).filter((x) => !Number.isNaN(x.t));
  const to = Date.now();
  const from = to - win * 1000;
  const series = (key) => samples.filter((x) => typeof x[key] === 'number').map((x) => [x.t, x[key]]);
  const ms = (v) => `${fmtNum(v, v < 1 ? 3 : v < 10 ? 2 : 0)} ms`;
  const cards = [
    ['QPS', fmtNum(sm.qps)], ['TPS', fmtNum(sm.tps)], ['Latency avg', ms(sm.latency_avg_ms ?? 0)], ['Latency p99', ms(sm.latency_p99_ms ?? 0)],
    ['Connections', fmtNum(sm.active_connections, 0)], ['Statements', fmtNum(sm.statement_count, 0)], ['Commits', fmtNum(sm.txn_commit_count, 0)],
    ['Errors', fmtNum(sm.error_count, 0)], ['Database storage', fmtBytes(sm.db_storage_bytes)], ['Files', fmtBytes(sm.fs_logical_bytes)],
  ];
  const charts = [
    lineChart({ title: 'Queries per second', series: [{ name: 'QPS', cls: 's1', points: series('qps') }, { name: 'TPS', cls: 's2', points: series('tps') }], fmt: (v) => fmtNum(v, 1), from, to }),
    lineChart({ title: 'Latency', series: [{ name: 'avg', cls: 's1', points: series('latency_avg_ms') }, { name: 'p99', cls: 's3', points: series('latency_p99_ms') }], fmt: (v) => `${fmtNum(v, 1)} ms`, from, to }),
    lineChart({ title: 'Active connections', series: [{ name: 'connections', cls: 's2', points: series('active_connections') }], fmt: (v) => fmtNum(v, 0), from, to }),
  ];
  // Samples may carry storage; otherwise the summary's current figure is a
  // flat line over the window, which is what storage mostly is.
  const storage = series('db_storage_bytes');
  const storagePts = storage.length ? storage : (sm.db_storage_bytes !== undefined ? [[from, sm.db_storage_bytes], [to, sm.db_storage_bytes]] : []);
  charts.push(lineChart({ title: 'Storage', series: [{ name: 'database', cls: 's4', points: storagePts }], fmt: fmtBytes, from, to }));
  return [
    section('Summary', h('dl', { class: 'stats' }, cards.map(([k, v]) => h('div', {}, h('dt', {}, k), h('dd', {}, v))))),
    h('div', { class: 'charts' }, charts),
    section('Top queries', table([
      { label: 'Query', cell: (q) => h('code', { class: 'wrap-anywhere' }, q.query) },
      { label: 'Calls', cell: (q) => fmtNum(q.calls, 0), class: 'num' },
      { label: 'Total', cell: (q) => ms(q.total_ms), class: 'num' },
      { label: 'Mean', cell: (q) => ms(q.mean_ms), class: 'num hide-narrow' },
      { label: 'Rows', cell: (q) => fmtNum(q.rows, 0), class: 'num hide-narrow' },
    ], o.top_queries || [], { label: 'Top queries', empty: 'No queries recorded in this window.' })),
  ];
}
