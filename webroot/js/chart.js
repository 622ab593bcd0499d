// Throughput over time: samples taken from operation updates, drawn as an inline SVG line chart.
// The sampling and scaling functions are pure; only ThroughputChart touches the DOM.

import { isNum, formatRate, formatDuration } from './format.js';

const PHASES = new Set(['downloading', 'loading']);
const MAX_SAMPLES = 1200;
/** A longer silence than this between two samples is drawn as a gap, not a line. */
export const GAP_MS = 3000;

/**
 * Adds a sample for `op`, received at `now` (ms), to `samples` (mutated and returned). The rate is
 * the server's bytes_per_second, or else the change in bytes_done since the previous sample of
 * the same phase. Only the downloading and loading phases are sampled.
 */
export function addSample(samples, op, now) {
  const phase = op && op.status;
  const stage = op && op.stage;
  if (!PHASES.has(phase) || !stage) return samples;
  const last = samples[samples.length - 1];
  let v = isNum(stage.bytes_per_second) && stage.bytes_per_second >= 0 ? stage.bytes_per_second : null;
  if (v === null && last && last.phase === phase && isNum(stage.bytes_done) && isNum(last.bytes)) {
    const dt = (now - last.t) / 1000;
    if (dt >= 0.2) v = Math.max(0, (stage.bytes_done - last.bytes) / dt);
  }
  if (v === null) return samples;
  const sample = { t: now, v, phase, bytes: isNum(stage.bytes_done) ? stage.bytes_done : null, stalled: stage.stalled === true };
  if (last && now - last.t < 50 && last.phase === phase) samples[samples.length - 1] = sample;
  else samples.push(sample);
  if (samples.length > MAX_SAMPLES) samples.splice(0, samples.length - MAX_SAMPLES);
  return samples;
}

/** The smallest "nice" value (1, 2, 2.5, 5 × 10ⁿ of a binary unit) at or above v. */
export function niceCeil(v) {
  if (!isNum(v) || v <= 0) return 1024;
  const k = Math.max(0, Math.floor(Math.log(v) / Math.log(1024)));
  const unit = 1024 ** k;
  const x = v / unit;
  const p = 10 ** Math.floor(Math.log10(x));
  const m = x / p;
  const nice = m <= 1 ? 1 : m <= 2 ? 2 : m <= 2.5 ? 2.5 : m <= 5 ? 5 : 10;
  return nice * p * unit;
}

/** Phases whose peaks differ more than this get a y scale each (paging memory dwarfs a download). */
export const SPLIT_RATIO = 4;

/**
 * Turns samples into what to draw in a width × height box: runs of points (split at phase changes
 * and at gaps), dashed bridges over gaps, the y scales and the time span. One scale is shared while
 * the phases' rates are comparable; otherwise each phase has its own, so a stall or a throttle of
 * the slower one stays visible.
 */
export function chartModel(samples, { now, active, width, height, windowMs = 5 * 60 * 1000, minSpanMs = 10000 }) {
  if (!samples.length) return { runs: [], bridges: [], scales: [], t0: 0, t1: 0, peak: 0, last: null, silentMs: 0 };
  const lastSample = samples[samples.length - 1];
  let t1 = active ? Math.max(now, lastSample.t) : lastSample.t;
  let t0 = Math.max(samples[0].t, t1 - windowMs);
  // A live chart shows at least minSpanMs (so it does not zoom in on the first second); a finished
  // one fits its data to the width.
  if (active && t1 - t0 < minSpanMs) t0 = t1 - minSpanMs;
  if (!active && t1 - t0 < 1000) t1 = t0 + 1000;
  const visible = samples.filter((s) => s.t >= t0 - GAP_MS);
  const peaks = new Map();
  for (const s of visible) peaks.set(s.phase, Math.max(peaks.get(s.phase) || 0, s.v));
  const peak = Math.max(0, ...peaks.values());
  const lowest = Math.min(...peaks.values());
  const split = peaks.size > 1 && lowest > 0 && peak / lowest > SPLIT_RATIO;
  const scales = split
    ? [...peaks].map(([phase, p]) => ({ phase, yMax: niceCeil(p * 1.1) }))
    : [{ phase: null, yMax: niceCeil(peak * 1.1) }];
  const yMaxOf = (phase) => (scales.find((sc) => sc.phase === phase) || scales[0]).yMax;
  const x = (t) => ((t - t0) / (t1 - t0)) * width;
  const y = (v, phase) => height - (v / yMaxOf(phase)) * height;
  const runs = [];
  const bridges = [];
  let run = null;
  let prev = null;
  for (const s of visible) {
    const pt = [x(s.t), y(s.v, s.phase)];
    const gap = prev !== null && s.t - prev.t > GAP_MS;
    const phaseChange = prev !== null && prev.phase !== s.phase;
    if (!run || gap || phaseChange) {
      if (gap) bridges.push([[x(prev.t), y(prev.v, prev.phase)], pt]);
      run = { phase: s.phase, points: [] };
      runs.push(run);
      // On a shared scale a new phase starts from the old one's last point, so the line stays whole.
      if (phaseChange && !gap && !split) run.points.push([x(prev.t), y(prev.v, s.phase)]);
    }
    run.points.push(pt);
    prev = s;
  }
  return {
    runs, bridges, scales, t0, t1, peak,
    last: lastSample,
    silentMs: active ? Math.max(0, now - lastSample.t) : 0,
  };
}

function pointsAttr(points) {
  return points.map(([px, py]) => `${px.toFixed(1)},${py.toFixed(1)}`).join(' ');
}

const SVG_NS = 'http://www.w3.org/2000/svg';
const W = 600;
const H = 160;

function svg(tag, attrs) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  return el;
}

/** The chart in a container: SVG for the lines, HTML for the labels (so text never stretches). */
export class ThroughputChart {
  constructor(container) {
    this.container = container;
    container.classList.add('chart');
    this.svg = svg('svg', { viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false' });
    this.grid = svg('g', { class: 'chart-grid' });
    for (const gy of [0, H / 2, H]) {
      this.grid.append(svg('line', { x1: 0, x2: W, y1: gy, y2: gy, 'vector-effect': 'non-scaling-stroke' }));
    }
    this.plot = svg('g', { class: 'chart-plot' });
    this.svg.append(this.grid, this.plot);
    this.yTop = document.createElement('span');
    this.yTop.className = 'chart-label chart-label-top';
    this.yMid = document.createElement('span');
    this.yMid.className = 'chart-label chart-label-mid';
    this.yTop2 = document.createElement('span');
    this.yTop2.className = 'chart-label chart-label-top2';
    this.span = document.createElement('span');
    this.span.className = 'chart-label chart-label-span';
    this.note = document.createElement('span');
    this.note.className = 'chart-note';
    this.empty = document.createElement('p');
    this.empty.className = 'chart-empty';
    container.replaceChildren(this.svg, this.yTop, this.yMid, this.yTop2, this.span, this.note, this.empty);
  }

  /** Draws `samples`; returns a one-line text summary for screen readers. */
  update(samples, { active, now = Date.now() }) {
    const m = chartModel(samples, { now, active, width: W, height: H });
    this.plot.replaceChildren();
    this.container.dataset.empty = String(!m.runs.length);
    if (!m.runs.length) {
      this.empty.textContent = active
        ? 'Waiting for transfer data…'
        : 'No transfer was sampled while this page was open.';
      for (const el of [this.yTop, this.yMid, this.yTop2, this.span, this.note]) el.textContent = '';
      return 'No throughput data yet.';
    }
    this.empty.textContent = '';
    for (const [a, b] of m.bridges) {
      this.plot.append(svg('line', {
        class: 'chart-bridge', x1: a[0], y1: a[1], x2: b[0], y2: b[1], 'vector-effect': 'non-scaling-stroke',
      }));
    }
    for (const run of m.runs) {
      const pts = run.points;
      if (pts.length === 1) pts.push([pts[0][0] + 1.5, pts[0][1]]);
      const area = [[pts[0][0], H], ...pts, [pts[pts.length - 1][0], H]];
      this.plot.append(
        svg('polygon', { class: `chart-area phase-${run.phase}`, points: pointsAttr(area) }),
        svg('polyline', { class: `chart-line phase-${run.phase}`, points: pointsAttr(pts), 'vector-effect': 'non-scaling-stroke' }),
      );
    }
    // One scale: its top and middle on the left. Two: each phase's top, in its colour, left and right.
    const [first, second] = m.scales;
    const name = { downloading: 'download', loading: 'load' };
    this.yTop.textContent = second ? `${name[first.phase]} ${formatRate(first.yMax)}` : formatRate(first.yMax);
    this.yTop.dataset.phase = second ? first.phase : '';
    this.yMid.textContent = second ? '' : formatRate(first.yMax / 2);
    this.yTop2.textContent = second ? `${name[second.phase]} ${formatRate(second.yMax)}` : '';
    this.yTop2.dataset.phase = second ? second.phase : '';
    this.span.textContent = `last ${formatDuration((m.t1 - m.t0) / 1000)}`;
    const silent = m.silentMs > GAP_MS;
    this.note.textContent = silent ? `No new data for ${formatDuration(m.silentMs / 1000)}` : '';
    this.container.dataset.silent = String(silent);
    const phase = m.last.phase === 'loading' ? 'loading' : 'download';
    return `Throughput ${active ? 'now' : 'at the end'} ${formatRate(m.last.v)} (${phase}), peak ${formatRate(m.peak)}` +
      (silent ? `, no new data for ${formatDuration(m.silentMs / 1000)}` : '') + '.';
  }
}
