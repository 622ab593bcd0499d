// node --test webroot/test/   (pure helpers: no browser needed)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  formatBytes, formatRate, formatDuration, formatCount, clampPercent, statusInfo, stageStates,
  stageForProgress, parseLogLine, mergeLogs, countLevels, parseModelInput, formatDtypes, safeFileName,
  errorHint,
} from '../../../webroot/js/format.js';

test('formatBytes uses binary units with about three significant digits', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(999), '999 B');
  assert.equal(formatBytes(1536), '1.5 KiB');
  assert.equal(formatBytes(16 * 1024 * 1024), '16 MiB');
  assert.equal(formatBytes(12.34 * 1024 * 1024), '12.3 MiB');
  assert.equal(formatBytes(1.234 * 1024 ** 3), '1.23 GiB');
  assert.equal(formatBytes(1023 * 1024), '1 MiB');
  assert.equal(formatBytes(null), '—');
  assert.equal(formatBytes(-1), '—');
  assert.equal(formatBytes(NaN), '—');
});

test('formatRate and formatDuration read like a person would say them', () => {
  assert.equal(formatRate(1000.5), '0.98 KiB/s');
  assert.equal(formatRate(null), '—');
  assert.equal(formatDuration(0), '0 s');
  assert.equal(formatDuration(45), '45 s');
  assert.equal(formatDuration(72), '1 m 12 s');
  assert.equal(formatDuration(120), '2 m');
  assert.equal(formatDuration(3600 + 5 * 60 + 9), '1 h 5 m');
  assert.equal(formatDuration(86400 * 2 + 3600 * 3), '2 d 3 h');
  assert.equal(formatDuration(null), '—');
  assert.equal(formatDuration(Infinity), '—');
});

test('formatCount shortens parameter counts', () => {
  assert.equal(formatCount(123456), '123 K');
  assert.equal(formatCount(1_100_000_000), '1.1 B');
  assert.equal(formatCount(7_241_732_096), '7.24 B');
  assert.equal(formatCount(12), '12');
});

test('clampPercent keeps 0..100 integers', () => {
  assert.equal(clampPercent(45.6), 46);
  assert.equal(clampPercent(140), 100);
  assert.equal(clampPercent(-3), 0);
  assert.equal(clampPercent(undefined), 0);
});

test('statusInfo: labels, finished, stalled and unknown statuses', () => {
  assert.deepEqual(
    [statusInfo({ status: 'downloading' }).label, statusInfo({ status: 'downloading' }).moving], ['Downloading', true]);
  const stalled = statusInfo({ status: 'downloading', stage: { stalled: true } });
  assert.equal(stalled.stalled, true);
  assert.equal(stalled.moving, false);
  assert.equal(stalled.label, 'Downloading · stalled');
  assert.equal(statusInfo({ status: 'error' }).label, 'Failed');
  assert.equal(statusInfo({ status: 'cancelled' }).finished, true);
  assert.equal(statusInfo({ status: 'queued' }).finished, false);
  assert.equal(statusInfo({ status: 'paused' }).label, 'Paused');
  assert.equal(statusInfo({ status: 'completed', stage: { stalled: true } }).stalled, false);
});

test('stageStates marks done, current and the failed stage', () => {
  const states = (op) => stageStates(op).map((s) => s.state).join(' ');
  assert.equal(states({ status: 'queued' }), 'pending pending pending pending pending');
  assert.equal(states({ status: 'loading' }), 'done done current pending pending');
  assert.equal(states({ status: 'completed' }), 'done done done done done');
  assert.equal(states({ status: 'error', stage: { name: 'downloading' } }), 'done failed pending pending pending');
  assert.equal(states({ status: 'error', progress: 70 }), 'done done failed pending pending');
  assert.equal(states({ status: 'cancelled', progress: 20 }), 'done stopped pending pending pending');
  assert.equal(stageForProgress(5), 'initializing');
  assert.equal(stageForProgress(95), 'finalizing');
});

test('parseLogLine splits the time and finds the level', () => {
  assert.deepEqual(parseLogLine('15:30:01 Resolving hoist/demo-tiny@main'),
    { time: '15:30:01', text: 'Resolving hoist/demo-tiny@main', level: 'info' });
  assert.equal(parseLogLine('15:30:02 WARN retrying …').level, 'warn');
  assert.equal(parseLogLine('15:30:09 ERROR model.safetensors: header').level, 'error');
  assert.equal(parseLogLine('15:30:09 WARNING as a word, then WARN as one').level, 'warn');
  assert.equal(parseLogLine('15:30:09 WARNINGS only').level, 'info');
  assert.deepEqual(parseLogLine('no time here'), { time: '', text: 'no time here', level: 'info' });
  assert.deepEqual(countLevels(['a', '1 WARN x', '2 ERROR y', '3 WARN z']), { warn: 2, error: 1 });
});

test('mergeLogs appends only the new lines of a sliding window', () => {
  let seen = mergeLogs([], ['a', 'b', 'c']);
  assert.deepEqual(seen, ['a', 'b', 'c']);
  assert.equal(mergeLogs(seen, ['a', 'b', 'c']), seen, 'nothing new: same array back');
  seen = mergeLogs(seen, ['b', 'c', 'd']); // window slid by one
  assert.deepEqual(seen, ['a', 'b', 'c', 'd']);
  seen = mergeLogs(seen, ['x', 'y']); // no overlap: all new
  assert.deepEqual(seen, ['a', 'b', 'c', 'd', 'x', 'y']);
  assert.deepEqual(mergeLogs(['a', 'a'], ['a', 'a', 'a']), ['a', 'a', 'a']);
  assert.deepEqual(mergeLogs(['1', '2', '3'], ['3', '4'], 3), ['2', '3', '4']);
});

test('parseModelInput accepts aliases and repo ids, refuses spaces', () => {
  assert.deepEqual(parseModelInput('  hoist/demo-tiny@main '), { ok: true, value: 'hoist/demo-tiny@main' });
  assert.equal(parseModelInput('').empty, true);
  assert.equal(parseModelInput('a b').ok, false);
  assert.equal(parseModelInput('/x').ok, false);
});

test('small formatters', () => {
  assert.equal(formatDtypes({ F16: 3, F32: 2 }), 'F16 × 3, F32 × 2');
  assert.equal(formatDtypes(null), '—');
  assert.equal(safeFileName('hoist/demo tiny@main'), 'hoist-demo-tiny-main');
  assert.match(errorHint('gated_repo', false), /access/);
  assert.equal(errorHint('something_else', false), '');
  assert.match(errorHint('something_else', true), /again/);
});
