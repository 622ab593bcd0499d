// The API token (HOIST_API_TOKEN) as the page holds it. No DOM here: api.js asks this module which
// token to send and tells it when the server refused or accepted one; the dialog (tokendialog.js)
// plugs in as `prompt`.
//
// Where the token lives: only in this tab's sessionStorage (gone when the tab closes), and only
// once the server has accepted it; a token being checked is held in memory. Never localStorage,
// never the URL bar, never the console.
//
// Events: "change" whenever the stored token or the need for one changes; "accepted" {token} when
// a token from the dialog worked; "unchecked" when the server could not be reached to check it.

const KEY = 'hoist.apiToken';

function defaultStorage() {
  try {
    return globalThis.sessionStorage || null;
  } catch {
    return null; // storage disabled: the token then lives in memory for this page only
  }
}

/** sessionStorage under one key, falling back to memory when storage is missing or refuses. */
export class TokenStore {
  constructor(storage = defaultStorage()) {
    this.storage = storage;
    this.memory = null;
  }

  get() {
    try {
      if (this.storage) return this.storage.getItem(KEY) || null;
    } catch {
      // fall through to memory
    }
    return this.memory;
  }

  set(token) {
    this.memory = token;
    try {
      if (this.storage) this.storage.setItem(KEY, token);
    } catch {
      // memory has it
    }
  }

  clear() {
    this.memory = null;
    try {
      if (this.storage) this.storage.removeItem(KEY);
    } catch {
      // nothing to clear
    }
  }
}

/** The request headers that carry a token: {Authorization: 'Bearer …'}, or none without one. */
export function authHeaders(token) {
  return token ? { Authorization: `Bearer ${token}` } : {};
}

/** A WebSocket URL with the token as access_token (browsers cannot set headers on a WebSocket). */
export function withAccessToken(url, token) {
  if (!token) return url;
  return `${url}${url.includes('?') ? '&' : '?'}access_token=${encodeURIComponent(token)}`;
}

export class Access extends EventTarget {
  constructor({ store = new TokenStore() } = {}) {
    super();
    this.store = store;
    /** ({refused}) → Promise<token | null>: set by the dialog; without one a 401 is simply an error. */
    this.prompt = null;
    this.asking = null;
    this.candidate = null; // from the dialog, not yet accepted by the server
    this.dismissed = false; // the user pressed Cancel: background reads do not ask again
    this.needed = false; // a request was refused for want of a token
  }

  /** The token to send on a request now: the one being checked, else the stored one. */
  token() {
    return this.candidate || this.store.get();
  }

  /** A token the server has accepted (for the WebSocket URL, which shows up in browser errors). */
  verified() {
    return this.store.get();
  }

  /**
   * A request sent with `sent` (null: none) was answered 401. Resolves to the token to send it
   * again with, or null to give up. Concurrent refusals share one question. `interactive` (a user's
   * action) asks even after the user cancelled the dialog; background reads then do not.
   */
  refused(sent, { interactive = false } = {}) {
    const wasNeeded = this.needed;
    this.needed = true;
    const current = this.token();
    if (current && current !== sent) return Promise.resolve(current); // a newer token arrived meanwhile
    if (sent) {
      if (this.candidate === sent) this.candidate = null;
      if (this.store.get() === sent) this.store.clear();
    }
    if (!wasNeeded || sent) this.changed();
    if (!this.prompt || (this.dismissed && !interactive && !this.asking)) return Promise.resolve(null);
    if (!this.asking) {
      this.asking = Promise.resolve()
        .then(() => this.prompt({ refused: !!sent }))
        .catch(() => null)
        .then((token) => {
          this.asking = null;
          const t = typeof token === 'string' ? token.trim() : '';
          this.candidate = t || null;
          this.dismissed = !t;
          this.changed();
          return this.candidate;
        });
    }
    return this.asking;
  }

  /** A request sent again with `token` got past the token check: keep it for this tab. */
  accepted(token) {
    if (!token || token !== this.candidate) return;
    this.candidate = null;
    this.store.set(token);
    this.dismissed = false;
    this.changed();
    this.dispatchEvent(new CustomEvent('accepted'));
  }

  /** A request sent again with `token` did not reach the server: the token is not kept. */
  unreachable(token) {
    if (!token || token !== this.candidate) return;
    this.candidate = null;
    this.changed();
    this.dispatchEvent(new CustomEvent('unchecked'));
  }

  /** Lets background reads ask again (after a Cancel). */
  allowAsking() {
    this.dismissed = false;
  }

  /** "Forget token": drops it from this tab; the next refused request asks again. */
  forget() {
    this.candidate = null;
    this.store.clear();
    this.dismissed = false;
    this.changed();
  }

  changed() {
    this.dispatchEvent(new CustomEvent('change'));
  }
}
