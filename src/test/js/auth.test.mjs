// node --test src/test/js/   (the API token: where it is kept, how requests carry it, the 401 dance)
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Access, TokenStore, authHeaders, withAccessToken } from '../../../webroot/js/auth.js';
import { makeRequest, ApiError, wsUrl } from '../../../webroot/js/api.js';

class FakeStorage {
  constructor() { this.map = new Map(); }
  getItem(k) { return this.map.has(k) ? this.map.get(k) : null; }
  setItem(k, v) { this.map.set(k, String(v)); }
  removeItem(k) { this.map.delete(k); }
}

/** A server whose API wants `token` (reads too when protectReads); records every request. */
function fakeServer(token, { protectReads = true } = {}) {
  const seen = [];
  const fetchImpl = async (path, init) => {
    const auth = init.headers.Authorization || null;
    seen.push({ path, method: init.method, auth, stored: globalThis.__storage ? globalThis.__storage.getItem('hoist.apiToken') : undefined });
    const read = init.method === 'GET';
    if ((!read || protectReads) && auth !== `Bearer ${token}`) {
      return new Response(JSON.stringify({ error: { code: 'unauthorized', message: 'this request needs the API token' } }),
        { status: 401, headers: { 'Content-Type': 'application/json', 'WWW-Authenticate': 'Bearer realm="hoist"' } });
    }
    return new Response(JSON.stringify({ ok: true, path }), { status: 200, headers: { 'Content-Type': 'application/json' } });
  };
  return { seen, fetchImpl };
}

function setup({ answers = [], protectReads = true, stored = null } = {}) {
  const storage = new FakeStorage();
  globalThis.__storage = storage;
  const access = new Access({ store: new TokenStore(storage) });
  if (stored) access.store.set(stored);
  const asked = [];
  access.prompt = async (opts) => {
    asked.push(opts);
    return answers.shift() ?? null;
  };
  const server = fakeServer('s3cret', { protectReads });
  const request = makeRequest({ access, fetchImpl: server.fetchImpl });
  return { storage, access, asked, server, request };
}

test('headers and WebSocket URLs carry the token only when there is one', () => {
  assert.deepEqual(authHeaders(null), {});
  assert.deepEqual(authHeaders('abc'), { Authorization: 'Bearer abc' });
  assert.equal(withAccessToken('ws://h/api/llm/ws', null), 'ws://h/api/llm/ws');
  assert.equal(withAccessToken('ws://h/api/llm/ws', 'a b&c'), 'ws://h/api/llm/ws?access_token=a%20b%26c');
  assert.equal(withAccessToken('ws://h/x?y=1', 't'), 'ws://h/x?y=1&access_token=t');
  const loc = { protocol: 'https:', host: 'hoist.lan:8443' };
  assert.equal(wsUrl(loc, null), 'wss://hoist.lan:8443/api/llm/ws');
  assert.equal(wsUrl(loc, 'tok'), 'wss://hoist.lan:8443/api/llm/ws?access_token=tok');
});

test('the token store uses the given storage and survives one that throws', () => {
  const storage = new FakeStorage();
  const store = new TokenStore(storage);
  assert.equal(store.get(), null);
  store.set('abc');
  assert.equal(storage.getItem('hoist.apiToken'), 'abc');
  assert.equal(store.get(), 'abc');
  store.clear();
  assert.equal(store.get(), null);
  const broken = { getItem() { throw new Error('denied'); }, setItem() { throw new Error('denied'); }, removeItem() { throw new Error('denied'); } };
  const fallback = new TokenStore(broken);
  fallback.set('mem');
  assert.equal(fallback.get(), 'mem');
  fallback.clear();
  assert.equal(fallback.get(), null);
  assert.equal(new TokenStore(null).get(), null); // node has no sessionStorage: memory
});

test('without a token on the server nothing is asked and no header is sent', async () => {
  const access = new Access({ store: new TokenStore(new FakeStorage()) });
  let asked = 0;
  access.prompt = async () => { asked++; return 'x'; };
  const sent = [];
  const request = makeRequest({ access, fetchImpl: async (path, init) => {
    sent.push(init.headers.Authorization || null);
    return new Response('{"a":1}', { status: 200 });
  } });
  assert.deepEqual(await request('POST', '/api/llm/load', {}), { a: 1 });
  assert.deepEqual(await request('GET', '/api/llm/progress'), { a: 1 });
  assert.deepEqual(sent, [null, null]);
  assert.equal(asked, 0);
});

test('a 401 asks once, a wrong token is refused and asked again, the right one is kept and sent on every request', async () => {
  const { request, access, asked, server, storage } = setup({ answers: ['wrong', 's3cret'] });
  const accepted = [];
  access.addEventListener('accepted', () => accepted.push(access.verified()));
  // Two requests refused at once share one question.
  const [a, b] = await Promise.all([request('GET', '/api/llm/models'), request('GET', '/api/llm/progress')]);
  assert.equal(a.path, '/api/llm/models');
  assert.equal(b.path, '/api/llm/progress');
  assert.deepEqual(asked, [{ refused: false }, { refused: true }]);
  assert.deepEqual(accepted, ['s3cret']);
  assert.equal(storage.getItem('hoist.apiToken'), 's3cret');
  // Neither token was stored while it was being checked; the wrong one never.
  assert.ok(server.seen.filter((r) => r.auth).every((r) => r.stored === null));
  server.seen.length = 0;
  await request('POST', '/api/llm/load', { model_name: 'demo-tiny' });
  assert.deepEqual(server.seen.map((r) => r.auth), ['Bearer s3cret']);
  assert.equal(asked.length, 2);
});

test('cancel gives a 401 ApiError; background reads then stop asking, user actions ask again', async () => {
  const { request, access, asked } = setup({ answers: [null, null] });
  await assert.rejects(request('GET', '/api/llm/progress'), (err) => err instanceof ApiError && err.status === 401
    && /API token/.test(err.message));
  assert.equal(asked.length, 1);
  assert.equal(access.dismissed, true);
  await assert.rejects(request('GET', '/api/llm/progress'), (err) => err.status === 401);
  assert.equal(asked.length, 1, 'a background read does not nag after Cancel');
  await assert.rejects(request('POST', '/api/llm/load', {}), (err) => err.status === 401);
  assert.equal(asked.length, 2, 'a user action asks again');
});

test('a stored token that the server refuses is dropped and asked for; forget() clears it', async () => {
  const { request, access, asked, storage } = setup({ stored: 'old', answers: ['s3cret'] });
  await request('GET', '/api/llm/progress');
  assert.deepEqual(asked, [{ refused: true }]);
  assert.equal(storage.getItem('hoist.apiToken'), 's3cret');
  access.forget();
  assert.equal(storage.getItem('hoist.apiToken'), null);
  assert.equal(access.token(), null);
});

test('with only mutations protected, reads send no question and a load asks', async () => {
  const { request, asked, server } = setup({ protectReads: false, answers: ['s3cret'] });
  await request('GET', '/api/llm/models');
  assert.equal(asked.length, 0);
  await request('POST', '/api/llm/load', {});
  assert.equal(asked.length, 1);
  assert.deepEqual(server.seen.map((r) => r.auth), [null, null, 'Bearer s3cret']);
});

test('a token checked against an unreachable server is not kept', async () => {
  const access = new Access({ store: new TokenStore(new FakeStorage()) });
  access.prompt = async () => 's3cret';
  let calls = 0;
  const events = [];
  access.addEventListener('unchecked', () => events.push('unchecked'));
  const request = makeRequest({ access, fetchImpl: async () => {
    calls++;
    if (calls === 1) return new Response('{}', { status: 401 });
    throw new TypeError('Failed to fetch');
  } });
  await assert.rejects(request('GET', '/api/llm/progress'), (err) => err.status === 0);
  assert.deepEqual(events, ['unchecked']);
  assert.equal(access.verified(), null);
  assert.equal(access.token(), null);
});
