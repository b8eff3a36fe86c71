// The API of emotune serve (its OpenAPI document: /api/v1/openapi.json),
// for one listener, with the server's token when it has one.

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

const SETTINGS = { listener: 'emotune.listener', token: 'emotune.token' };

export function stored(key, fallback) {
  try {
    return localStorage.getItem(key) ?? fallback;
  } catch {
    return fallback; // storage refused (private mode): this visit only
  }
}

export function store(key, value) {
  try {
    if (value) localStorage.setItem(key, value);
    else localStorage.removeItem(key);
  } catch {
    // kept for this visit only
  }
}

export const NAME_RULE = /^[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}$/;

export class Api {
  constructor() {
    this.listener = stored(SETTINGS.listener, 'default');
    if (!NAME_RULE.test(this.listener)) this.listener = 'default';
    this.token = stored(SETTINGS.token, '');
    this.onUnauthorised = () => {};
  }

  setListener(name) {
    this.listener = name;
    store(SETTINGS.listener, name);
  }

  setToken(token) {
    this.token = token;
    store(SETTINGS.token, token);
  }

  headers(extra = {}) {
    return this.token ? { ...extra, Authorization: `Bearer ${this.token}` } : extra;
  }

  // The listener's own path: /api/v1/listeners/NAME/rest.
  mine(rest) {
    return `/api/v1/listeners/${encodeURIComponent(this.listener)}/${rest}`;
  }

  // A request; the reply's JSON, or an ApiError with the server's code and
  // message (status 0: the server could not be reached).
  async call(method, path, { json, body, type, signal } = {}) {
    const init = { method, headers: this.headers(), signal, cache: 'no-store' };
    if (json !== undefined) {
      init.body = JSON.stringify(json);
      init.headers['Content-Type'] = 'application/json';
    } else if (body !== undefined) {
      init.body = body;
      if (type) init.headers['Content-Type'] = type;
    }
    let reply;
    try {
      reply = await fetch(path, init);
    } catch (e) {
      if (e.name === 'AbortError') throw e;
      throw new ApiError(0, 'unreachable', 'the emotune server cannot be reached');
    }
    const text = await reply.text();
    let doc = null;
    try {
      doc = text ? JSON.parse(text) : null;
    } catch {
      doc = null;
    }
    if (!reply.ok) {
      const err = doc && doc.error ? doc.error : {};
      const e = new ApiError(reply.status, err.code || 'http_' + reply.status,
                             err.message || `the server answered ${reply.status}`);
      e.retryAfter = Number(reply.headers.get('Retry-After')) || 0;
      if (reply.status === 401) this.onUnauthorised(e);
      throw e;
    }
    return doc;
  }

  get(path, opts) { return this.call('GET', path, opts); }
  put(path, json) { return this.call('PUT', path, { json }); }
  post(path, json) { return this.call('POST', path, { json }); }
  del(path) { return this.call('DELETE', path); }
}
