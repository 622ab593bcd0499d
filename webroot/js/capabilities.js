// Which optional endpoints this server has (cancel, retry, unload). Each is "unknown", "present"
// or "absent"; a button for it is shown only once it is "present".

import { api, ApiError } from './api.js';

// Ids no operation or model will ever have: probing with them changes nothing on the server.
const PROBE_OPERATION = '00000000-0000-0000-0000-000000000000';
const PROBE_MODEL = 'hoist-capability-probe';

/**
 * What an answer says about an endpoint. A missing route answers 404 or 405. An endpoint that
 * exists answers an id it does not know with 404 too, so that 404 counts as "present" only when its
 * JSON error names the id it was asked about (as Hoist's errors do). Network failures and 5xx
 * decide nothing.
 */
export function classifyAnswer(err, token) {
  if (!err) return 'present';
  if (!(err instanceof ApiError) && !(err && 'status' in err)) return 'unknown';
  const { status } = err;
  if (status === 0 || status >= 500 && status !== 501) return 'unknown';
  if (status === 405 || status === 501) return 'absent';
  if (status === 404) {
    const message = err.body && err.body.error && err.body.error.message;
    return typeof message === 'string' && token && message.includes(token) && !message.includes('/api/')
      ? 'present' : 'absent';
  }
  return 'present'; // 400, 409, 422 …: the route is there and judged the request
}

export class Capabilities extends EventTarget {
  constructor() {
    super();
    this.state = { cancel: 'unknown', retry: 'unknown', unload: 'unknown' };
    this.probing = new Set();
  }

  has(name) {
    return this.state[name] === 'present';
  }

  set(name, value) {
    if (value === 'unknown' || this.state[name] === value) return;
    this.state[name] = value;
    this.dispatchEvent(new CustomEvent('change', { detail: { name, value } }));
  }

  /** Learns from a real call's outcome (err null on success), `token` being the id it named. */
  learn(name, err, token) {
    this.set(name, classifyAnswer(err, token));
  }

  /**
   * Probes the endpoints whose buttons must not show before they are known: cancel and unload.
   * Retry needs no probe, its button is always there and falls back to a new load. Safe to call
   * again after a reconnect: it only asks about what is still unknown.
   */
  probeUnknown() {
    const probes = {
      cancel: () => api.cancel(PROBE_OPERATION).then(() => null, (e) => e),
      unload: () => api.unload(PROBE_MODEL).then(() => null, (e) => e),
    };
    const tokens = { cancel: PROBE_OPERATION, unload: PROBE_MODEL };
    for (const name of Object.keys(probes)) {
      if (this.state[name] !== 'unknown' || this.probing.has(name)) continue;
      this.probing.add(name);
      probes[name]()
        .then((err) => this.learn(name, err, tokens[name]))
        .finally(() => this.probing.delete(name));
    }
  }
}
