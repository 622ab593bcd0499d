#!/usr/bin/env node
// The fan-out load generator: WebSocket subscribers on Hoist's /api/llm/ws, in their own process.
//
//   node fanout-client.js --hoist http://127.0.0.1:P --control http://127.0.0.1:C \
//        --connections N --live S --ops 100 --rate 1000 --seconds 10 [--warmup 3] [--reference 1]
//
// 1. heap baseline (the driver's GET /bench/heap: heap used after full GCs)
// 2. reference phase: S connections alone, each subscribed to "*", through one measured phase (below);
//    then its operations are deleted, so the registry is empty again
// 3. N - S more connections, each subscribing to "*" (no operation exists: an empty snapshot); the heap
//    again: (heap with N idle subscribers - baseline) / N is the heap per idle connection
// 4. all but the first S unsubscribe and stay connected, idle; the S run the measured phase again
//
// A measured phase: the driver creates OPS operations, drives them unmeasured for WARMUP seconds, then
// sends RATE progress reports a second in all for SECONDS, each stamped "t=<epoch µs>" in its message;
// every live subscriber measures, for each frame with a new stamp, latency = receipt - stamp (same
// machine, same clock). Then the driver cancels every operation and each live subscriber must see
// "cancelled" for all of them. Updates that never arrive (a backlog longer than the wait, or a closed
// connection) count as slower than anything received: percentiles that fall on them are reported as
// lower bounds (latency_censored).
// Prints one JSON object on stdout; progress goes to stderr.
'use strict';
const path = require('path');
const WebSocket = require(path.join(__dirname, '..', 'node_modules', 'ws'));
const { performance } = require('perf_hooks');

const args = {};
for (let i = 2; i < process.argv.length; i += 2) args[process.argv[i].replace(/^--/, '')] = process.argv[i + 1];
const HOIST = args.hoist;
const CONTROL = args.control;
const N = +(args.connections || 10000);
const LIVE = Math.min(N, +(args.live || 100));
const OPS = +(args.ops || 100);
const RATE = +(args.rate || 1000);
const SECONDS = +(args.seconds || 10);
const WARMUP = +(args.warmup || 3);
const REFERENCE = (args.reference || '1') !== '0';
const OPEN_CONCURRENCY = +(args['open-concurrency'] || 200);
const DRAIN_MS = +(args['drain-ms'] || 60000);
const FINAL_WAIT_MS = +(args['final-wait-ms'] || 30000);

const log = (...m) => console.error('[fanout-client]', ...m);
const nowMicros = () => (performance.timeOrigin + performance.now()) * 1000;
const sleep = ms => new Promise(r => setTimeout(r, ms));

async function control(method, pathAndQuery) {
  const r = await fetch(CONTROL + pathAndQuery, { method });
  if (!r.ok) throw new Error(`${method} ${pathAndQuery}: HTTP ${r.status} ${await r.text()}`);
  return r.json();
}

// Cheap field extraction from a frame, without parsing ~1 KB of JSON per frame.
const K_ID = Buffer.from('"operation_id":"');
const K_SEQ = Buffer.from('"seq":');
const K_STATUS = Buffer.from('"status":"');
const K_STAMP = Buffer.from('"message":"t=');
function intAt(buf, at) {
  let n = 0;
  for (let i = at; i < buf.length; i++) {
    const c = buf[i];
    if (c < 48 || c > 57) break;
    n = n * 10 + (c - 48);
  }
  return n;
}
function strAt(buf, at) {
  const end = buf.indexOf(34, at); // '"'
  return buf.toString('latin1', at, end);
}

const FINAL = new Set(['cancelled', 'error', 'completed']);
let measuring = false;
let driving = false;
const latencies = []; // ms
let frames = 0;
let framesWhileDriving = 0;
let gaps = 0;
const closes = {}; // "code reason" -> count, for connections we did not close ourselves
let ending = false;

class Subscriber {
  constructor(index) {
    this.index = index;
    this.lastSeq = new Map();
    this.lastStamp = new Map();
    this.final = new Map();
    this.pending = null; // resolves on 'subscribed' / 'unsubscribed'
    this.closed = false;
  }

  open() {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(HOIST.replace(/^http/, 'ws') + '/api/llm/ws', { perMessageDeflate: false });
      this.ws = ws;
      ws.on('open', () => {
        this.pending = resolve;
        ws.send('{"type":"subscribe","operation_id":"*"}');
      });
      ws.on('error', err => reject(err));
      ws.on('close', (code, reason) => {
        this.closed = true;
        if (!ending) {
          const key = `${code} ${reason}`.trim();
          closes[key] = (closes[key] || 0) + 1;
        }
      });
      ws.on('message', data => this.onFrame(data));
    });
  }

  unsubscribe() {
    return new Promise(resolve => {
      this.pending = resolve;
      this.ws.send('{"type":"unsubscribe","operation_id":"*"}');
    });
  }

  onFrame(buf) {
    frames++;
    const head = buf.toString('latin1', 0, 18);
    if (!head.startsWith('{"type":"update"') && !head.startsWith('{"type":"snapshot"')) {
      const msg = JSON.parse(buf.toString());
      if ((msg.type === 'subscribed' || msg.type === 'unsubscribed') && this.pending) {
        const p = this.pending;
        this.pending = null;
        p();
      } else if (msg.type === 'error') {
        log('error frame:', JSON.stringify(msg));
      }
      return;
    }
    const received = nowMicros();
    if (driving) framesWhileDriving++;
    const idAt = buf.indexOf(K_ID);
    if (idAt < 0) return;
    const id = strAt(buf, idAt + K_ID.length);
    const seq = intAt(buf, buf.indexOf(K_SEQ) + K_SEQ.length);
    const prev = this.lastSeq.get(id);
    if (prev !== undefined && seq > prev + 1) gaps++;
    if (prev === undefined || seq > prev) this.lastSeq.set(id, seq);
    const status = strAt(buf, buf.indexOf(K_STATUS) + K_STATUS.length);
    if (FINAL.has(status)) this.final.set(id, status);
    const stampAt = buf.indexOf(K_STAMP);
    if (stampAt >= 0) {
      const stamp = intAt(buf, stampAt + K_STAMP.length);
      if (stamp !== this.lastStamp.get(id)) { // a new report (later frames repeat the last message)
        this.lastStamp.set(id, stamp);
        stamped++;
        if (measuring) latencies.push((received - stamp) / 1000);
      }
    }
  }
}

async function openMany(count, firstIndex) {
  const opened = [];
  let failed = 0;
  for (let i = 0; i < count; i += OPEN_CONCURRENCY) {
    const batch = [];
    for (let j = i; j < Math.min(count, i + OPEN_CONCURRENCY); j++) {
      const s = new Subscriber(firstIndex + j);
      batch.push(s.open().then(() => opened.push(s), err => {
        failed++;
        if (failed <= 5) log('connect failed:', err.message);
      }));
    }
    await Promise.all(batch);
  }
  opened.sort((a, b) => a.index - b.index);
  return { opened, failed };
}

// Until no frame with a new stamp has arrived for a second (at most `ms`): the backlog, if any, has
// drained. (Frames go on for a few seconds after a drive: the registry republishes the decaying rate.)
let stamped = 0;
async function quiet(ms) {
  const until = Date.now() + ms;
  for (let before = -1; stamped !== before && Date.now() < until; ) {
    before = stamped;
    await sleep(1000);
  }
  return Date.now() < until;
}

// Percentile over `expected` samples, those never received counting as slower than all received ones.
function pct(sorted, expected, p) {
  const i = Math.min(expected - 1, Math.floor(p / 100 * expected));
  if (expected === 0 || sorted.length === 0) return { value: null, censored: expected > 0 };
  return i < sorted.length ? { value: sorted[i], censored: false } : { value: sorted[sorted.length - 1], censored: true };
}

// One measured phase: operations created, warm-up, measured drive, cancel, final-state check.
async function phase(label, live) {
  latencies.length = 0;
  framesWhileDriving = 0;
  gaps = 0;
  for (const s of live) {
    s.lastSeq.clear();
    s.lastStamp.clear();
    s.final.clear();
  }
  const ops = await control('POST', `/bench/ops?count=${OPS}&prefix=${label}`);
  log(`[${label}] ${live.length} live subscribers; ${ops.ids.length} operations: ${ops.running} running, ${ops.queued} queued`);
  await sleep(1000);
  if (WARMUP > 0) {
    // Not measured: lets the JIT compile the update path before the measured drive.
    const w = await control('POST', `/bench/drive?rate=${RATE}&seconds=${WARMUP}`);
    await quiet(DRAIN_MS);
    log(`[${label}] warm-up: ${w.reports} reports in ${w.wall_s.toFixed(1)} s`);
  }
  measuring = true;
  driving = true;
  const driveCpu0 = process.cpuUsage();
  const hoistCpu0 = (await control('GET', '/bench/cpu')).cpu_s;
  const drive = await control('POST', `/bench/drive?rate=${RATE}&seconds=${SECONDS}`);
  driving = false;
  const driveCpu = process.cpuUsage(driveCpu0);
  // Late frames still count: wait until the last stamped frames have arrived (or DRAIN_MS).
  const t0 = Date.now();
  const drained = await quiet(DRAIN_MS);
  measuring = false;
  // Hoist's CPU from the drive's start until the last frame arrived: the work the drive cost, however long a busy
  // machine made it take (contention stretches latency, not this).
  const hoistCpuUntilDrained = (await control('GET', '/bench/cpu')).cpu_s - hoistCpu0;
  log(`[${label}] driven: ${drive.reports} reports to ${drive.operations} operations at ${drive.per_op_hz.toFixed(1)} Hz each `
    + `in ${drive.wall_s.toFixed(1)} s; Hoist CPU ${drive.cpu_s.toFixed(2)} s; ${drained ? 'drained' : 'NOT drained'} `
    + `${((Date.now() - t0) / 1000).toFixed(0)} s later`);

  const cancelled = await control('POST', '/bench/cancel');
  const deadline = Date.now() + FINAL_WAIT_MS;
  const missing = () => live.reduce((sum, s) => sum + ops.ids.filter(id => !s.final.has(id)).length, 0);
  while (missing() > 0 && Date.now() < deadline) await sleep(200);
  const missed = missing();
  const expected = drive.reports * live.length;
  latencies.sort((a, b) => a - b);
  const lat = {};
  const censored = {};
  for (const [k, p] of [['p50', 50], ['p90', 90], ['p99', 99], ['p999', 99.9], ['max', 100]]) {
    const r = pct(latencies, expected, p);
    lat[k] = r.value;
    censored[k] = r.censored;
  }
  log(`[${label}] latency p50 ${lat.p50} ms, p99 ${censored.p99 ? '>' : ''}${lat.p99} ms; `
    + `cancelled ${cancelled.cancelled} of ${cancelled.operations}; final states missed: ${missed}`);
  // A coarse latency histogram for the chart (ms bucket upper bounds); never received: "lost".
  const bounds = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, Infinity];
  const histogram = bounds.map(b => ({ le: b === Infinity ? 'inf' : b, count: 0 }));
  for (const l of latencies) histogram[bounds.findIndex(b => l <= b)].count++;
  histogram.push({ le: 'lost', count: Math.max(0, expected - latencies.length) });
  return {
    live_subscribers: live.length, live_closed: live.filter(s => s.closed).length,
    operations: ops.ids.length, operations_running: ops.running, operations_queued: ops.queued,
    cancelled: cancelled.cancelled,
    reports: drive.reports, drive_seconds: drive.wall_s, per_op_hz: drive.per_op_hz,
    hoist_cpu_s: drive.cpu_s, hoist_cpu_per_s: drive.cpu_s / drive.wall_s, hoist_cpu_until_drained_s: hoistCpuUntilDrained,
    client_cpu_drive_s: (driveCpu.user + driveCpu.system) / 1e6,
    frames_per_s: framesWhileDriving / drive.wall_s, seq_gaps: gaps, drained,
    latency_samples: latencies.length, expected_samples: expected,
    latency_ms: lat, latency_censored: censored, latency_histogram: histogram,
    final_states_expected: ops.ids.length * live.length, final_states_missed: missed,
    closed_by_server: Object.assign({}, closes),
  };
}

async function main() {
  const cpu0 = process.cpuUsage();
  const heap0 = (await control('GET', '/bench/heap')).heap_used;
  log(`heap baseline ${(heap0 / 1048576).toFixed(1)} MiB`);

  // The reference first: the live subscribers alone. (After the main phase Hoist may still be busy.)
  const first = await openMany(LIVE, 0);
  let liveOnly = null;
  if (REFERENCE && LIVE < N) {
    liveOnly = await phase('live-only', first.opened);
    await control('POST', '/bench/delete');
    await sleep(1000);
  }

  const t0 = Date.now();
  const rest = await openMany(N - LIVE, LIVE);
  const subs = first.opened.concat(rest.opened);
  const failed = first.failed + rest.failed;
  const openSeconds = (Date.now() - t0) / 1000;
  log(`${subs.length} connections subscribed to "*" (${failed} failed; ${rest.opened.length} opened in ${openSeconds.toFixed(1)} s)`);
  await sleep(1000);
  const heapIdle = (await control('GET', '/bench/heap')).heap_used;
  log(`heap with ${subs.length} idle subscribers: ${(heapIdle / 1048576).toFixed(1)} MiB`);

  const live = subs.slice(0, LIVE);
  const idle = subs.slice(LIVE);
  for (let i = 0; i < idle.length; i += 500) await Promise.all(idle.slice(i, i + 500).map(s => s.unsubscribe()));
  for (const k of Object.keys(closes)) delete closes[k];
  log(`${live.length} live subscribers follow "*", ${idle.length} stay connected unsubscribed`);
  const main = await phase('all', live);
  main.idle_closed = idle.filter(s => s.closed).length;

  const cpu = process.cpuUsage(cpu0);
  const result = Object.assign({
    connections: N, connected: subs.length, connect_failed: failed, open_seconds: openSeconds,
    idle_subscribers: idle.length,
    heap_baseline: heap0, heap_idle: heapIdle,
    heap_per_idle_connection: subs.length ? (heapIdle - heap0) / subs.length : null,
    frames_total: frames, client_cpu_s: (cpu.user + cpu.system) / 1e6,
  }, main, { live_only: liveOnly });
  ending = true;
  for (const s of subs) s.ws.terminate();
  process.stdout.write(JSON.stringify(result) + '\n');
  process.exit(0);
}

main().catch(err => {
  log('failed:', err.stack || err.message);
  process.exit(1);
});
