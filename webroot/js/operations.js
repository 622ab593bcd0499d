// The live list of operations, newest first. Rows are kept by id and updated in place, so focus
// and hover survive updates; a whole row is clickable through its name button.

import { byId, h, setText, setAttr, icon, setBusy } from './dom.js';
import {
  statusInfo, clampPercent, formatBytes, formatRate, formatDuration, formatClock, repoLabel, isNum,
  statusLabel, queueText, attemptText,
} from './format.js';
import { nodeTag, isParent } from './fleet.js';

export class OperationsList {
  /** handlers: {open(id, opener), remove(op) → Promise}; fleet: the FleetPanel (optional): names nodes when several. */
  constructor({ store, handlers, fleet = null }) {
    this.store = store;
    this.fleet = fleet;
    this.handlers = handlers;
    this.ul = byId('operations');
    this.empty = byId('ops-empty');
    this.count = byId('ops-count');
    this.error = byId('ops-error');
    this.rows = new Map();
    this.frame = 0;
    store.addEventListener('change', () => this.schedule());
    if (fleet) fleet.addEventListener('change', () => this.schedule());
    this.render();
  }

  schedule() {
    if (this.frame) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.render();
    });
  }

  render() {
    const ops = this.store.list();
    this.empty.hidden = ops.length > 0;
    const queued = ops.filter((op) => op.status === 'queued').length;
    const running = ops.filter((op) => !statusInfo(op).finished).length - queued;
    setText(this.count, ops.length
      ? `${ops.length} total${running ? `, ${running} running` : ''}${queued ? `, ${queued} queued` : ''}` : '');

    this.multi = !!(this.fleet && this.fleet.multi);
    const keep = new Set(ops.map((op) => op.operation_id));
    for (const [id, row] of this.rows) {
      if (!keep.has(id)) this.drop(id, row);
    }
    ops.forEach((op, i) => {
      let row = this.rows.get(op.operation_id);
      if (!row) {
        row = this.create(op.operation_id);
        this.rows.set(op.operation_id, row);
      }
      this.update(row, op);
      // Move only what is out of place: moving a row would take the focus out of it.
      if (this.ul.children[i] !== row.li) this.ul.insertBefore(row.li, this.ul.children[i] || null);
    });
  }

  create(id) {
    const r = {};
    r.name = h('span', { class: 'op-name' });
    r.open = h('button', { type: 'button', class: 'op-open' }, r.name, h('span', { class: 'visually-hidden', text: ', show details' }));
    r.pill = h('span', { class: 'pill', 'data-testid': 'operation-status' });
    r.attempt = h('span', { class: 'badge badge-attempt', 'data-testid': 'operation-attempt', hidden: true });
    r.node = h('span', { class: 'badge badge-node', 'data-testid': 'operation-node', hidden: true });
    r.repo = h('p', { class: 'op-repo mono' });
    r.fill = h('span', { class: 'progress-fill' });
    r.bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, r.fill);
    r.pct = h('span', { class: 'op-pct num', 'aria-hidden': 'true' });
    r.bytes = h('span', { class: 'op-bytes' });
    r.speed = h('span', { class: 'op-speed' });
    r.eta = h('span', { class: 'op-eta' });
    r.queue = h('span', { class: 'op-queue', 'data-testid': 'operation-queue' });
    r.time = h('time', { class: 'op-time' });
    r.message = h('p', { class: 'op-message' });
    r.remove = h('button', { type: 'button', class: 'btn-icon op-remove' }, icon('trash'));
    r.li = h('li', { class: 'op', 'data-operation-id': id, 'data-testid': 'operation' },
      h('div', { class: 'op-top' }, r.open, r.pill, r.node, r.attempt, r.remove),
      r.repo,
      h('div', { class: 'op-progress' }, r.bar, r.pct),
      h('p', { class: 'op-meta' }, r.queue, r.bytes, r.speed, r.eta, r.time),
      r.message);
    r.open.addEventListener('click', () => this.handlers.open(id, r.open));
    r.remove.addEventListener('click', () => this.remove(id, r));
    return r;
  }

  update(r, op) {
    const info = statusInfo(op);
    const p = clampPercent(op.progress);
    const name = op.model_name || op.repo || 'model';
    const stage = op.stage || {};
    setText(r.name, name);
    setText(r.pill, statusLabel(op));
    const attempt = attemptText(op);
    setText(r.attempt, attempt);
    r.attempt.hidden = !attempt;
    setText(r.queue, queueText(op));
    const node = this.multi || isParent(op) ? nodeTag(op) : '';
    setText(r.node, node);
    r.node.hidden = !node;
    setAttr(r.li, 'data-node', op.node || null);
    for (const el of [r.li, r.pill, r.bar]) {
      setAttr(el, 'data-status', info.status);
      setAttr(el, 'data-stalled', info.stalled ? 'true' : null);
    }
    setAttr(r.bar, 'data-moving', info.moving ? 'true' : null);
    setText(r.repo, repoLabel(op));
    r.fill.style.width = `${p}%`;
    setAttr(r.bar, 'aria-valuenow', p);
    setAttr(r.bar, 'aria-valuetext', `${p}%, ${info.label}`);
    setAttr(r.bar, 'aria-label', `Progress of ${name}`);
    setText(r.pct, `${p}%`);

    const hasBytes = isNum(stage.bytes_done) && op.status !== 'queued';
    setText(r.bytes, hasBytes
      ? (isNum(stage.bytes_total) && stage.bytes_total > 0
        ? `${formatBytes(stage.bytes_done)} / ${formatBytes(stage.bytes_total)}` : formatBytes(stage.bytes_done))
      : '');
    const moving = !info.finished && (op.status === 'downloading' || op.status === 'loading');
    setText(r.speed, moving && isNum(stage.bytes_per_second) ? formatRate(stage.bytes_per_second) : '');
    setText(r.eta, moving && isNum(stage.eta_seconds) ? `${formatDuration(stage.eta_seconds)} left` : '');
    const clock = formatClock(op.created_at);
    setText(r.time, clock ? `started ${clock}` : '');
    setAttr(r.time, 'datetime', op.created_at || null);
    const msg = info.status === 'error' && op.error && op.error.message ? op.error.message : op.message || '';
    setText(r.message, msg);
    setAttr(r.message, 'data-level', info.status === 'error' ? 'error' : null);

    r.remove.hidden = !info.finished;
    setAttr(r.remove, 'aria-label', `Remove ${name} from the list`);
    setAttr(r.remove, 'title', 'Remove from the list');
  }

  drop(id, row) {
    const hadFocus = row.li.contains(document.activeElement);
    const next = row.li.nextElementSibling || row.li.previousElementSibling;
    row.li.remove();
    this.rows.delete(id);
    if (hadFocus) (next ? next.querySelector('.op-open') : byId('ops-title')).focus();
  }

  async remove(id, row) {
    const op = this.store.get(id);
    if (!op) return;
    if (!setBusy(row.remove, true)) return;
    this.error.replaceChildren();
    try {
      await this.handlers.remove(op);
    } catch (err) {
      setBusy(row.remove, false);
      this.error.replaceChildren(
        h('strong', { text: `Could not remove ${op.model_name || 'the operation'}. ` }),
        h('span', { text: err.message || String(err) }),
        err.code ? h('code', { text: err.code }) : null,
      );
    }
  }
}
