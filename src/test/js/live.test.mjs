// node --test webroot/test/   (the live store against a fake WebSocket and a fake REST client)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LiveStore, backoffDelay } from '../../../webroot/js/live.js';
import { addSample, chartModel, niceCeil } from '../../../webroot/js/chart.js';
import { classifyAnswer } from '../../../webroot/js/capabilities.js';

const tick = (ms = 0) => new Promise((r) => setTimeout(r, ms));

class FakeSocket extends EventTarget {
  static all = [];
  static refuse = false;
  constructor(url) {
    super();
    this.url = url;
    this.sent = [];
    this.readyState = 0;
    FakeSocket.all.push(this);
    setTimeout(() => {
      if (FakeSocket.refuse) this.close();
      else {
        this.readyState = 1;
        this.dispatchEvent(new Event('open'));
      }
    }, 0);
  }
  send(data) { this.sent.push(JSON.parse(data)); }
  close() {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.dispatchEvent(new Event('close'));
  }
  serve(msg) { this.dispatchEvent(Object.assign(new Event('message'), { data: JSON.stringify(msg) })); }
}

function op(id, seq, extra = {}) {
  return { operation_id: id, model_name: 'demo-tiny', status: 'downloading', progress: 20, seq,
    created_at: '2026-11-28T15:30:00Z', updated_at: '2026-11-28T15:30:01Z', logs: [], ...extra };
}

function fakeClient(state) {
  return {
    calls: [],
    async listOperations() {
      this.calls.push('list');
      if (state.down) throw Object.assign(new Error('down'), { status: 0 });
      return { operations: state.ops };
    },
    async getOperation(id) {
      this.calls.push(`get ${id}`);
      const found = state.ops.find((o) => o.operation_id === id);
      if (!found) throw Object.assign(new Error('gone'), { status: 404 });
      return found;
    },
  };
}

function newStore(state, options = {}) {
  FakeSocket.all = [];
  FakeSocket.refuse = false;
  return new LiveStore({ url: 'ws://x/api/llm/ws', client: fakeClient(state), WebSocketImpl: FakeSocket,
    pollMs: 10, backoffBaseMs: 20, backoffMaxMs: 40, ...options });
}

test('subscribes to every operation, applies snapshots and in-order updates, ignores stale ones', async () => {
  const state = { ops: [] };
  const store = newStore(state);
  const modes = [];
  store.addEventListener('mode', (e) => modes.push(e.detail.mode));
  store.start();
  await tick(5);
  const ws = FakeSocket.all[0];
  assert.deepEqual(ws.sent[0], { type: 'subscribe', operation_id: '*' });
  assert.deepEqual(modes, ['live']);
  ws.serve({ type: 'snapshot', ...op('a', 3) });
  ws.serve({ type: 'update', ...op('a', 4, { progress: 30, logs: ['15:30:01 one'] }) });
  ws.serve({ type: 'update', ...op('a', 4, { progress: 99 }) }); // repeated seq
  ws.serve({ type: 'update', ...op('a', 2, { progress: 1 }) }); // older
  assert.equal(store.get('a').progress, 30);
  assert.equal(store.get('a').type, undefined, 'the message type is not kept on the operation');
  assert.deepEqual(store.extra('a').log, ['15:30:01 one']);
  store.stop();
});

test('a gap in seq applies the newer state and re-fetches the operation', async () => {
  const state = { ops: [] };
  const store = newStore(state);
  store.start();
  await tick(5);
  const ws = FakeSocket.all[0];
  ws.serve({ type: 'snapshot', ...op('a', 1) });
  state.ops = [op('a', 9, { status: 'loading', progress: 70 })];
  ws.serve({ type: 'update', ...op('a', 5, { progress: 50 }) });
  assert.equal(store.get('a').progress, 50);
  await tick(5);
  assert.ok(store.client.calls.includes('get a'));
  assert.equal(store.get('a').seq, 9);
  assert.equal(store.get('a').status, 'loading');
  store.stop();
});

test('removed drops the operation; a list re-sync drops what the server no longer has', async () => {
  const state = { ops: [op('a', 1), op('b', 1)] };
  const store = newStore(state);
  store.start();
  await tick(5);
  assert.deepEqual(store.list().map((o) => o.operation_id).sort(), ['a', 'b']);
  FakeSocket.all[0].serve({ type: 'removed', operation_id: 'a', seq: 2 });
  assert.equal(store.get('a'), null);
  state.ops = [];
  await store.syncList();
  assert.equal(store.get('b'), null);
  store.stop();
});

test('falls back to polling when the WebSocket is refused, and back to live when it returns', async () => {
  const state = { ops: [op('a', 1)] };
  const store = newStore(state);
  FakeSocket.refuse = true;
  const modes = [];
  store.addEventListener('mode', (e) => modes.push(e.detail.mode));
  store.start();
  await tick(30);
  assert.equal(store.mode, 'polling');
  state.ops = [op('a', 2, { progress: 40 })];
  await tick(30);
  assert.equal(store.get('a').progress, 40, 'polling picked up the change');
  state.down = true;
  await tick(40);
  assert.equal(store.mode, 'offline');
  state.down = false;
  FakeSocket.refuse = false;
  await tick(120);
  assert.equal(store.mode, 'live');
  assert.ok(FakeSocket.all.length >= 2, 'reconnected');
  const polls = store.client.calls.length;
  await tick(40);
  assert.ok(store.client.calls.length <= polls + 1, 'polling stopped once live');
  assert.ok(modes.includes('polling') && modes.includes('offline') && modes.at(-1) === 'live');
  store.stop();
});

test('backoff doubles up to the cap, with jitter', () => {
  const mid = () => 0.5;
  assert.equal(backoffDelay(0, 500, 30000, mid), 500);
  assert.equal(backoffDelay(3, 500, 30000, mid), 4000);
  assert.equal(backoffDelay(20, 500, 30000, mid), 30000);
  assert.equal(backoffDelay(1, 500, 30000, () => 0), 800);
  assert.equal(backoffDelay(1, 500, 30000, () => 1), 1200);
});

test('throughput samples come from bytes_per_second, or from the byte counts', () => {
  const s = [];
  addSample(s, { status: 'initializing', stage: { bytes_per_second: 5 } }, 0);
  assert.equal(s.length, 0, 'only downloading and loading are sampled');
  addSample(s, { status: 'downloading', stage: { bytes_per_second: 100, bytes_done: 0 } }, 1000);
  addSample(s, { status: 'downloading', stage: { bytes_per_second: null, bytes_done: 300 } }, 2000);
  addSample(s, { status: 'loading', stage: { bytes_per_second: 50, bytes_done: 10 } }, 3000);
  assert.deepEqual(s.map((x) => [x.phase, Math.round(x.v)]), [['downloading', 100], ['downloading', 300], ['loading', 50]]);
  const m = chartModel(s, { now: 3000, active: false, width: 100, height: 10 });
  assert.equal(m.runs.length, 2, 'a run per phase');
  assert.equal(m.bridges.length, 0);
  s.push({ t: 9000, v: 10, phase: 'loading', bytes: 20 });
  const g = chartModel(s, { now: 9500, active: true, width: 100, height: 10 });
  assert.equal(g.bridges.length, 1, 'a silence longer than the gap is bridged, not drawn');
  const near = [{ t: 0, v: 100, phase: 'downloading' }, { t: 1000, v: 250, phase: 'loading' }];
  assert.equal(chartModel(near, { now: 1000, active: false, width: 100, height: 10 }).scales.length, 1,
    'comparable rates share one scale');
  const far = [{ t: 0, v: 30, phase: 'downloading' }, { t: 500, v: 30, phase: 'downloading' }, { t: 1000, v: 1300, phase: 'loading' }];
  const split = chartModel(far, { now: 1000, active: false, width: 100, height: 10 });
  assert.deepEqual(split.scales.map((sc) => sc.phase), ['downloading', 'loading'], 'a scale each when one dwarfs the other');
  assert.equal(split.runs[0].points[0][1], 10 - (30 / niceCeil(33)) * 10, 'the download keeps its own height');
  assert.equal(niceCeil(330), 500);
  assert.equal(niceCeil(1.1 * 1024 * 1024), 2 * 1024 * 1024);
});

test('capability answers: a missing route is absent, a judged request is present', () => {
  const err = (status, message) => ({ status, body: message ? { error: { code: 'not_found', message } } : null });
  assert.equal(classifyAnswer(null), 'present');
  assert.equal(classifyAnswer(err(405)), 'absent');
  assert.equal(classifyAnswer(err(404)), 'absent');
  assert.equal(classifyAnswer(err(404, 'no route'), 'abc'), 'absent');
  // The messages Hoist's gateway sends: an unknown id on a real route, and a route it does not have.
  assert.equal(classifyAnswer(err(404, "no operation with id 'abc'"), 'abc'), 'present');
  assert.equal(classifyAnswer(err(404, "Unknown model 'probe': not in the catalog (GET /api/llm/models lists it)"), 'probe'), 'present');
  assert.equal(classifyAnswer(err(404, 'no such endpoint: POST /api/llm/progress/abc/cancel'), 'abc'), 'absent');
  assert.equal(classifyAnswer(err(409)), 'present');
  assert.equal(classifyAnswer(err(0)), 'unknown');
  assert.equal(classifyAnswer(err(503)), 'unknown');
});
