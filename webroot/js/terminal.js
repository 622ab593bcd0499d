// The log terminal: monospace lines, WARN amber and ERROR red, following the newest line unless the
// user scrolled up (then a button offers to jump back), with Copy and Download.

import { h, setText, announce } from './dom.js';
import { parseLogLine, countLevels } from './format.js';

const STORAGE_KEY = 'hoist.terminal.open';
const NEAR_BOTTOM_PX = 8;

function plural(n, word) {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

export class Terminal {
  /** els: {toggle, panel, view, copy, download, follow, counts} */
  constructor(els) {
    this.els = els;
    this.lines = [];
    this.rendered = 0;
    this.follow = true;
    this.fileName = 'hoist-log.txt';
    this.copyTimer = 0;

    els.toggle.addEventListener('click', () => this.setOpen(els.panel.hidden));
    els.view.addEventListener('scroll', () => this.onScroll(), { passive: true });
    els.follow.addEventListener('click', () => {
      this.follow = true;
      this.scrollToEnd();
      els.view.focus();
    });
    els.copy.addEventListener('click', () => this.copy());
    els.download.addEventListener('click', () => this.download());
    let open = false;
    try {
      open = localStorage.getItem(STORAGE_KEY) === '1';
    } catch { /* storage may be off */ }
    this.setOpen(open, false);
  }

  setOpen(open, remember = true) {
    const { panel, toggle } = this.els;
    panel.hidden = !open;
    toggle.setAttribute('aria-expanded', String(open));
    setText(toggle.querySelector('.label') || toggle, open ? 'Hide log' : 'Show log');
    if (remember) {
      try {
        localStorage.setItem(STORAGE_KEY, open ? '1' : '0');
      } catch { /* storage may be off */ }
    }
    if (open) {
      this.follow = true;
      this.scrollToEnd();
      // Opened by the user: bring it into view (it sits at the bottom of a scrolling modal).
      if (remember && typeof panel.scrollIntoView === 'function') panel.scrollIntoView({ block: 'nearest' });
    }
  }

  /** Shows `lines` (everything gathered for one operation; it only grows, or is new). */
  setLines(lines, fileName) {
    if (fileName) this.fileName = fileName;
    const { view } = this.els;
    const fresh = lines !== this.lines && (lines.length < this.rendered || lines[0] !== this.lines[0]);
    if (fresh) {
      view.replaceChildren();
      this.rendered = 0;
    }
    this.lines = lines;
    if (lines.length > this.rendered) {
      const frag = document.createDocumentFragment();
      for (let i = this.rendered; i < lines.length; i++) frag.append(this.lineEl(lines[i]));
      view.append(frag);
      this.rendered = lines.length;
      if (this.follow) this.scrollToEnd();
      else this.els.follow.hidden = false;
    }
    if (!lines.length && !view.firstChild) {
      view.append(h('div', { class: 'term-empty', text: 'No log lines yet.' }));
    } else if (lines.length) {
      view.querySelector('.term-empty')?.remove();
    }
    const { warn, error } = countLevels(lines);
    const parts = [plural(lines.length, 'line')];
    if (warn) parts.push(plural(warn, 'warning'));
    if (error) parts.push(plural(error, 'error'));
    setText(this.els.counts, parts.join(' · '));
    this.els.counts.dataset.level = error ? 'error' : warn ? 'warn' : '';
    this.els.copy.disabled = !lines.length;
    this.els.download.disabled = !lines.length;
  }

  /** Starts over for another operation. */
  reset() {
    this.lines = [];
    this.rendered = 0;
    this.follow = true;
    this.els.view.replaceChildren();
    this.els.follow.hidden = true;
  }

  lineEl(line) {
    const { time, text, level } = parseLogLine(line);
    return h('div', { class: `term-line level-${level}` },
      time ? h('span', { class: 'term-time', text: time }) : null,
      h('span', { class: 'term-text', text }));
  }

  onScroll() {
    const v = this.els.view;
    this.follow = v.scrollHeight - v.scrollTop - v.clientHeight <= NEAR_BOTTOM_PX;
    if (this.follow) this.els.follow.hidden = true;
  }

  scrollToEnd() {
    const v = this.els.view;
    v.scrollTop = v.scrollHeight;
    this.els.follow.hidden = true;
  }

  text() {
    return this.lines.join('\n') + (this.lines.length ? '\n' : '');
  }

  async copy() {
    const text = this.text();
    let ok = false;
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text);
        ok = true;
      }
    } catch { /* fall back below */ }
    if (!ok) ok = legacyCopy(text, this.els.panel);
    this.flash(this.els.copy, ok ? 'Copied' : 'Copy failed');
    announce(ok ? `Copied ${plural(this.lines.length, 'log line')} to the clipboard.`
      : 'Could not copy. Select the log text and copy it by hand.');
  }

  download() {
    const blob = new Blob([this.text()], { type: 'text/plain;charset=utf-8' });
    const url = URL.createObjectURL(blob);
    const a = h('a', { href: url, download: this.fileName, class: 'visually-hidden' });
    // Inside the panel, not the body: the body is inert while the modal is open.
    this.els.panel.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    announce(`Downloading the log as ${this.fileName}.`);
  }

  flash(button, text) {
    const label = button.querySelector('.label') || button;
    const original = button.dataset.label || label.textContent;
    button.dataset.label = original;
    label.textContent = text;
    clearTimeout(this.copyTimer);
    this.copyTimer = setTimeout(() => { label.textContent = original; }, 1800);
  }
}

function legacyCopy(text, host) {
  const ta = h('textarea', { class: 'visually-hidden', readonly: true, 'aria-hidden': 'true', tabindex: '-1' });
  ta.value = text;
  const focused = document.activeElement;
  host.append(ta);
  ta.select();
  let ok = false;
  try {
    ok = document.execCommand('copy');
  } catch {
    ok = false;
  }
  ta.remove();
  if (focused && focused.focus) focused.focus();
  return ok;
}
