// The Fleet panel: GET /api/llm/nodes, asked every few seconds while the page and the Live view are
// visible (there is no WebSocket event for nodes), joined with the live operations (each carries
// `node`). One card per node: up or lost, resources, loaded models, active operations. Outside a
// cluster it stays one compact line about this node.
//
// Events: "change" {summary} after every answer, so the picker and the lists know the fleet.

import { byId, h, setText, setAttr, announce } from './dom.js';
import { summarizeFleet, showsNodes, resourcesText, loadedText, lastSeenText } from './fleet.js';
import { formatBytes } from './format.js';

export class FleetPanel extends EventTarget {
  /** open(id, opener): shows an operation in the progress modal. */
  constructor({ api, store, open, clusteredMs = 3000, singleMs = 15000 }) {
    super();
    Object.assign(this, { api, store, open, clusteredMs, singleMs });
    this.section = byId('fleet');
    this.list = byId('fleet-nodes');
    this.compact = byId('fleet-compact');
    this.count = byId('fleet-count');
    this.error = byId('fleet-error');
    this.body = null;
    this.summary = summarizeFleet(null);
    this.cards = new Map();
    this.frame = 0;
    this.timer = 0;
    this.absent = false;
    store.addEventListener('change', () => this.schedule());
    document.addEventListener('visibilitychange', () => {
      if (this.visible()) this.refresh();
    });
  }

  /** Whether anyone can see the panel: the tab is shown and so is the Live view. */
  visible() {
    return document.visibilityState !== 'hidden' && !this.section.parentElement.closest('[hidden]');
  }

  /** True when the page should name each operation's node. */
  get multi() {
    return showsNodes(this.summary, this.store.list());
  }

  start() {
    this.refresh();
  }

  async refresh() {
    if (this.inFlight) return;
    clearTimeout(this.timer);
    if (this.absent) return;
    this.inFlight = true;
    try {
      await this.poll();
    } finally {
      this.inFlight = false;
    }
    if (this.absent) return;
    this.timer = setTimeout(() => this.refresh(), this.summary.clustered || this.summary.multi ? this.clusteredMs : this.singleMs);
  }

  async poll() {
    if (this.visible()) {
      try {
        this.body = await this.api.nodes();
        this.error.replaceChildren();
      } catch (err) {
        if (err && (err.status === 404 || err.status === 405)) {
          // An older server without the fleet: no panel, and no more asking.
          this.absent = true;
          this.section.hidden = true;
          clearTimeout(this.timer);
          return;
        }
        if (this.body) {
          this.error.replaceChildren(h('strong', { text: 'Could not read the fleet. ' }),
            h('span', { text: err && err.message ? err.message : String(err) }), ' Showing the last known state.');
        }
      }
      const before = this.summary;
      this.summary = summarizeFleet(this.body, this.store.list());
      this.section.hidden = !this.body;
      for (const name of this.summary.lost) {
        if (before.up.includes(name)) announce(`Node ${name} is lost.`);
      }
      this.render();
      this.dispatchEvent(new CustomEvent('change', { detail: { summary: this.summary } }));
    }
  }

  schedule() {
    if (this.frame || !this.body) return;
    this.frame = requestAnimationFrame(() => {
      this.frame = 0;
      this.summary = summarizeFleet(this.body, this.store.list());
      this.render();
    });
  }

  render() {
    const s = this.summary;
    const single = !s.clustered && s.nodes.length <= 1;
    this.section.dataset.mode = single ? 'single' : 'fleet';
    this.list.hidden = single;
    this.compact.hidden = !single;
    const up = s.up.length;
    setText(this.count, single ? 'not clustered'
      : `${s.nodes.length} node${s.nodes.length === 1 ? '' : 's'}${s.lost.length ? `, ${s.lost.length} lost` : `, all up`}`);
    if (single) {
      this.renderCompact(s.nodes[0]);
      return;
    }
    setAttr(this.section, 'data-up', up);
    const keep = new Set(s.nodes.map((n) => n.name));
    for (const [name, card] of this.cards) {
      if (!keep.has(name)) {
        card.li.remove();
        this.cards.delete(name);
      }
    }
    s.nodes.forEach((n, i) => {
      let card = this.cards.get(n.name);
      if (!card) {
        card = this.create(n.name);
        this.cards.set(n.name, card);
      }
      this.update(card, n);
      if (this.list.children[i] !== card.li) this.list.insertBefore(card.li, this.list.children[i] || null);
    });
  }

  renderCompact(n) {
    if (!n) {
      this.compact.replaceChildren();
      return;
    }
    const loaded = n.loaded.length
      ? `${n.loaded.length} model${n.loaded.length === 1 ? '' : 's'} in memory (${n.loaded.map((m) => m.repo).join(', ')})`
      : 'no model in memory';
    const bits = [n.memoryFree !== null ? `${formatBytes(n.memoryFree)} memory free for models` : null,
      n.diskFree !== null ? `${formatBytes(n.diskFree)} disk free` : null, loaded].filter(Boolean);
    this.compact.replaceChildren(h('strong', { class: 'mono', text: n.name }), ` · ${bits.join(' · ')}`);
  }

  create(name) {
    const c = {};
    const titleId = `fleet-node-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`;
    c.title = h('h3', { id: titleId, class: 'node-name mono', text: name });
    c.self = h('span', { class: 'badge badge-self', text: 'this node', hidden: true });
    c.pill = h('span', { class: 'pill node-pill', 'data-testid': 'fleet-node-status' });
    c.seen = h('p', { class: 'node-seen', 'data-testid': 'fleet-node-seen' });
    c.resources = h('p', { class: 'node-resources hint', 'data-testid': 'fleet-node-resources' });
    c.loadedHead = h('h4', { class: 'node-sub', text: 'In memory' });
    c.loaded = h('ul', { class: 'node-items', 'data-testid': 'fleet-node-loaded', 'aria-label': `Models in memory on ${name}` });
    c.activeHead = h('h4', { class: 'node-sub', text: 'Running' });
    c.active = h('ul', { class: 'node-items', 'data-testid': 'fleet-node-active', 'aria-label': `Operations running on ${name}` });
    c.li = h('li', { class: 'node', 'data-node': name, 'data-testid': 'fleet-node', 'aria-labelledby': titleId },
      h('div', { class: 'node-top' }, c.title, c.self, c.pill),
      c.seen, c.resources, c.loadedHead, c.loaded, c.activeHead, c.active);
    c.activeRows = new Map();
    return c;
  }

  update(c, n) {
    setAttr(c.li, 'data-node-status', n.status);
    setAttr(c.li, 'data-self', n.self ? 'true' : null);
    c.self.hidden = !n.self;
    setAttr(c.pill, 'data-node-status', n.status);
    setText(c.pill, n.lost ? 'Lost' : 'Up');
    setText(c.seen, n.lost ? `Lost: ${lastSeenText(n.lastSeen)}. Its unfinished operations show as failed until it returns.` : '');
    c.seen.hidden = !n.lost;
    setText(c.resources, n.lost ? '' : resourcesText(n));
    setText(c.loadedHead, n.lost ? 'In memory when last seen' : 'In memory');
    const models = n.loaded.length ? n.loaded.map((m) => loadedText(m)) : ['none'];
    const modelKey = models.join('\n');
    if (c.loadedKey !== modelKey) {
      c.loadedKey = modelKey;
      c.loaded.replaceChildren(...models.map((t) => h('li', { class: n.loaded.length ? 'mono' : 'node-none', text: t })));
    }
    this.updateActive(c, n);
  }

  updateActive(c, n) {
    const keep = new Set(n.active.map((a) => a.operation_id));
    for (const [id, row] of c.activeRows) {
      if (!keep.has(id)) {
        row.li.remove();
        c.activeRows.delete(id);
      }
    }
    let none = c.active.querySelector('.node-none');
    if (!n.active.length) {
      if (!none) c.active.append(h('li', { class: 'node-none', text: n.lost ? 'unknown while lost' : 'nothing' }));
      else setText(none, n.lost ? 'unknown while lost' : 'nothing');
      return;
    }
    if (none) none.remove();
    n.active.forEach((a, i) => {
      let row = c.activeRows.get(a.operation_id);
      if (!row) {
        row = {};
        row.open = h('button', { type: 'button', class: 'link-button node-op-name' });
        row.pill = h('span', { class: 'pill' });
        row.fill = h('span', { class: 'progress-fill' });
        row.bar = h('div', { class: 'progress', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': 100 }, row.fill);
        row.pct = h('span', { class: 'op-pct num', 'aria-hidden': 'true' });
        row.li = h('li', { class: 'node-op', 'data-operation-id': a.operation_id, 'data-testid': 'fleet-node-op' },
          h('div', { class: 'node-op-top' }, row.open, row.pill),
          h('div', { class: 'op-progress' }, row.bar, row.pct));
        const id = a.operation_id;
        row.open.addEventListener('click', () => this.open(id, row.open));
        c.activeRows.set(a.operation_id, row);
      }
      setText(row.open, a.model_name);
      setAttr(row.open, 'aria-label', `${a.model_name} on ${n.name}, show details`);
      setText(row.pill, a.label);
      for (const el of [row.pill, row.bar]) setAttr(el, 'data-status', a.status);
      row.fill.style.width = `${a.progress}%`;
      setAttr(row.bar, 'aria-valuenow', a.progress);
      setAttr(row.bar, 'aria-valuetext', `${a.progress}%, ${a.label}`);
      setAttr(row.bar, 'aria-label', `Progress of ${a.model_name} on ${n.name}`);
      setText(row.pct, `${a.progress}%`);
      if (c.active.children[i] !== row.li) c.active.insertBefore(row.li, c.active.children[i] || null);
    });
  }
}
