// The live store: every operation the server knows, kept current over the WebSocket, re-synced by
// seq after a gap or a reconnect, and polled over REST while the WebSocket is down.
//
// Events: "change" {id, op, prev, removed} for every applied change; "mode" {mode} when the
// connection mode changes: "connecting", "live" (WebSocket), "polling" (REST fallback), "offline",
// "locked" (the server wants the API token and the page has none). `url` may be a function, asked
// on every connect (so a token entered meanwhile is used).

import { api as defaultApi } from './api.js';
import { isNum, mergeLogs } from './format.js';
import { addSample } from './chart.js';

/** Delay before reconnect attempt n (0-based): doubling from base up to max, with ±20 % jitter. */
export function backoffDelay(attempt, baseMs, maxMs, random = Math.random) {
  const raw = Math.min(maxMs, baseMs * 2 ** Math.min(attempt, 30));
  return Math.round(raw * (0.8 + 0.4 * random()));
}

function createdAt(op) {
  const t = Date.parse(op.created_at);
  return Number.isFinite(t) ? t : 0;
}

export class LiveStore extends EventTarget {
  constructor({
    url,
    client = defaultApi,
    WebSocketImpl = globalThis.WebSocket,
    pollMs = 1000,
    backoffBaseMs = 500,
    backoffMaxMs = 30000,
    connectTimeoutMs = 8000,
    stableMs = 10000,
  } = {}) {
    super();
    Object.assign(this, { url, client, WebSocketImpl, pollMs, backoffBaseMs, backoffMaxMs, connectTimeoutMs, stableMs });
    this.ops = new Map();
    this.extras = new Map(); // id → {log, samples, receivedAt, touchedAt}: what only this page knows
    this.mode = 'connecting';
    this.ws = null;
    this.attempt = 0;
    this.timers = {};
    this.polling = false;
    this.resyncing = new Set();
    this.sorted = null;
    this.stopped = true;
  }

  // ---------------------------------------------------------------- reading

  get(id) {
    return this.ops.get(id) || null;
  }

  extra(id) {
    let e = this.extras.get(id);
    if (!e) {
      e = { log: [], samples: [], receivedAt: 0, touchedAt: 0 };
      this.extras.set(id, e);
    }
    return e;
  }

  /** All operations, newest first. */
  list() {
    if (!this.sorted) {
      this.sorted = [...this.ops.values()].sort((a, b) => createdAt(b) - createdAt(a) ||
        String(b.operation_id).localeCompare(String(a.operation_id)));
    }
    return this.sorted;
  }

  // ---------------------------------------------------------------- lifecycle

  start() {
    if (!this.stopped) return;
    this.stopped = false;
    this.onOnline = () => this.reconnectNow();
    globalThis.addEventListener?.('online', this.onOnline);
    this.connect();
    this.syncList().catch(() => {});
  }

  stop() {
    this.stopped = true;
    globalThis.removeEventListener?.('online', this.onOnline);
    for (const t of Object.values(this.timers)) clearTimeout(t);
    this.polling = false;
    if (this.ws) {
      const ws = this.ws;
      this.ws = null;
      ws.close();
    }
  }

  /** Skips the remaining backoff wait, e.g. when the browser says the network is back. */
  reconnectNow() {
    this.attempt = 0; // also for a handshake in flight: if it fails, the next try comes soon
    if (this.stopped || this.ws) return;
    clearTimeout(this.timers.reconnect);
    this.connect();
  }

  /** Fetches one operation now (after starting it, or to re-sync it); resolves to it or null. */
  async refresh(id) {
    try {
      const op = await this.client.getOperation(id);
      this.apply(op, 'rest');
      return this.get(id);
    } catch (err) {
      if (err && err.status === 404) this.remove(id);
      throw err;
    }
  }

  /** Drops an operation the page just deleted, without waiting for the server to say so. */
  forget(id) {
    this.remove(id);
  }

  // ---------------------------------------------------------------- WebSocket

  connect() {
    if (this.stopped) return;
    if (!this.WebSocketImpl) {
      this.wsDown();
      return;
    }
    let ws;
    try {
      ws = new this.WebSocketImpl(typeof this.url === 'function' ? this.url() : this.url);
    } catch {
      this.wsDown();
      return;
    }
    this.ws = ws;
    let openedAt = 0;
    this.timers.connect = setTimeout(() => {
      if (this.ws === ws && !openedAt) ws.close(); // hung handshake: give up, "close" follows
    }, this.connectTimeoutMs);
    ws.addEventListener('open', () => {
      if (this.ws !== ws) return;
      clearTimeout(this.timers.connect);
      openedAt = Date.now();
      ws.send(JSON.stringify({ type: 'subscribe', operation_id: '*' }));
      const wasPolling = this.polling;
      this.polling = false;
      clearTimeout(this.timers.poll);
      this.setMode('live');
      // Snapshots bring every operation up to date; a list also tells which ones were deleted
      // while the page was away (no snapshot marks the end of the snapshots).
      if (wasPolling || this.attempt > 0) this.syncList().catch(() => {});
    });
    ws.addEventListener('message', (e) => {
      if (this.ws === ws) this.onMessage(e.data);
    });
    ws.addEventListener('close', () => {
      if (this.ws !== ws) return;
      clearTimeout(this.timers.connect);
      this.ws = null;
      // A connection that stayed up a while starts the backoff afresh; one that drops at once
      // keeps backing off, so a failing server is not hammered.
      if (openedAt && Date.now() - openedAt >= this.stableMs) this.attempt = 0;
      this.wsDown();
    });
  }

  wsDown() {
    if (this.stopped) return;
    this.startPolling();
    const delay = backoffDelay(this.attempt++, this.backoffBaseMs, this.backoffMaxMs);
    clearTimeout(this.timers.reconnect);
    this.timers.reconnect = setTimeout(() => this.connect(), delay);
  }

  onMessage(data) {
    let msg;
    try {
      msg = JSON.parse(data);
    } catch {
      console.warn('Hoist: ignored a live message that is not JSON');
      return;
    }
    if (!msg || typeof msg !== 'object') return;
    const { type, ...fields } = msg;
    if (type === 'snapshot' || type === 'update') this.apply(fields, type);
    else if (type === 'removed') this.remove(msg.operation_id);
    else if (type === 'model') this.dispatchEvent(new CustomEvent('model', { detail: fields }));
    else if (type === 'error') console.warn('Hoist: the server refused a live message:', msg.error && msg.error.message);
  }

  // ---------------------------------------------------------------- polling fallback

  startPolling() {
    if (this.polling || this.stopped) return;
    this.polling = true;
    this.pollFailures = 0;
    this.pollOnce();
  }

  async pollOnce() {
    if (!this.polling) return;
    try {
      await this.syncList();
      this.pollFailures = 0;
      if (this.polling) this.setMode('polling');
    } catch (err) {
      this.pollFailures++;
      if (this.polling) this.setMode(err && err.status === 401 ? 'locked' : 'offline');
    }
    if (!this.polling) return;
    const wait = this.pollFailures ? Math.min(this.pollMs * 2 ** this.pollFailures, 5000) : this.pollMs;
    this.timers.poll = setTimeout(() => this.pollOnce(), wait);
  }

  /** Reads the whole list: applies what is newer, drops what the server no longer has. */
  async syncList() {
    const askedAt = Date.now();
    const body = await this.client.listOperations();
    const ops = (body && Array.isArray(body.operations)) ? body.operations : [];
    const present = new Set();
    for (const op of ops) {
      if (!op || !op.operation_id) continue;
      present.add(op.operation_id);
      this.apply(op, 'rest');
    }
    for (const id of [...this.ops.keys()]) {
      // Keep what arrived after the list was asked for: it is newer than the list.
      if (!present.has(id) && this.extra(id).touchedAt < askedAt) this.remove(id);
    }
  }

  // ---------------------------------------------------------------- applying changes

  /**
   * Applies an operation from a snapshot, an update or a REST answer. Older or repeated seqs are
   * ignored (a snapshot is the server's word and always wins); a gap in an update's seq triggers a
   * re-fetch of that operation. A message with the core fields replaces the operation; one
   * without them is merged as a patch.
   */
  apply(incoming, source) {
    const id = incoming && incoming.operation_id;
    if (!id) return;
    const prev = this.ops.get(id) || null;
    const seq = incoming.seq;
    if (prev && isNum(prev.seq) && isNum(seq)) {
      if (seq === prev.seq && source !== 'snapshot') return;
      if (seq < prev.seq && source !== 'snapshot') return;
      if (source === 'update' && seq > prev.seq + 1) this.resync(id);
    }
    const full = 'status' in incoming && 'model_name' in incoming;
    const op = full || !prev ? { ...incoming } : { ...prev, ...incoming };
    if (prev && !('logs' in op)) op.logs = prev.logs;
    if (prev && !('files' in op)) op.files = prev.files;
    if (prev && seq === prev.seq && JSON.stringify(prev) === JSON.stringify(op)) return;

    const now = Date.now();
    const extra = this.extra(id);
    extra.log = mergeLogs(extra.log, op.logs);
    addSample(extra.samples, op, now);
    extra.receivedAt = now;
    extra.touchedAt = now;
    this.ops.set(id, op);
    this.sorted = null;
    this.dispatchEvent(new CustomEvent('change', { detail: { id, op, prev, removed: false } }));
  }

  remove(id) {
    const prev = this.ops.get(id);
    if (!prev) return;
    this.ops.delete(id);
    this.extras.delete(id);
    this.sorted = null;
    this.dispatchEvent(new CustomEvent('change', { detail: { id, op: null, prev, removed: true } }));
  }

  resync(id) {
    if (this.resyncing.has(id)) return;
    this.resyncing.add(id);
    this.refresh(id).catch(() => {}).finally(() => this.resyncing.delete(id));
  }

  setMode(mode) {
    if (this.mode === mode) return;
    this.mode = mode;
    this.dispatchEvent(new CustomEvent('mode', { detail: { mode } }));
  }
}
