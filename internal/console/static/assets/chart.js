// A small SVG line chart: time on x, one or more series on y. No library:
// the console draws few points (at most one per minute of a week) and
// needs only lines, axes and a legend.

import { s, h } from './dom.js';

const W = 640;
const H = 220;
const PAD = { l: 56, r: 12, t: 12, b: 28 };

/** niceStep returns a round step that splits range into about n parts. */
function niceStep(range, n) {
  const raw = range / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const f = raw / mag;
  return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 5 ? 5 : 10) * mag;
}

function timeLabel(t, spanMs) {
  const d = new Date(t);
  if (spanMs > 2 * 86400e3) return d.toLocaleDateString(undefined, { month: 'short', day: 'numeric' });
  return d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });
}

/**
 * lineChart draws series [{name, cls, points: [[timeMs, value]]}] and
 * returns a <figure>. fmt formats y values.
 */
export function lineChart({ title, series, fmt = String, from, to }) {
  const all = series.flatMap((x) => x.points);
  const id = `chart-${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}`;
  const fig = h('figure', { class: 'chart', id });
  const caption = h('figcaption', {}, title);
  if (!all.length) {
    fig.append(caption, h('p', { class: 'muted empty-chart' }, 'No samples in this window.'));
    return fig;
  }
  const t0 = from ?? Math.min(...all.map((p) => p[0]));
  const t1 = Math.max(to ?? 0, ...all.map((p) => p[0]), t0 + 60e3);
  let vmax = Math.max(...all.map((p) => p[1]), 0);
  if (vmax === 0) vmax = 1;
  const step = niceStep(vmax, 4);
  vmax = Math.ceil(vmax / step) * step;
  const x = (t) => PAD.l + ((t - t0) / (t1 - t0)) * (W - PAD.l - PAD.r);
  const y = (v) => H - PAD.b - (v / vmax) * (H - PAD.t - PAD.b);

  const grid = [];
  for (let v = 0; v <= vmax + step / 2; v += step) {
    grid.push(s('line', { x1: PAD.l, x2: W - PAD.r, y1: y(v), y2: y(v), class: 'grid' }));
    grid.push(s('text', { x: PAD.l - 6, y: y(v) + 4, class: 'tick', 'text-anchor': 'end' }, fmt(v)));
  }
  const span = t1 - t0;
  const xt = 4;
  for (let i = 0; i <= xt; i += 1) {
    const t = t0 + (span * i) / xt;
    grid.push(s('text', { x: x(t), y: H - 8, class: 'tick', 'text-anchor': i === 0 ? 'start' : i === xt ? 'end' : 'middle' }, timeLabel(t, span)));
  }
  const lines = series.map((sr) => {
    const pts = sr.points.map(([t, v]) => `${x(t).toFixed(1)},${y(v).toFixed(1)}`).join(' ');
    const one = sr.points.length === 1
      ? s('circle', { cx: x(sr.points[0][0]), cy: y(sr.points[0][1]), r: 3, class: `dot ${sr.cls}` })
      : null;
    return [s('polyline', { points: pts, class: `line ${sr.cls}` }), one];
  });
  const last = series.map((sr) => `${sr.name} ${fmt(sr.points.length ? sr.points[sr.points.length - 1][1] : 0)}`).join(', ');
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': `${title}: latest ${last}`, preserveAspectRatio: 'none' },
    s('title', {}, title), grid, lines);
  const legend = h('ul', { class: 'legend' }, series.map((sr) => h('li', { class: sr.cls }, h('span', { class: 'swatch', 'aria-hidden': 'true' }), sr.name)));
  fig.append(caption, svg, legend);
  return fig;
}
