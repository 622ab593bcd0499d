// The progress modal: one operation in full, live. Native <dialog> (so the page behind is inert),
// Escape and a backdrop click close it, Tab stays inside it, and focus returns to the opener.

import { byId, h, setText, setAttr, icon, focusables, announce, setBusy } from './dom.js';
import {
  statusInfo, stageStates, clampPercent, formatBytes, formatRate, formatDuration, formatCount,
  formatInteger, formatDtypes, repoLabel, isNum, safeFileName, errorHint, STAGES, statusLabel, queueText,
  attemptText,
} from './format.js';
import { ThroughputChart } from './chart.js';
import { Terminal } from './terminal.js';
import { childRows, nodeTag, isParent } from './fleet.js';

const SAMPLED = new Set(['downloading', 'loading']);

function elapsedSeconds(op, extra, finished) {
  const created = Date.parse(op.created_at);
  const updated = Date.parse(op.updated_at);
  if (!Number.isFinite(created) || !Number.isFinite(updated)) return null;
  // Server times for the span, the local clock only since the last update: no clock skew.
  const since = !finished && extra.receivedAt ? (Date.now() - extra.receivedAt) / 1000 : 0;
  return Math.max(0, (updated - created) / 1000 + since);
}

/** The machine while it works: "Memory free 12 GiB · Disk free 80 GiB · Network 300 MiB/s · Heap 120 MiB". */
export function resourcesLine(r) {
  if (!r) return '';
  const bits = [];
  if (isNum(r.memory_available_bytes)) bits.push(`Memory free ${formatBytes(r.memory_available_bytes)}`);
  if (isNum(r.disk_free_bytes)) bits.push(`Disk free ${formatBytes(r.disk_free_bytes)}`);
  if (isNum(r.network_rx_bytes_per_second)) bits.push(`Network in ${formatRate(r.network_rx_bytes_per_second)}`);
  if (isNum(r.heap_used_bytes)) bits.push(`JVM heap ${formatBytes(r.heap_used_bytes)}`);
  return bits.join(' · ');
}

export class ProgressModal {
  /** actions: {retry(op) → new id, cancel(op)}; fleet: the FleetPanel (optional), whose `multi` says whether to name nodes. */
  constructor({ store, caps, actions, fleet = null }) {
    this.store = store;
    this.caps = caps;
    this.actions = actions;
    this.fleet = fleet;
    this.childIds = new Set();
    this.childRows = new Map();
    this.dialog = byId('progress-modal');
    const ids = ['modal-title', 'modal-model', 'modal-sub', 'modal-status', 'modal-message', 'modal-progressbar',
      'modal-percent', 'modal-stalled', 'modal-removed', 'modal-stages', 'stat-bytes-label', 'stat-bytes', 'modal-resources',
      'stat-speed', 'stat-eta', 'stat-elapsed', 'modal-chart', 'modal-files', 'files-count', 'files-body',
      'modal-summary', 'sum-arch', 'sum-params', 'sum-tensors', 'sum-dtypes', 'sum-resident', 'sum-context',
      'modal-error', 'error-title', 'error-message', 'error-code', 'error-hint', 'modal-action-error',
      'btn-done', 'btn-close', 'btn-retry', 'btn-cancel', 'modal-attempt', 'modal-queued', 'modal-chart-panel', 'modal-transport',
      'modal-node', 'modal-parent', 'modal-parent-open', 'modal-children', 'children-list'];
    this.el = Object.fromEntries(ids.map((id) => [id, byId(id)]));
    this.fill = this.el['modal-progressbar'].querySelector('.progress-fill');
    this.verb = this.el['modal-title'].querySelector('.modal-verb');
    this.chart = new ThroughputChart(this.el['modal-chart']);
    this.terminal = new Terminal({
      toggle: byId('terminal-toggle'),
      panel: byId('terminal-panel'),
      view: byId('terminal'),
      copy: byId('terminal-copy'),
      download: byId('terminal-download'),
      follow: byId('terminal-follow'),
      counts: byId('log-counts'),
    });
    this.stageEls = STAGES.map((s) => {
      const li = h('li', { class: 'stage', 'data-stage': s.name, 'data-state': 'pending' },
        h('span', { class: 'stage-icon' }, icon(s.icon), h('span', { class: 'stage-badge' })),
        h('span', { class: 'stage-label', text: s.label }),
        h('span', { class: 'visually-hidden stage-state' }));
      this.el['modal-stages'].append(li);
      return li;
    });
    this.fileRows = new Map();
    this.id = null;
    this.frame = 0;

    this.el['btn-close'].addEventListener('click', () => this.close());
    this.el['btn-done'].addEventListener('click', () => this.close());
    this.el['btn-retry'].addEventListener('click', () => this.retry());
    this.el['btn-cancel'].addEventListener('click', () => this.cancel());
    this.el['modal-files'].addEventListener('toggle', () => {
      if (!this.programmaticToggle) this.filesTouched = true;
    });
    this.dialog.addEventListener('cancel', (e) => {
      e.preventDefault(); // Escape: close our way, so focus goes back where it came from
      this.close();
    });
    this.dialog.addEventListener('close', () => this.afterClose());
    this.dialog.addEventListener('keydown', (e) => this.trapTab(e));
    this.dialog.addEventListener('pointerdown', (e) => { this.downOnBackdrop = this.isBackdrop(e); });
    this.dialog.addEventListener('click', (e) => {
      if (this.downOnBackdrop && this.isBackdrop(e)) this.close();
      this.downOnBackdrop = false;
    });
    store.addEventListener('change', (e) => {
      if (e.detail.id !== this.id) {
        if (this.childIds.has(e.detail.id)) this.schedule(); // a child of the shown parent moved
        return;
      }
      if (e.detail.removed) this.removed = true;
      this.schedule();
    });
    if (fleet) fleet.addEventListener('change', () => this.schedule());
    this.el['modal-parent-open'].addEventListener('click', () => {
      if (this.lastOp && this.lastOp.parent_id) this.showOther(this.lastOp.parent_id);
    });
    caps.addEventListener('change', () => this.schedule());
    // Without the WebSocket the page polls: said quietly in the footer, as the header says it too.
    const transport = () => setAttr(this.el['modal-transport'], 'hidden', store.mode !== 'polling');
    store.addEventListener('mode', transport);
    transport();
  }

  get isOpen() {
    return this.dialog.open;
  }

  /** Opens on operation `id`; `opener` gets focus back on close. `hint` names it until data arrives. */
  open(id, opener, hint) {
    if (!this.isOpen) {
      this.opener = opener || document.activeElement;
      this.show(id, hint);
      this.dialog.showModal();
      this.el['modal-title'].focus();
      clearInterval(this.ticker);
      this.ticker = setInterval(() => this.tick(), 1000);
    } else {
      this.show(id, hint);
    }
  }

  close() {
    if (this.isOpen) this.dialog.close();
  }

  /** From inside the modal to a related operation (a child, or the parent): shown in place. */
  showOther(id) {
    this.show(id);
    this.el['modal-title'].focus();
    if (!this.store.get(id)) this.store.refresh(id).catch(() => {});
  }

  /** Switches what the modal shows (a new open, or the new operation a retry started). */
  show(id, hint) {
    this.id = id;
    this.hint = hint || '';
    this.lastOp = null;
    this.lastExtra = null;
    this.lastStatus = null;
    this.removed = false;
    this.filesTouched = false;
    this.fileRows.clear();
    this.el['files-body'].replaceChildren();
    this.terminal.reset();
    setText(this.el['modal-action-error'], '');
    this.dialog.querySelector('.modal-body').scrollTop = 0;
    this.render();
  }

  afterClose() {
    clearInterval(this.ticker);
    cancelAnimationFrame(this.frame);
    this.frame = 0;
    const back = this.opener && this.opener.isConnected && !this.opener.closest('[hidden]')
      ? this.opener
      : document.querySelector(`#operations [data-operation-id="${CSS.escape(this.id || '')}"] .op-open`) ||
        byId('load-button');
    this.id = null;
    this.opener = null;
    back.focus();
  }

  isBackdrop(e) {
    if (e.target !== this.dialog) return false;
    const r = this.dialog.getBoundingClientRect();
    return e.clientX < r.left || e.clientX > r.right || e.clientY < r.top || e.clientY > r.bottom;
  }

  trapTab(e) {
    if (e.key !== 'Tab') return;
    const items = focusables(this.dialog);
    if (!items.length) {
      e.preventDefault();
      return;
    }
    const first = items[0];
    const last = items[items.length - 1];
    const active = document.activeElement;
    if (e.shiftKey && (active === first || !this.dialog.contains(active) || active === this.el['modal-title'])) {
      e.preventDefault();
      last.focus();
    } else if (!e.shiftKey && active === last) {
      e.preventDefault();
      first.focus();
    }
  }

  schedule() {
    if (!this.isOpen || this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  /** Once a second: the clock-driven parts (elapsed time, the chart's moving time axis). */
  tick() {
    if (!this.lastOp) return;
    const info = statusInfo(this.lastOp);
    if (info.finished) return;
    this.renderTimes(this.lastOp, info);
    this.renderChart(this.lastOp);
  }

  // ---------------------------------------------------------------- rendering

  render() {
    const live = this.id ? this.store.get(this.id) : null;
    if (live) {
      this.lastOp = live;
      this.lastExtra = this.store.extra(this.id);
    }
    const op = this.lastOp;
    setAttr(this.el['modal-removed'], 'hidden', !this.removed);
    if (!op) {
      this.renderPending();
      return;
    }
    const info = statusInfo(op);
    const p = clampPercent(op.progress);
    const e = this.el;

    this.dialog.dataset.status = info.status;
    setText(this.verb, { completed: 'Loaded', error: 'Failed to load', cancelled: 'Cancelled' }[info.status] || 'Loading');
    setText(e['modal-model'], op.model_name || op.repo || 'model');
    const sub = [repoLabel(op), op.hub, op.commit ? `commit ${String(op.commit).slice(0, 10)}` : null].filter(Boolean);
    setText(e['modal-sub'], sub.join(' · '));
    setAttr(e['modal-sub'], 'title', op.commit ? `commit ${op.commit}` : null);

    for (const el of [e['modal-status'], e['modal-progressbar']]) {
      setAttr(el, 'data-status', info.status);
      setAttr(el, 'data-stalled', info.stalled ? 'true' : null);
    }
    setText(e['modal-status'], statusLabel(op));
    const attempt = attemptText(op);
    setText(e['modal-attempt'], attempt);
    setAttr(e['modal-attempt'], 'hidden', !attempt);
    const queued = queueText(op);
    setAttr(e['modal-queued'], 'hidden', info.status !== 'queued');
    if (info.status === 'queued') {
      setText(e['modal-queued'], queued
        ? `Waiting for a free slot: ${queued}. It starts by itself when a running load finishes.`
        : 'Waiting for a free slot. It starts by itself when a running load finishes.');
    }
    setAttr(e['modal-progressbar'], 'data-moving', info.moving ? 'true' : null);
    setText(e['modal-message'], op.message || info.label);
    // While queued the notice below says it in full.
    setAttr(e['modal-message'], 'hidden', info.status === 'queued');

    this.fill.style.width = `${p}%`;
    setAttr(e['modal-progressbar'], 'aria-valuenow', p);
    setAttr(e['modal-progressbar'], 'aria-valuetext', `${p}%, ${info.label}`);
    setAttr(e['modal-progressbar'], 'aria-label', `Progress of ${op.model_name || 'the load'}`);
    setText(e['modal-percent'], `${p}%`);
    setAttr(e['modal-stalled'], 'hidden', !info.stalled);
    if (info.stalled) {
      const secs = op.stage && isNum(op.stage.stalled_seconds) ? op.stage.stalled_seconds : null;
      setText(e['modal-stalled'], `No data ${secs ? `for ${formatDuration(secs)}` : 'for a while'}: the transfer looks stalled. Hoist keeps trying.`);
    }

    this.renderFleet(op);
    this.renderStages(op);
    this.renderTimes(op, info);
    this.renderChart(op);
    this.renderFiles(op);
    this.renderSummary(op);
    this.renderError(op, info);
    this.terminal.setLines(this.lastExtra ? this.lastExtra.log : [],
      `hoist-${safeFileName(op.model_name)}-${String(op.operation_id).slice(0, 8)}.txt`);
    this.renderButtons(info);

    if (this.lastStatus && this.lastStatus !== info.status) {
      const msg = info.status === 'error' && op.error ? `${op.model_name} failed: ${op.error.message}` : `${op.model_name}: ${info.label}`;
      announce(msg);
    }
    this.lastStatus = info.status;
  }

  renderPending() {
    const e = this.el;
    this.dialog.dataset.status = 'initializing';
    setText(this.verb, 'Loading');
    setText(e['modal-model'], this.hint || 'model');
    setText(e['modal-sub'], '');
    setText(e['modal-status'], 'Starting');
    setAttr(e['modal-status'], 'data-status', 'initializing');
    setAttr(e['modal-progressbar'], 'data-status', 'initializing');
    setAttr(e['modal-progressbar'], 'data-moving', 'true');
    setText(e['modal-message'], 'Waiting for the first report from the server…');
    setAttr(e['modal-message'], 'hidden', null);
    setAttr(e['modal-chart-panel'], 'hidden', null);
    this.fill.style.width = '0%';
    setAttr(e['modal-progressbar'], 'aria-valuenow', 0);
    setText(e['modal-percent'], '0%');
    this.renderStages({ status: 'queued' });
    this.renderFleet(null);
    for (const id of ['stat-bytes', 'stat-speed', 'stat-eta', 'stat-elapsed']) setText(e[id], '—');
    this.chart.update([], { active: true });
    for (const id of ['modal-files', 'modal-summary', 'modal-error', 'modal-stalled', 'modal-attempt', 'modal-queued']) {
      setAttr(e[id], 'hidden', true);
    }
    this.terminal.setLines([]);
    this.renderButtons({ status: 'initializing', finished: false });
  }

  /** The node it runs on (when there are several), its parent, or a multi-node parent's children. */
  renderFleet(op) {
    const e = this.el;
    const parent = isParent(op);
    const tag = op && (parent || (this.fleet && this.fleet.multi)) ? nodeTag(op) : '';
    setText(e['modal-node'], tag);
    setAttr(e['modal-node'], 'hidden', !tag);
    setAttr(e['modal-parent'], 'hidden', !(op && op.parent_id));
    const rows = parent ? childRows(op, (id) => this.store.get(id)) : [];
    this.childIds = new Set(rows.map((r) => r.operation_id).filter(Boolean));
    setAttr(e['modal-children'], 'hidden', !rows.length);
    const list = e['children-list'];
    const keep = new Set(rows.map((r) => r.node));
    for (const [node, row] of this.childRows) {
      if (!keep.has(node) || !list.contains(row.li)) {
        row.li.remove();
        this.childRows.delete(node);
      }
    }
    rows.forEach((r, i) => {
      let row = this.childRows.get(r.node);
      if (!row) {
        row = {};
        row.open = h('button', { type: 'button', class: 'link-button child-node mono', 'data-testid': 'modal-child-open', text: r.node });
        row.pill = h('span', { class: 'pill', 'data-testid': 'modal-child-status' });
        row.fill = h('span', { class: 'progress-fill' });
        row.bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, row.fill);
        row.pct = h('span', { class: 'op-pct num', 'aria-hidden': 'true' });
        row.message = h('p', { class: 'child-message' });
        row.li = h('li', { class: 'child', 'data-node': r.node, 'data-testid': 'modal-child' },
          h('div', { class: 'child-top' }, row.open, row.pill),
          h('div', { class: 'op-progress' }, row.bar, row.pct), row.message);
        row.open.addEventListener('click', () => {
          if (row.id) this.showOther(row.id);
        });
        this.childRows.set(r.node, row);
      }
      row.id = r.operation_id;
      setAttr(row.li, 'data-operation-id', r.operation_id);
      setAttr(row.open, 'aria-label', `${r.node}: ${r.label}, ${r.progress}%. Show the operation on ${r.node}`);
      setAttr(row.open, 'aria-disabled', r.operation_id ? null : 'true');
      setText(row.pill, r.label);
      for (const el of [row.li, row.pill, row.bar]) setAttr(el, 'data-status', r.status);
      row.fill.style.width = `${r.progress}%`;
      setAttr(row.bar, 'aria-valuenow', r.progress);
      setAttr(row.bar, 'aria-valuetext', `${r.progress}%, ${r.label}`);
      setAttr(row.bar, 'aria-label', `Progress on ${r.node}`);
      setText(row.pct, `${r.progress}%`);
      setText(row.message, r.message);
      setAttr(row.message, 'data-level', r.status === 'error' ? 'error' : null);
      if (list.children[i] !== row.li) list.insertBefore(row.li, list.children[i] || null);
    });
  }

  renderStages(op) {
    const states = stageStates(op);
    const words = { done: 'done', current: 'in progress', failed: 'failed here', stopped: 'cancelled here', pending: 'not started' };
    states.forEach((s, i) => {
      const li = this.stageEls[i];
      setAttr(li, 'data-state', s.state);
      setAttr(li, 'aria-current', s.state === 'current' ? 'step' : null);
      setText(li.querySelector('.stage-state'), `: ${words[s.state]}`);
      const badge = li.querySelector('.stage-badge');
      const want = s.state === 'done' ? 'check' : s.state === 'failed' || s.state === 'stopped' ? 'cross' : '';
      if (badge.dataset.icon !== want) {
        badge.dataset.icon = want;
        badge.replaceChildren(...(want ? [icon(want, 'icon icon-badge')] : []));
      }
    });
  }

  renderTimes(op, info) {
    const e = this.el;
    const stage = op.stage || {};
    const phase = op.status;
    const label = phase === 'loading' ? 'Loaded into memory' : phase === 'downloading' ? 'Downloaded' : 'Transferred';
    setText(e['stat-bytes-label'], label);
    let bytes = '—';
    if (isNum(stage.bytes_done) && isNum(stage.bytes_total) && stage.bytes_total > 0) {
      bytes = `${formatBytes(stage.bytes_done)} of ${formatBytes(stage.bytes_total)}`;
    } else if (isNum(stage.bytes_done)) {
      bytes = formatBytes(stage.bytes_done);
    } else if (op.summary && isNum(op.summary.bytes_resident)) {
      setText(e['stat-bytes-label'], 'In memory');
      bytes = formatBytes(op.summary.bytes_resident);
    }
    setText(e['stat-bytes'], bytes);
    const moving = !info.finished && SAMPLED.has(phase);
    setText(e['stat-speed'], moving ? formatRate(stage.bytes_per_second) : '—');
    let eta = '—';
    if (info.status === 'completed') eta = 'done';
    else if (moving && isNum(stage.eta_seconds)) eta = formatDuration(stage.eta_seconds);
    else if (moving) eta = 'not known yet';
    setText(e['stat-eta'], eta);
    const extra = this.lastExtra || { receivedAt: 0 };
    setText(e['stat-elapsed'], formatDuration(elapsedSeconds(op, extra, info.finished)));
    const line = resourcesLine(info.finished ? null : stage.resources);
    e['modal-resources'].hidden = !line;
    setText(e['modal-resources'], line);
  }

  renderChart(op) {
    const samples = this.lastExtra ? this.lastExtra.samples : [];
    const active = SAMPLED.has(op.status) && !this.removed;
    // Nothing to draw and nothing coming (queued, before the download, or finished before this page
    // saw it move): no empty chart.
    setAttr(this.el['modal-chart-panel'], 'hidden', !samples.length && !active);
    const summary = this.chart.update(samples, { active });
    setAttr(this.el['modal-chart'], 'aria-label', summary);
  }

  renderFiles(op) {
    const e = this.el;
    const files = Array.isArray(op.files) ? op.files : [];
    setAttr(e['modal-files'], 'hidden', !files.length);
    if (!files.length) return;
    const current = op.stage && op.stage.current_file;
    let done = 0;
    const seen = new Set();
    for (const f of files) {
      if (!f || !f.path) continue;
      seen.add(f.path);
      let row = this.fileRows.get(f.path);
      if (!row) {
        const bar = h('span', { class: 'progress progress-mini', 'aria-hidden': 'true' }, h('span', { class: 'progress-fill' }));
        row = {
          tr: h('tr'),
          name: h('span', { class: 'file-name mono' }),
          size: h('td', { class: 'num' }),
          bar,
          fill: bar.firstChild,
          pct: h('span', { class: 'file-pct num' }),
        };
        row.tr.append(h('th', { scope: 'row' }, row.name), row.size,
          h('td', {}, h('span', { class: 'file-progress' }, row.bar, row.pct)));
        e['files-body'].append(row.tr);
        this.fileRows.set(f.path, row);
      }
      const size = isNum(f.size) ? f.size : null;
      const got = isNum(f.bytes_done) ? f.bytes_done : 0;
      const fp = size ? Math.min(100, Math.floor((got / size) * 100)) : (size === 0 ? 100 : 0);
      const complete = size !== null && got >= size;
      if (complete) done++;
      setText(row.name, f.path);
      setText(row.size, size === null ? '—' : formatBytes(size));
      row.fill.style.width = `${fp}%`;
      setText(row.pct, complete ? 'done' : `${fp}%`);
      setAttr(row.tr, 'data-state', complete ? 'done' : f.path === current ? 'current' : null);
      setAttr(row.tr, 'aria-current', f.path === current && !complete ? 'true' : null);
    }
    for (const [path, row] of this.fileRows) {
      if (!seen.has(path)) {
        row.tr.remove();
        this.fileRows.delete(path);
      }
    }
    setText(e['files-count'], `${done} of ${files.length} complete`);
    // Open while downloading, unless the user chose otherwise.
    if (!this.filesTouched) {
      const want = op.status === 'downloading';
      if (e['modal-files'].open !== want) {
        this.programmaticToggle = true;
        e['modal-files'].open = want;
        // "toggle" fires asynchronously; forget the flag after it.
        setTimeout(() => { this.programmaticToggle = false; }, 0);
      }
    }
  }

  renderSummary(op) {
    const s = op.summary;
    const e = this.el;
    setAttr(e['modal-summary'], 'hidden', !s);
    if (!s) return;
    setText(e['sum-arch'], s.architecture || '—');
    setText(e['sum-params'], isNum(s.parameters) ? formatCount(s.parameters) : '—');
    setAttr(e['sum-params'], 'title', isNum(s.parameters) ? `${formatInteger(s.parameters)} parameters` : null);
    setText(e['sum-tensors'], formatInteger(s.tensors));
    setText(e['sum-dtypes'], formatDtypes(s.dtypes));
    setText(e['sum-resident'], formatBytes(s.bytes_resident));
    setText(e['sum-context'], isNum(s.context_length) ? `${formatInteger(s.context_length)} tokens` : '—');
  }

  renderError(op, info) {
    const e = this.el;
    const failed = info.status === 'error';
    setAttr(e['modal-error'], 'hidden', !failed);
    if (!failed) return;
    const err = op.error || {};
    const at = stageStates(op).find((s) => s.state === 'failed');
    setText(e['error-title'], at ? `Failed while ${at.label.toLowerCase()}` : 'Failed');
    setText(e['error-message'], err.message || op.message || 'The operation failed without a message.');
    setText(e['error-code'], err.code || 'error');
    setText(e['error-hint'], errorHint(err.code, err.retryable === true));
  }

  renderButtons(info) {
    const e = this.el;
    const active = !info.finished;
    setAttr(e['btn-done'], 'hidden', info.status !== 'completed');
    setAttr(e['btn-retry'], 'hidden', !(info.status === 'error' || info.status === 'cancelled'));
    setAttr(e['btn-cancel'], 'hidden', !(active && this.caps.has('cancel') && !this.removed && this.lastOp));
    // A button that vanished under the keyboard focus hands it to the main action.
    const focused = document.activeElement;
    if (this.isOpen && (!focused || focused === document.body || (this.dialog.contains(focused) && focused.closest('[hidden]')))) {
      const next = [e['btn-done'], e['btn-retry'], e['btn-close']].find((b) => !b.hidden);
      next.focus();
    }
  }

  // ---------------------------------------------------------------- actions

  retry() {
    return this.act('btn-retry', 'Could not retry', async (op) => {
      const id = await this.actions.retry(op);
      if (this.isOpen) {
        this.show(id, op.model_name);
        this.el['modal-title'].focus();
        announce(`Retrying ${op.model_name}.`);
      }
    });
  }

  cancel() {
    return this.act('btn-cancel', 'Could not cancel', async (op) => {
      await this.actions.cancel(op);
      announce(`Cancelling ${op.model_name}.`);
    });
  }

  /** Runs a button's action on the shown operation: busy meanwhile, a failure said inline. */
  async act(buttonId, failure, run) {
    const op = this.lastOp;
    const btn = this.el[buttonId];
    if (!op || !setBusy(btn, true)) return;
    setText(this.el['modal-action-error'], '');
    try {
      await run(op);
    } catch (err) {
      this.actionError(failure, err);
    } finally {
      setBusy(btn, false);
    }
  }

  actionError(what, err) {
    const box = this.el['modal-action-error'];
    box.replaceChildren(
      h('strong', { text: `${what}. ` }),
      h('span', { text: err && err.message ? err.message : String(err) }),
      err && err.code ? h('code', { text: err.code }) : null,
    );
  }
}
