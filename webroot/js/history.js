// The history view: finished (and running) operations from the server's database, each with a bar
// of its stage durations, and per-model statistics as small SVG bar charts. Read when the view is
// shown, when a filter changes, on Refresh, and when a load finishes while the view is open.

import { byId, h, setText, setAttr, setBusy } from './dom.js';
import {
  statusInfo, statusLabel, attemptText, formatSeconds, formatDateTime, formatRate, repoLabel, errorHint,
} from './format.js';
import {
  timelineSegments, stageTotals, layoutSegments, timelineText, SEGMENT_NAMES, statsRows, secondsScale,
} from './timeline.js';

const SVG_NS = 'http://www.w3.org/2000/svg';
const BAR_W = 1000;
const LIMIT = 50;

function svg(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  for (const c of children) el.append(c);
  return el;
}

function titled(el, text) {
  el.append(svg('title', {}, text));
  return el;
}

/** A bar of `parts` ([{cls, value, title}]) stacked left to right over a 0..max track. */
function stackedBar(parts, max, { height = 10, cls = 'hbar' } = {}) {
  const bar = svg('svg', {
    class: cls, viewBox: `0 0 ${BAR_W} ${height}`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false',
  });
  bar.append(svg('rect', { class: 'hbar-track', x: 0, y: 0, width: BAR_W, height }));
  let x = 0;
  for (const p of parts) {
    if (!(p.value > 0) || !(max > 0)) continue;
    const w = Math.min(BAR_W - x, (p.value / max) * BAR_W);
    if (w <= 0) continue;
    bar.append(titled(svg('rect', { class: `hbar-part ${p.cls}`, x: x.toFixed(1), y: 0, width: Math.max(w, 2).toFixed(1), height }), p.title));
    x += w;
  }
  return bar;
}

export class HistoryView {
  constructor({ api, store }) {
    this.api = api;
    this.store = store;
    const ids = ['view-history', 'stats-count', 'stats-empty', 'stats-charts', 'chart-success', 'chart-durations',
      'chart-durations-axis', 'history-filters', 'history-model', 'history-status', 'history-refresh', 'history-count',
      'history-empty', 'history-list', 'history-error'];
    this.el = Object.fromEntries(ids.map((id) => [id, byId(id)]));
    this.visible = false;
    this.loading = null;
    this.again = false;
    this.timer = 0;
    this.models = new Set();

    this.el['history-filters'].addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.load();
    });
    for (const id of ['history-model', 'history-status']) this.el[id].addEventListener('change', () => this.load());
    // A load that ends while the view is open shows up in it.
    store.addEventListener('change', (e) => {
      const { op, prev } = e.detail;
      if (!this.visible || !op || (prev && statusInfo(prev).finished === statusInfo(op).finished)) return;
      clearTimeout(this.timer);
      this.timer = setTimeout(() => this.load(), 400);
    });
  }

  show(visible) {
    this.visible = visible;
    if (visible) this.load();
  }

  /** Reads history and stats (again); a call during a read makes one more read after it. */
  async load() {
    if (this.loading) {
      this.again = true;
      return this.loading;
    }
    const button = this.el['history-refresh'];
    setBusy(button, true);
    const query = { model: this.el['history-model'].value, status: this.el['history-status'].value, limit: LIMIT };
    this.loading = Promise.allSettled([this.api.history(query), this.api.stats()]).then(([hist, stats]) => {
      const failures = [hist, stats].filter((r) => r.status === 'rejected').map((r) => r.reason);
      if (hist.status === 'fulfilled') this.renderHistory(hist.value, query);
      if (stats.status === 'fulfilled') this.renderStats(stats.value);
      const box = this.el['history-error'];
      if (failures.length) {
        const err = failures[0] || {};
        box.replaceChildren(h('strong', { text: 'Could not read the history. ' }),
          h('span', { text: err.message || String(err) }), err.code ? h('code', { text: err.code }) : null,
          h('span', { class: 'error-detail', text: errorHint(err.code, err.retryable) || 'Press Refresh to try again.' }));
      } else {
        box.replaceChildren();
      }
    }).finally(() => {
      setBusy(button, false);
      this.loading = null;
      this.el['view-history'].dataset.loaded = 'true';
      if (this.again) {
        this.again = false;
        this.load();
      }
    });
    return this.loading;
  }

  // ---------------------------------------------------------------- history list

  renderHistory(body, query) {
    const ops = body && Array.isArray(body.operations) ? body.operations : [];
    const list = this.el['history-list'];
    const filtered = !!(query.model || query.status);
    setAttr(this.el['history-empty'], 'hidden', ops.length > 0);
    setText(this.el['history-empty'], filtered ? 'No operations match these filters.' : 'Nothing here yet: loads show up once they have started.');
    setText(this.el['history-count'], ops.length
      ? `${ops.length}${ops.length >= LIMIT ? '+' : ''} operation${ops.length === 1 ? '' : 's'}` : '');
    list.replaceChildren(...ops.filter((op) => op && op.operation_id).map((op) => this.entry(op)));
    for (const op of ops) if (op && op.model_name) this.models.add(op.model_name);
    this.renderModelOptions();
  }

  entry(op) {
    const info = statusInfo(op);
    const name = op.model_name || op.repo || 'model';
    const tl = timelineSegments(op);
    const text = timelineText(tl);
    const bar = svg('svg', {
      class: 'tl-bar', viewBox: `0 0 ${BAR_W} 10`, preserveAspectRatio: 'none', 'aria-hidden': 'true', focusable: 'false',
    });
    for (const s of layoutSegments(tl.segments, BAR_W)) {
      const label = s.idle ? SEGMENT_NAMES[s.status] : (SEGMENT_NAMES[s.status] || s.status);
      bar.append(titled(svg('rect', {
        class: 'tl-seg', 'data-segment': s.idle ? 'idle' : s.status, x: s.x.toFixed(1), y: 0, width: s.w.toFixed(1), height: 10,
      }), `${label}: ${formatSeconds(s.seconds)}`));
    }
    const totals = [...stageTotals(tl.segments)].filter(([status]) => status === 'downloading' || status === 'loading');
    const detail = totals.map(([status, secs]) => `${SEGMENT_NAMES[status]} ${formatSeconds(secs)}`);
    const attempt = attemptText(op);
    const message = info.status === 'error' && op.error && op.error.message ? op.error.message
      : info.status === 'cancelled' ? (op.message || '') : '';
    return h('li', { class: 'hist', 'data-status': info.status, 'data-operation-id': op.operation_id, 'data-testid': 'history-entry' },
      h('div', { class: 'hist-top' },
        h('span', { class: 'hist-name', text: name }),
        attempt ? h('span', { class: 'badge badge-attempt', text: attempt }) : null,
        h('span', { class: 'pill', 'data-status': info.status, text: statusLabel(op) }),
        h('time', { class: 'hist-when', datetime: op.created_at || null, text: formatDateTime(op.created_at) })),
      h('p', { class: 'hist-repo mono', text: repoLabel(op) }),
      h('div', { class: 'tl', role: 'img', 'aria-label': `Timeline: ${text}`, 'data-testid': 'history-timeline' }, bar),
      h('p', { class: 'hist-meta' },
        h('span', { class: 'hist-total', text: tl.segments.length ? `${formatSeconds(tl.seconds)} in all` : '' }),
        ...detail.map((d) => h('span', { text: d }))),
      message ? h('p', { class: 'hist-message', 'data-level': info.status === 'error' ? 'error' : null, text: message }) : null);
  }

  renderModelOptions() {
    const select = this.el['history-model'];
    const have = new Set([...select.options].map((o) => o.value));
    const add = [...this.models].filter((m) => !have.has(m)).sort();
    for (const m of add) select.append(h('option', { value: m, text: m }));
  }

  // ---------------------------------------------------------------- statistics charts

  renderStats(stats) {
    const rows = statsRows(stats);
    for (const r of rows) this.models.add(r.model);
    this.renderModelOptions();
    setAttr(this.el['stats-empty'], 'hidden', rows.length > 0);
    setAttr(this.el['stats-charts'], 'hidden', rows.length === 0);
    const runs = rows.reduce((a, r) => a + r.loads, 0);
    setText(this.el['stats-count'], rows.length ? `${runs} finished load${runs === 1 ? '' : 's'} of ${rows.length} model${rows.length === 1 ? '' : 's'}` : '');

    this.el['chart-success'].replaceChildren(...rows.map((r) => {
      const pct = r.rate === null ? '—' : `${Math.round(r.rate * 100)}%`;
      const parts = [
        { cls: 'swatch-completed', value: r.completed, title: `${r.completed} completed` },
        { cls: 'swatch-error', value: r.failed, title: `${r.failed} failed` },
        { cls: 'swatch-cancelled', value: r.cancelled, title: `${r.cancelled} cancelled` },
      ];
      const words = `${pct} success: ${r.completed} of ${r.loads} completed` +
        (r.failed ? `, ${r.failed} failed` : '') + (r.cancelled ? `, ${r.cancelled} cancelled` : '');
      return h('li', { class: 'bar-row', 'data-model': r.model, 'aria-label': `${r.model}: ${words}` },
        h('span', { class: 'bar-label', text: r.model, title: r.model }),
        h('span', { class: 'bar-track' }, stackedBar(parts, r.loads)),
        h('span', { class: 'bar-value' }, h('strong', { text: pct }), h('span', { class: 'bar-sub', text: ` ${r.completed}/${r.loads}` })));
    }));

    const timed = rows.filter((r) => r.download !== null || r.load !== null);
    const max = secondsScale(timed);
    this.el['chart-durations'].replaceChildren(...(timed.length ? timed.map((r) => {
      const dl = r.download === null ? '—' : formatSeconds(r.download);
      const ld = r.load === null ? '—' : formatSeconds(r.load);
      const rate = r.bytesPerSecond !== null ? `, average download ${formatRate(r.bytesPerSecond)}` : '';
      return h('li', { class: 'bar-row bar-row-pair', 'data-model': r.model, 'aria-label': `${r.model}: median download ${dl}, median load ${ld}${rate}` },
        h('span', { class: 'bar-label', text: r.model, title: r.model }),
        h('span', { class: 'bar-track bar-track-pair' },
          stackedBar([{ cls: 'swatch-downloading', value: r.download || 0, title: `download ${dl}` }], max, { height: 6 }),
          stackedBar([{ cls: 'swatch-loading', value: r.load || 0, title: `load ${ld}` }], max, { height: 6 })),
        h('span', { class: 'bar-value bar-value-pair' },
          h('span', { class: 'tone-downloading', text: dl }), h('span', { class: 'tone-loading', text: ld })));
    }) : [h('li', { class: 'bar-none', text: 'No completed load to time yet.' })]));
    setText(this.el['chart-durations-axis'], timed.length ? `scale 0 – ${formatSeconds(max)}` : '');
  }
}
