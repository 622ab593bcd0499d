// Browser notifications when a load completes or fails. Permission is asked only when the user
// presses the "Notify me" button; nothing is asked on page load.

import { byId, announce } from './dom.js';
import { statusInfo, formatCount, formatBytes, isNum } from './format.js';

function describe(summary) {
  if (!summary) return 'Ready in memory.';
  const parts = [summary.architecture,
    isNum(summary.parameters) ? `${formatCount(summary.parameters)} parameters` : null,
    isNum(summary.bytes_resident) ? `${formatBytes(summary.bytes_resident)} in memory` : null];
  return parts.filter(Boolean).join(' · ') || 'Ready in memory.';
}

export function setupNotifications({ store, onActivate }) {
  const button = byId('notify-button');
  const supported = typeof window.Notification === 'function' && window.isSecureContext;

  function render() {
    button.hidden = !(supported && Notification.permission === 'default');
  }

  button.addEventListener('click', async () => {
    let result = 'default';
    try {
      result = await Notification.requestPermission();
    } catch {
      result = 'denied';
    }
    render();
    announce(result === 'granted'
      ? 'Notifications are on: you will hear when a load completes or fails.'
      : 'Notifications stay off. You can allow them later in the browser’s site settings.');
    // The button is gone once the browser has an answer; keep the keyboard focus on the page.
    if (button.hidden) byId('main').focus();
  });

  store.addEventListener('change', (e) => {
    const { op, prev } = e.detail;
    // Only changes seen happening: an operation that was already over when the page opened is news to nobody.
    if (!supported || !op || !prev || Notification.permission !== 'granted') return;
    const now = statusInfo(op);
    if (!now.finished || statusInfo(prev).finished || op.status === 'cancelled') return;
    const ok = op.status === 'completed';
    const name = op.model_name || op.repo || 'A model';
    try {
      const n = new Notification(ok ? `${name} is loaded` : `${name} failed to load`, {
        body: ok ? describe(op.summary) : (op.error && op.error.message) || op.message || '',
        tag: `hoist-${op.operation_id}`,
        icon: 'favicon.svg',
      });
      n.addEventListener('click', () => {
        window.focus();
        onActivate(op.operation_id);
        n.close();
      });
    } catch {
      // Some browsers only allow notifications from a service worker; the page shows the result anyway.
    }
  });

  render();
}
