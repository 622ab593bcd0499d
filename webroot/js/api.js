// The REST client: one place that knows the paths, sends the API token on every request (see
// auth.js) and turns every failure into an ApiError. Every fetch of the dashboard goes through here.

import { Access, authHeaders, withAccessToken } from './auth.js';

const TIMEOUT_MS = 15000;

export class ApiError extends Error {
  constructor(status, code, message, { retryable = false, body = null } = {}) {
    super(message);
    this.name = 'ApiError';
    this.status = status; // 0 when the server could not be reached
    this.code = code;
    this.retryable = retryable;
    this.body = body;
  }
}

const STATUS_TEXT = {
  400: 'The request was not accepted',
  404: 'Not found',
  405: 'Not supported by this server',
  409: 'Conflict with the current state',
  413: 'The request is too large',
  415: 'Unsupported request format',
  429: 'Too many requests; wait a moment',
  500: 'The server failed',
  502: 'The hub answered with an error',
  503: 'The service is unavailable right now',
  504: 'The request timed out',
};

async function send(fetchImpl, method, path, body, token) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), TIMEOUT_MS);
  const init = { method, cache: 'no-store', signal: controller.signal, headers: { Accept: 'application/json', ...authHeaders(token) } };
  if (body !== undefined) {
    init.headers['Content-Type'] = 'application/json';
    init.body = JSON.stringify(body);
  }
  try {
    return await fetchImpl(path, init);
  } catch (e) {
    const timedOut = e && e.name === 'AbortError';
    throw new ApiError(0, timedOut ? 'timed_out' : 'network_error',
      timedOut ? 'The Hoist server did not answer in time.' : 'Could not reach the Hoist server. Is it running?',
      { retryable: true });
  } finally {
    clearTimeout(timer);
  }
}

async function read(res) {
  let data = null;
  if (res.status !== 204) {
    const text = await res.text().catch(() => '');
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = null;
      }
    }
  }
  if (!res.ok) {
    const err = data && typeof data.error === 'object' && data.error ? data.error : null;
    if (res.status === 401) {
      throw new ApiError(401, (err && err.code) || 'unauthorized',
        'This Hoist server needs its API token (HOIST_API_TOKEN) for that.', { body: data });
    }
    throw new ApiError(
      res.status,
      (err && err.code) || `http_${res.status}`,
      (err && err.message) || STATUS_TEXT[res.status] || `The server answered ${res.status}`,
      { retryable: !!(err && err.retryable), body: data },
    );
  }
  return data;
}

/**
 * A request function: sends the current token; on 401 asks `access` for one (the dialog) and sends
 * the request again with it, until the server takes it or the user cancels. Reads are background
 * work and stop asking once the user cancelled; anything else is a user's action and asks again.
 */
export function makeRequest({ access, fetchImpl = (...args) => fetch(...args) }) {
  return async function request(method, path, body) {
    let asked = false;
    for (;;) {
      const token = access.token();
      let res;
      try {
        res = await send(fetchImpl, method, path, body, token);
      } catch (err) {
        if (asked) access.unreachable(token);
        throw err;
      }
      if (res.status === 401) {
        const next = await access.refused(token, { interactive: method !== 'GET' && method !== 'HEAD' });
        if (next) {
          asked = true;
          continue;
        }
      } else if (asked) {
        access.accepted(token); // past the token check, whatever the answer: the token is right
      }
      return read(res);
    }
  };
}

/** The page's one token holder (sessionStorage); tokendialog.js plugs the question in. */
export const access = new Access();
const request = makeRequest({ access });

const enc = encodeURIComponent;

export const api = {
  listModels: () => request('GET', '/api/llm/models'),
  // A name, or a whole request (fleet.js loadRequest: with node or nodes).
  load: (req) => request('POST', '/api/llm/load', typeof req === 'string' ? { model_name: req } : req),
  nodes: () => request('GET', '/api/llm/nodes'),
  listOperations: () => request('GET', '/api/llm/progress'),
  getOperation: (id) => request('GET', `/api/llm/progress/${enc(id)}`),
  deleteOperation: (id) => request('DELETE', `/api/llm/progress/${enc(id)}`),
  // Not on every server yet: see capabilities.js.
  cancel: (id) => request('POST', `/api/llm/progress/${enc(id)}/cancel`, {}),
  retry: (id) => request('POST', `/api/llm/progress/${enc(id)}/retry`, {}),
  unload: (name) => request('POST', `/api/llm/models/${enc(name)}/unload`, {}),
  listSchedules: () => request('GET', '/api/llm/schedules'),
  // Read from the server's database: finished operations stay here after they leave the live list.
  history: ({ model, status, limit } = {}) => {
    const q = new URLSearchParams();
    if (model) q.set('model', model);
    if (status) q.set('status', status);
    if (limit) q.set('limit', String(limit));
    const qs = q.toString();
    return request('GET', `/api/llm/history${qs ? `?${qs}` : ''}`);
  },
  stats: () => request('GET', '/api/llm/stats'),
};

/** The WebSocket URL, with an accepted token as access_token (the server's only way for browsers). */
export function wsUrl(loc = window.location, token = access.verified()) {
  return withAccessToken(`${loc.protocol === 'https:' ? 'wss' : 'ws'}://${loc.host}/api/llm/ws`, token);
}
