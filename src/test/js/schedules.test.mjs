import { test } from 'node:test';
import assert from 'node:assert/strict';
import { nextRunText } from '../../../webroot/js/schedules.js';
import { residentLine } from '../../../webroot/js/picker.js';

test('next run is counted down and says when it is due', () => {
  const now = Date.parse('2026-11-28T07:00:00Z');
  assert.match(nextRunText('2026-11-28T07:30:00Z', now), /^in 30 m/);
  assert.match(nextRunText('2026-11-28T06:59:00Z', now), /^due now/);
  assert.equal(nextRunText(null, now), 'no next run');
});

test('a resident model says its footprint, idle time and keep-alive', () => {
  const line = residentLine({ bytes_resident: 16 * 1024 * 1024, idle_seconds: 12, keep_alive_seconds: 300, pinned: false });
  assert.match(line, /16(\.0)? MiB in memory/);
  assert.match(line, /idle 12 s/);
  assert.match(line, /unloaded after 5 m/);
  assert.match(residentLine({ pinned: true, idle_seconds: 1 }), /pinned/);
  assert.match(residentLine({ keep_alive_seconds: -1 }), /kept until unloaded/);
  assert.equal(residentLine(null), '');
});

test('the machine resources line of the modal', async () => {
  const { resourcesLine } = await import('../../../webroot/js/modal.js');
  const line = resourcesLine({ memory_available_bytes: 8 * 1024 ** 3, disk_free_bytes: 80 * 1024 ** 3, network_rx_bytes_per_second: 1024 ** 2, heap_used_bytes: 100 * 1024 ** 2 });
  assert.match(line, /Memory free 8(\.0)? GiB/);
  assert.match(line, /Disk free 80(\.0)? GiB/);
  assert.match(line, /Network in/);
  assert.match(line, /JVM heap 100(\.0)? MiB/);
  assert.equal(resourcesLine(null), '');
});
