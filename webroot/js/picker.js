// The model picker: the catalog in a <select> (with the chosen model's details and badges below),
// a field for any hub repo id, the Load button, and errors shown inline.

import { byId, h, setText, setAttr, setBusy } from './dom.js';
import { parseModelInput, errorHint, formatBytes, formatDuration } from './format.js';
import { targetOptions, targetText } from './fleet.js';

const STORAGE_KEY = 'hoist.model';

function remember(name) {
  try {
    localStorage.setItem(STORAGE_KEY, name);
  } catch { /* storage may be off */ }
}

function remembered() {
  try {
    return localStorage.getItem(STORAGE_KEY) || '';
  } catch {
    return '';
  }
}

function errorContent(lead, err) {
  const hint = errorHint(err.code, err.retryable);
  const code = err.code && !String(err.code).startsWith('http_') ? err.code : '';
  return [
    h('strong', { text: lead }),
    ' ',
    h('span', { text: err.message || 'Something went wrong.' }),
    hint || code ? h('span', { class: 'error-detail' }, code ? h('code', { text: code }) : null, hint ? ` ${hint}` : null) : null,
  ];
}

/** "62 MiB in memory · idle 12 s · unloaded after 5 m idle": what keep-alive will do with it. */
export function residentLine(r) {
  if (!r) return '';
  const bits = [];
  if (typeof r.bytes_resident === 'number') bits.push(`${formatBytes(r.bytes_resident)} in memory`);
  if (typeof r.idle_seconds === 'number') bits.push(`idle ${formatDuration(r.idle_seconds)}`);
  if (r.pinned) bits.push('pinned: never unloaded when idle');
  else if (typeof r.keep_alive_seconds === 'number') {
    bits.push(r.keep_alive_seconds < 0 ? 'kept until unloaded' : `unloaded after ${formatDuration(r.keep_alive_seconds)} idle`);
  }
  return bits.join(' · ');
}

export class ModelPicker {
  /**
   * startLoad(name, target) → operation id; onStarted(operationId, modelName, opener): a load was
   * accepted. fleet (optional): the FleetPanel; with two or more nodes up, "Where" offers the best
   * node (target ""), each node, or all of them (fleet.js ALL_NODES).
   */
  constructor({ api, caps, startLoad, onStarted, fleet = null }) {
    this.api = api;
    this.caps = caps;
    this.startLoad = startLoad;
    this.onStarted = onStarted;
    this.models = [];
    const ids = ['load-form', 'model-select', 'model-input', 'load-button', 'load-target', 'load-error',
      'model-details', 'catalog-status', 'catalog-error', 'unload-button', 'node-field', 'node-select'];
    this.el = Object.fromEntries(ids.map((id) => [id, byId(id)]));
    const e = this.el;
    e['load-form'].addEventListener('submit', (ev) => {
      ev.preventDefault();
      this.submit();
    });
    e['model-select'].addEventListener('change', () => {
      remember(e['model-select'].value);
      this.clearError();
      this.renderSelection();
    });
    e['model-input'].addEventListener('input', () => {
      this.clearError();
      setAttr(e['model-input'], 'aria-invalid', null);
      this.renderSelection();
    });
    e['unload-button'].addEventListener('click', () => this.unload());
    e['node-select'].addEventListener('change', () => {
      this.clearError();
      this.renderSelection();
    });
    if (fleet) fleet.addEventListener('change', (ev) => this.renderTargets(ev.detail.summary));
    caps.addEventListener('change', () => this.renderSelection());
  }

  /** Where the load goes: "" for the best node (also outside a fleet), a node name, or ALL_NODES. */
  get target() {
    return this.el['node-field'].hidden ? '' : this.el['node-select'].value;
  }

  /** The "Where" choices, kept while they still exist; hidden unless two or more nodes are up. */
  renderTargets(summary) {
    const e = this.el;
    const options = targetOptions(summary);
    const key = options.map((o) => `${o.value}=${o.label}`).join('\n');
    if (key !== this.targetsKey) {
      this.targetsKey = key;
      const before = e['node-select'].value;
      e['node-select'].replaceChildren(...options.map((o) => h('option', { value: o.value, text: o.label })));
      e['node-select'].value = options.some((o) => o.value === before) ? before : '';
    }
    e['node-field'].hidden = options.length === 0;
    this.renderSelection();
  }

  get selected() {
    return this.models.find((m) => m.name === this.el['model-select'].value) || null;
  }

  async refresh() {
    const e = this.el;
    try {
      const body = await this.api.listModels();
      this.models = body && Array.isArray(body.models) ? body.models : [];
      e['catalog-error'].replaceChildren();
      this.renderOptions();
    } catch (err) {
      if (!this.models.length) {
        e['model-select'].replaceChildren(h('option', { value: '', text: 'Catalog unavailable' }));
        e['model-select'].disabled = true;
      }
      const again = h('button', { type: 'button', class: 'btn btn-small' }, 'Try again');
      again.addEventListener('click', () => this.refresh());
      e['catalog-error'].replaceChildren(...errorContent('Could not read the catalog.', err), ' ', again);
      setText(e['catalog-status'], 'You can still type a repo id below.');
      this.renderSelection();
    }
  }

  renderOptions() {
    const e = this.el;
    const select = e['model-select'];
    const before = select.value || remembered();
    if (!this.models.length) {
      select.replaceChildren(h('option', { value: '', text: 'The catalog is empty' }));
      select.disabled = true;
      setText(e['catalog-status'], 'Type a hub repo id below to load a model.');
    } else {
      select.disabled = false;
      select.replaceChildren(...this.models.map((m) => {
        const bits = [m.name, m.size_hint, m.loaded ? 'loaded' : m.downloaded ? 'downloaded' : null].filter(Boolean);
        return h('option', { value: m.name, text: bits.join(' · ') });
      }));
      if (this.models.some((m) => m.name === before)) select.value = before;
      setText(e['catalog-status'], `${this.models.length} model${this.models.length === 1 ? '' : 's'} in the catalog`);
    }
    this.renderSelection();
  }

  /** The details card of the chosen model, and what Load will load. */
  renderSelection() {
    const e = this.el;
    const m = this.selected;
    const typed = parseModelInput(e['model-input'].value);
    const details = e['model-details'];
    details.hidden = !m;
    e['load-form'].classList.toggle('typed', typed.ok);
    if (m) {
      setText(details.querySelector('.model-description'), m.description || '');
      const meta = [m.repo ? `${m.repo}${m.revision ? `@${m.revision}` : ''}` : null, m.hub ? `hub: ${m.hub}` : null];
      setText(details.querySelector('.model-meta'), meta.filter(Boolean).join(' · '));
      const badges = [];
      if (m.size_hint) badges.push(h('span', { class: 'badge', text: m.size_hint }));
      badges.push(m.downloaded
        ? h('span', { class: 'badge badge-downloaded', text: 'Downloaded' })
        : h('span', { class: 'badge badge-muted', text: 'Not downloaded' }));
      if (m.loaded) badges.push(h('span', { class: 'badge badge-loaded', text: 'Loaded' }));
      if (m.resident && m.resident.pinned) badges.push(h('span', { class: 'badge', text: 'Pinned' }));
      details.querySelector('.model-badges').replaceChildren(...badges);
      setText(details.querySelector('.model-resident'), residentLine(m.resident));
      e['unload-button'].hidden = !(m.loaded && this.caps.has('unload'));
    }
    const target = typed.ok ? typed.value : m ? m.name : '';
    const line = e['load-target'];
    if (target) {
      const where = targetText(this.target);
      line.replaceChildren('Will load ', h('strong', { class: 'mono', text: target }),
        typed.ok ? ' (the typed repo)' : '', where);
    } else {
      line.replaceChildren();
    }
  }

  async submit() {
    const e = this.el;
    if (e['load-button'].getAttribute('aria-busy') === 'true') return;
    this.clearError();
    const typed = parseModelInput(e['model-input'].value);
    if (typed.error) {
      this.showError([h('strong', { text: typed.error })], e['model-input']);
      return;
    }
    const name = typed.ok ? typed.value : e['model-select'].value;
    if (!name) {
      this.showError([h('strong', { text: 'Choose a model from the catalog or type a hub repo id.' })],
        this.models.length ? e['model-select'] : e['model-input']);
      return;
    }
    const button = e['load-button'];
    if (!setBusy(button, true)) return;
    setText(button.querySelector('.label'), 'Starting…');
    try {
      const id = await this.startLoad(name, this.target);
      this.onStarted(id, name, button);
    } catch (err) {
      this.showError(errorContent(`Could not start loading “${name}”.`, err), typed.ok ? e['model-input'] : null);
    } finally {
      setBusy(button, false);
      setText(button.querySelector('.label'), 'Load');
    }
  }

  async unload() {
    const m = this.selected;
    if (!m) return;
    const btn = this.el['unload-button'];
    if (!setBusy(btn, true)) return;
    this.el['catalog-error'].replaceChildren();
    try {
      await this.api.unload(m.name);
      this.caps.learn('unload', null);
      await this.refresh();
    } catch (err) {
      this.caps.learn('unload', err, m.name);
      this.el['catalog-error'].replaceChildren(...errorContent(`Could not unload “${m.name}”.`, err));
    } finally {
      setBusy(btn, false);
    }
  }

  showError(content, field) {
    this.el['load-error'].replaceChildren(...content);
    if (field) {
      setAttr(field, 'aria-invalid', 'true');
      setAttr(field, 'aria-errormessage', 'load-error');
      field.focus();
    }
  }

  clearError() {
    this.el['load-error'].replaceChildren();
    for (const f of [this.el['model-input'], this.el['model-select']]) {
      setAttr(f, 'aria-invalid', null);
      setAttr(f, 'aria-errormessage', null);
    }
  }
}
