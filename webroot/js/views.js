// The two views, Live and History, as ARIA tabs: click or arrow keys switch, the address keeps the
// choice (#history), so a reload or a shared link opens the same view.

import { setAttr } from './dom.js';

export function setupViews({ onShow }) {
  const tabs = [...document.querySelectorAll('.view-tabs [role="tab"]')];
  const panelOf = (tab) => document.getElementById(tab.getAttribute('aria-controls'));

  function select(name, { focus = false, push = true } = {}) {
    const tab = tabs.find((t) => t.dataset.view === name) || tabs[0];
    for (const t of tabs) {
      const on = t === tab;
      setAttr(t, 'aria-selected', on ? 'true' : 'false');
      setAttr(t, 'tabindex', on ? null : '-1');
      panelOf(t).hidden = !on;
    }
    document.body.dataset.view = tab.dataset.view;
    if (focus) tab.focus();
    if (push) {
      const hash = tab.dataset.view === 'live' ? '' : `#${tab.dataset.view}`;
      if (window.location.hash !== hash) {
        window.history.replaceState(null, '', `${window.location.pathname}${window.location.search}${hash}`);
      }
    }
    onShow(tab.dataset.view);
  }

  for (const tab of tabs) {
    tab.addEventListener('click', () => select(tab.dataset.view));
    tab.addEventListener('keydown', (e) => {
      const i = tabs.indexOf(tab);
      const to = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: tabs.length - 1 }[e.key];
      if (to === undefined) return;
      e.preventDefault();
      select(tabs[(to + tabs.length) % tabs.length].dataset.view, { focus: true });
    });
  }
  const fromHash = () => select(window.location.hash.replace(/^#/, '') || 'live', { push: false });
  window.addEventListener('hashchange', fromHash);
  fromHash();
  return { select };
}
