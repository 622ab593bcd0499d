// Small DOM helpers and the icon set (inline SVG, stroke icons on a 24 × 24 grid).

/** h('p', {class: 'x', text: 'hi'}, child…): an element; attributes that are null/false are skipped. */
export function h(tag, props = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(props || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = v;
    else if (k === 'text') el.textContent = v;
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? '' : String(v));
  }
  for (const c of children.flat()) {
    if (c != null && c !== false) el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Sets text only when it changed, so screen readers and selection are not disturbed needlessly. */
export function setText(el, text) {
  const s = String(text);
  if (el.textContent !== s) el.textContent = s;
}

/** Sets (or with null removes) an attribute only when it changed. */
export function setAttr(el, name, value) {
  if (value == null || value === false) {
    if (el.hasAttribute(name)) el.removeAttribute(name);
  } else {
    const s = value === true ? '' : String(value);
    if (el.getAttribute(name) !== s) el.setAttribute(name, s);
  }
}

export function byId(id) {
  const el = document.getElementById(id);
  if (!el) throw new Error(`Hoist: #${id} is missing from index.html`);
  return el;
}

const ICONS = {
  logo: ['M12 21V8', 'M7 12.5l5-5 5 5', 'M5 3.5h14'],
  power: ['M12 3v8', 'M6.3 7.3a8 8 0 1 0 11.4 0'],
  download: ['M12 4v11', 'M7 10l5 5 5-5', 'M5 20h14'],
  chip: ['M8 7h8a1 1 0 0 1 1 1v8a1 1 0 0 1-1 1H8a1 1 0 0 1-1-1V8a1 1 0 0 1 1-1z', 'M10 3v4', 'M14 3v4', 'M10 17v4',
    'M14 17v4', 'M3 10h4', 'M3 14h4', 'M17 10h4', 'M17 14h4'],
  shield: ['M12 3l7 3v5c0 4.4-3 8-7 10-4-2-7-5.6-7-10V6z', 'M9 12l2 2 4-4'],
  flag: ['M5 21V4', 'M5 4h12l-2.5 4 2.5 4H5'],
  check: ['M5 12.5l4.5 4.5L19 7.5'],
  cross: ['M6.5 6.5l11 11', 'M17.5 6.5l-11 11'],
  stop: ['M8 8h8v8H8z'],
  bell: ['M6 16v-5a6 6 0 1 1 12 0v5l1.5 2h-15z', 'M10 20.5a2 2 0 0 0 4 0'],
  copy: ['M9 9h10v11H9z', 'M5 15V4h10'],
  save: ['M12 4v10', 'M8 10l4 4 4-4', 'M5 17v3h14v-3'],
  terminal: ['M4 5h16v14H4z', 'M7.5 9.5l3 2.5-3 2.5', 'M12.5 15h4'],
  retry: ['M19.5 12a7.5 7.5 0 1 1-2.2-5.3', 'M19.5 4v5h-5'],
  arrowDown: ['M12 5v14', 'M6 13l6 6 6-6'],
  trash: ['M5 7h14', 'M10 4h4', 'M7 7l1 13h8l1-13', 'M10 11v6', 'M14 11v6'],
  eject: ['M12 5l7 8H5z', 'M5 18h14'],
  key: ['M14.5 9.5a4 4 0 1 1-1.2-2.8 4 4 0 0 1 1.2 2.8z', 'M13.3 12.3L20 19', 'M17 16l2-2', 'M19 18l1.5-1.5'],
};

/** An inline SVG icon, hidden from assistive technology (the control beside it carries the name). */
export function icon(name, cls = 'icon') {
  const ns = 'http://www.w3.org/2000/svg';
  const svg = document.createElementNS(ns, 'svg');
  svg.setAttribute('viewBox', '0 0 24 24');
  svg.setAttribute('class', cls);
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  for (const d of ICONS[name] || []) {
    const path = document.createElementNS(ns, 'path');
    path.setAttribute('d', d);
    svg.append(path);
  }
  return svg;
}

/** Puts icons into every element with data-icon="name" (static markup stays free of SVG noise). */
export function hydrateIcons(root = document) {
  for (const el of root.querySelectorAll('[data-icon]')) {
    if (!el.querySelector('svg.icon')) el.prepend(icon(el.dataset.icon));
  }
}

/** Elements that can take keyboard focus inside root, in order, skipping hidden ones. */
export function focusables(root) {
  const sel = 'a[href], button:not([disabled]), input:not([disabled]), select:not([disabled]), textarea:not([disabled]), summary, [tabindex]:not([tabindex="-1"])';
  return [...root.querySelectorAll(sel)].filter((el) => !el.closest('[hidden]') && el.getClientRects().length > 0);
}

/** Says something to screen-reader users through the page's polite live region. */
export function announce(message) {
  const region = document.getElementById('announcer');
  if (!region) return;
  region.textContent = '';
  // A fresh text node after a tick is announced even when the words repeat.
  setTimeout(() => { region.textContent = message; }, 50);
}

/**
 * Marks a button busy (or not) without disabling it: a disabled button drops the keyboard focus.
 * Returns false when it was busy already, so a second click does nothing.
 */
export function setBusy(button, on) {
  const was = button.getAttribute('aria-disabled') === 'true';
  if (on && was) return false;
  setAttr(button, 'aria-disabled', on ? 'true' : null);
  setAttr(button, 'aria-busy', on ? 'true' : null);
  return true;
}
