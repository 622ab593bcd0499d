// The schedules card: each cron schedule with its model, action and next run, from
// GET /api/llm/schedules. Read at start, every 30 s, and when a load finishes.

import { byId, h, setText } from './dom.js';
import { formatDuration } from './format.js';

const REFRESH_MS = 30000;

/** "in 3 h 5 m (07:30)" for a future ISO time; "due now" when it has passed. */
export function nextRunText(iso, now = Date.now()) {
  if (!iso) return 'no next run';
  const at = Date.parse(iso);
  if (Number.isNaN(at)) return 'no next run';
  const seconds = Math.round((at - now) / 1000);
  const clock = new Date(at).toLocaleString([], { weekday: 'short', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  return seconds <= 0 ? `due now (${clock})` : `in ${formatDuration(seconds)} (${clock})`;
}

export class SchedulesView {
  constructor({ api }) {
    this.api = api;
    this.list = byId('schedules');
    this.empty = byId('schedules-empty');
    this.schedules = [];
    setInterval(() => this.refresh(), REFRESH_MS);
    // The "in N s" texts count down between reads.
    setInterval(() => this.render(), 1000);
  }

  async refresh() {
    try {
      const body = await this.api.listSchedules();
      this.schedules = body && Array.isArray(body.schedules) ? body.schedules : [];
    } catch {
      return; // the page says elsewhere when the server cannot be reached
    }
    this.render();
  }

  render() {
    this.empty.hidden = this.schedules.length > 0;
    this.list.replaceChildren(...this.schedules.map((s) => h('li', { class: 'schedule', 'data-testid': 'schedule' },
      h('span', { class: 'schedule-model', text: s.model_name || '?' }),
      h('span', { class: 'badge', text: s.action === 'refresh' ? 'refresh files' : 'load' }),
      h('code', { class: 'schedule-cron', text: s.cron }),
      h('span', { class: 'schedule-next', 'data-testid': 'schedule-next', text: `next ${nextRunText(s.next_run)}` }))));
  }
}
