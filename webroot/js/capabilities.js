// Which optional endpoints this server has (cancel, retry, unload). Each is "unknown", "present"
// or "absent"; a button for it is shown only once it is "present".

import { ApiError } from './api.js';

/**
 * What an answer says about an endpoint. A missing route answers 404 or 405. An endpoint that
 * exists answers an id it does not know with 404 too ("no operation with id '…'"), so a 404 counts
 * as "present" only when its JSON error names the id it was asked about, and not as part of the
 * path a route-level 404 echoes ("no such endpoint: POST …/<id>/cancel"). Network failures and
 * 5xx decide nothing.
 */
export function classifyAnswer(err, token) {
  if (!err) return 'present';
  if (!(err instanceof ApiError) && !(err && 'status' in err)) return 'unknown';
  const { status } = err;
  if (status === 0 || (status >= 500 && status !== 501)) return 'unknown';
  if (status === 405 || status === 501) return 'absent';
  if (status === 404) {
    const message = err.body && err.body.error && err.body.error.message;
    return typeof message === 'string' && token && message.includes(token) && !message.includes(`${token}/`)
      ? 'present' : 'absent';
  }
  return 'present'; // 400, 409, 422 …: the route is there and judged the request
}

export class Capabilities extends EventTarget {
  constructor() {
    super();
    // This dashboard ships with a server that has all three; a real call that answers 404/405
    // (an older server behind a proxy, say) still hides the button through learn().
    this.state = { cancel: 'present', retry: 'present', unload: 'present' };
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

  /** Kept for callers: nothing is unknown any more, so nothing is probed (no 4xx in the console). */
  probeUnknown() {}
}
