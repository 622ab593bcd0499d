// Pure helpers of the history view: an operation's timeline as stage segments, and the per-model
// statistics as chart rows. No DOM here, so node can test it.

import { isNum, statusInfo, formatSeconds } from './format.js';

/** States that end a run: the time after one of them is waiting (for a retry), not work. */
const FINAL = new Set(['completed', 'error', 'cancelled']);

/** Short names of the states, for the legend and the bar's text alternative. */
export const SEGMENT_NAMES = {
  queued: 'queued',
  initializing: 'initializing',
  downloading: 'download',
  loading: 'load',
  finalizing: 'finalizing',
  error: 'waiting after failure',
  cancelled: 'waiting after cancel',
  completed: 'completed',
};

/**
 * An operation's `timeline` ([{status, at}], the time each state was entered) as segments
 * [{status, start, end, seconds, idle}] in order. A state lasts until the next one is entered; the
 * last one of a finished operation ends there (it has no length), the last one of a running
 * operation lasts until `now`. `idle` marks the time an operation sat failed or cancelled before a
 * retry. Unparsable entries are skipped and times never run backwards.
 */
export function timelineSegments(op, now = Date.now()) {
  const raw = op && Array.isArray(op.timeline) ? op.timeline : [];
  const points = [];
  for (const entry of raw) {
    const t = entry ? Date.parse(entry.at) : NaN;
    if (!entry || typeof entry.status !== 'string' || !Number.isFinite(t)) continue;
    const prev = points[points.length - 1];
    points.push({ status: entry.status, t: prev ? Math.max(prev.t, t) : t });
  }
  if (!points.length) return { segments: [], start: null, end: null, seconds: 0 };
  const finished = statusInfo(op).finished;
  const last = points[points.length - 1];
  let end = last.t;
  if (!finished && !FINAL.has(last.status)) end = Math.max(last.t, now);
  const segments = [];
  points.forEach((p, i) => {
    const next = points[i + 1];
    const until = next ? next.t : end;
    if (!next && FINAL.has(p.status)) return; // the end mark itself has no length
    segments.push({ status: p.status, start: p.t, end: until, seconds: (until - p.t) / 1000, idle: FINAL.has(p.status) });
  });
  return { segments, start: points[0].t, end, seconds: (end - points[0].t) / 1000 };
}

/** Seconds spent in each state over all runs, in first-seen order (idle time left out). */
export function stageTotals(segments) {
  const totals = new Map();
  for (const s of segments) {
    if (s.idle) continue;
    totals.set(s.status, (totals.get(s.status) || 0) + s.seconds);
  }
  return totals;
}

/**
 * Where each segment goes on a bar `width` units wide: [{...segment, x, w}]. A segment that took
 * any time at all gets at least `minWidth` (so a 20 ms stage is still seen); the others shrink to
 * make room. A timeline of zero length shares the width equally.
 */
export function layoutSegments(segments, width = 1000, minWidth = 6) {
  if (!segments.length) return [];
  const total = segments.reduce((a, s) => a + Math.max(0, s.seconds), 0);
  if (total <= 0) {
    const w = width / segments.length;
    return segments.map((s, i) => ({ ...s, x: i * w, w }));
  }
  const floor = Math.min(minWidth, width / segments.length);
  let want = segments.map((s) => (Math.max(0, s.seconds) / total) * width);
  const small = want.map((w) => w < floor);
  const reserved = small.filter(Boolean).length * floor;
  const bigTotal = want.reduce((a, w, i) => (small[i] ? a : a + w), 0);
  const scale = bigTotal > 0 ? (width - reserved) / bigTotal : 0;
  want = want.map((w, i) => (small[i] ? floor : w * scale));
  let x = 0;
  return segments.map((s, i) => {
    const placed = { ...s, x, w: want[i] };
    x += want[i];
    return placed;
  });
}

/** The text alternative of a timeline: "download 8.9 s, load 1.2 s, …; 10.4 s in all". */
export function timelineText(tl) {
  const parts = [...stageTotals(tl.segments)].map(([status, secs]) => `${SEGMENT_NAMES[status] || status} ${formatSeconds(secs)}`);
  const waited = tl.segments.filter((s) => s.idle).reduce((a, s) => a + s.seconds, 0);
  if (waited > 0) parts.push(`waited ${formatSeconds(waited)} before a retry`);
  return parts.length ? `${parts.join(', ')}; ${formatSeconds(tl.seconds)} in all` : 'No timeline recorded.';
}

// ------------------------------------------------------------------ statistics

function num(v) {
  return isNum(v) ? v : null;
}

/**
 * The stats answer ({models: [...]}) as chart rows, most used model first: counts, the success
 * rate as a fraction (computed from the counts when the server sent none), median seconds and
 * throughput, each null when unknown.
 */
export function statsRows(stats) {
  const models = stats && Array.isArray(stats.models) ? stats.models : [];
  return models
    .filter((m) => m && typeof m.model_name === 'string')
    .map((m) => {
      const loads = num(m.loads) || 0;
      const completed = num(m.completed) || 0;
      const failed = num(m.failed) || 0;
      const cancelled = num(m.cancelled) || 0;
      let rate = num(m.success_rate);
      if (rate === null && loads > 0) rate = completed / loads;
      return {
        model: m.model_name,
        loads,
        completed,
        failed,
        cancelled,
        other: Math.max(0, loads - completed - failed - cancelled),
        rate: rate === null ? null : Math.max(0, Math.min(1, rate)),
        download: num(m.median_download_seconds),
        load: num(m.median_load_seconds),
        bytesPerSecond: num(m.average_bytes_per_second),
      };
    })
    .sort((a, b) => b.loads - a.loads || a.model.localeCompare(b.model));
}

/** The top of a seconds axis: 1, 2, 5 × 10ⁿ at or above the largest median (at least 1 s). */
export function secondsScale(rows) {
  const max = Math.max(1, ...rows.flatMap((r) => [r.download || 0, r.load || 0]));
  const p = 10 ** Math.floor(Math.log10(max));
  const m = max / p;
  return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * p;
}
