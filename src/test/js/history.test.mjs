// node --test src/test/js/   (the history view's pure helpers and the queue / attempt labels)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  timelineSegments, stageTotals, layoutSegments, timelineText, statsRows, secondsScale,
} from '../../../webroot/js/timeline.js';
import { statusLabel, queueText, attemptText, formatSeconds, formatDateTime } from '../../../webroot/js/format.js';

const T0 = Date.parse('2026-11-28T16:00:00.000Z');
const at = (ms) => new Date(T0 + ms).toISOString();

function op(status, steps, extra = {}) {
  return { operation_id: 'x', model_name: 'demo-tiny', status, timeline: steps.map(([s, ms]) => ({ status: s, at: at(ms) })), ...extra };
}

test('queue position, attempt and status labels', () => {
  assert.equal(statusLabel({ status: 'queued', queue_position: 3 }), 'Queued #3');
  assert.equal(statusLabel({ status: 'queued' }), 'Queued');
  assert.equal(statusLabel({ status: 'queued', queue_position: null }), 'Queued');
  assert.equal(statusLabel({ status: 'downloading', queue_position: 2 }), 'Downloading');
  assert.equal(statusLabel({ status: 'downloading', stage: { stalled: true } }), 'Downloading · stalled');
  assert.equal(queueText({ status: 'queued', queue_position: 1 }), 'next in the queue');
  assert.equal(queueText({ status: 'queued', queue_position: 4 }), '#4 in the queue');
  assert.equal(queueText({ status: 'loading', queue_position: 4 }), '');
  assert.equal(queueText({ status: 'queued', queue_position: 0 }), '');
  assert.equal(attemptText({ attempt: 1 }), '');
  assert.equal(attemptText({ attempt: 3 }), 'attempt 3');
  assert.equal(attemptText({}), '');
});

test('formatSeconds keeps a decimal for short spans', () => {
  assert.equal(formatSeconds(0), '0 s');
  assert.equal(formatSeconds(0.02), '<0.1 s');
  assert.equal(formatSeconds(0.44), '0.4 s');
  assert.equal(formatSeconds(8.96), '9 s');
  assert.equal(formatSeconds(12.4), '12 s');
  assert.equal(formatSeconds(75), '1 m 15 s');
  assert.equal(formatSeconds(null), '—');
  assert.match(formatDateTime('2026-11-28T16:12:35Z'), /^28 Nov \d\d:\d\d$/);
  assert.equal(formatDateTime('nonsense'), '');
});

test('a completed timeline becomes one segment per stage, the end mark has no length', () => {
  const tl = timelineSegments(op('completed', [['queued', 0], ['initializing', 100], ['downloading', 600],
    ['loading', 9600], ['finalizing', 10600], ['completed', 10700]]));
  assert.deepEqual(tl.segments.map((s) => [s.status, s.seconds]),
    [['queued', 0.1], ['initializing', 0.5], ['downloading', 9], ['loading', 1], ['finalizing', 0.1]]);
  assert.equal(tl.seconds, 10.7);
  assert.ok(tl.segments.every((s) => !s.idle));
  assert.equal(timelineText(tl), 'queued 0.1 s, initializing 0.5 s, download 9 s, load 1 s, finalizing 0.1 s; 11 s in all');
});

test('a retried operation shows the wait after the failure as idle and sums each stage over the runs', () => {
  const tl = timelineSegments(op('completed', [['queued', 0], ['initializing', 0], ['error', 1000], ['queued', 5000],
    ['initializing', 5000], ['downloading', 5500], ['loading', 6500], ['finalizing', 7000], ['completed', 7000]], { attempt: 2 }));
  const idle = tl.segments.filter((s) => s.idle);
  assert.deepEqual(idle.map((s) => [s.status, s.seconds]), [['error', 4]]);
  const totals = stageTotals(tl.segments);
  assert.equal(totals.get('initializing'), 1.5);
  assert.equal(totals.has('error'), false);
  assert.match(timelineText(tl), /waited 4 s before a retry; 7 s in all$/);
});

test('a running operation lasts until now; bad entries are skipped and time never runs backwards', () => {
  const running = op('downloading', [['queued', 0], ['initializing', 200], ['downloading', 100]]);
  running.timeline.splice(2, 0, { status: 'oops', at: 'not a time' }, null, { at: at(50) });
  const tl = timelineSegments(running, T0 + 3000);
  assert.deepEqual(tl.segments.map((s) => [s.status, s.seconds]), [['queued', 0.2], ['initializing', 0], ['downloading', 2.8]]);
  assert.deepEqual(timelineSegments({ status: 'queued' }).segments, []);
  assert.equal(timelineText(timelineSegments({})), 'No timeline recorded.');
});

test('layoutSegments fills the width, keeps tiny stages visible and is proportional otherwise', () => {
  const segs = [{ seconds: 0.01 }, { seconds: 9 }, { seconds: 1 }];
  const placed = layoutSegments(segs, 1000, 6);
  const total = placed.reduce((a, s) => a + s.w, 0);
  assert.ok(Math.abs(total - 1000) < 1e-6);
  assert.equal(placed[0].w, 6);
  assert.ok(Math.abs(placed[1].w / placed[2].w - 9) < 1e-6);
  assert.equal(placed[1].x, 6);
  const zero = layoutSegments([{ seconds: 0 }, { seconds: 0 }], 100);
  assert.deepEqual(zero.map((s) => [s.x, s.w]), [[0, 50], [50, 50]]);
  assert.deepEqual(layoutSegments([]), []);
});

test('statsRows: most used first, a rate from counts when missing, nulls kept', () => {
  const rows = statsRows({
    models: [
      { model_name: 'a', loads: 1, completed: 1, failed: 0, cancelled: 0, success_rate: 1, median_download_seconds: 3.5,
        median_load_seconds: 0.4, average_bytes_per_second: 1e7 },
      { model_name: 'b', loads: 4, completed: 1, failed: 2, cancelled: 1 },
      { loads: 3 },
      null,
    ],
  });
  assert.deepEqual(rows.map((r) => r.model), ['b', 'a']);
  assert.equal(rows[0].rate, 0.25);
  assert.equal(rows[0].download, null);
  assert.equal(rows[1].rate, 1);
  assert.equal(rows[1].bytesPerSecond, 1e7);
  assert.deepEqual(statsRows(null), []);
  assert.equal(secondsScale(rows), 5);
  assert.equal(secondsScale([]), 1);
  assert.equal(secondsScale([{ download: 19, load: 1.2 }]), 20);
  assert.equal(secondsScale([{ download: 120, load: null }]), 200);
});
