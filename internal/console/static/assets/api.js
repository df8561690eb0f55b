// The REST client: every call to /customer goes through api(), which adds
// the bearer token and turns error bodies into ApiError.

const TOKEN_KEY = 'db9.token';

/** session keeps the API token in sessionStorage: it lives as long as the tab. */
export const session = {
  get token() {
    try {
      return sessionStorage.getItem(TOKEN_KEY) || '';
    } catch {
      return '';
    }
  },
  set(token) {
    sessionStorage.setItem(TOKEN_KEY, token);
  },
  clear() {
    try {
      sessionStorage.removeItem(TOKEN_KEY);
      sessionStorage.clear();
    } catch {
      // storage disabled: nothing kept, nothing to clear
    }
  },
};

/** ApiError is a non-2xx answer of the API. */
export class ApiError extends Error {
  constructor(status, code, message) {
    super(message || `HTTP ${status}`);
    this.name = 'ApiError';
    this.status = status;
    this.code = code || '';
  }

  /**
   * unavailable: the server does not offer this endpoint (yet). db9's
   * router answers a route it lacks with 404 "no such endpoint" (or 405
   * when another method exists); a handler that is not wired answers 501.
   */
  get unavailable() {
    if (this.status === 501 || this.status === 405) return true;
    return this.status === 404 && (this.code === '' || this.message.startsWith('no such endpoint'));
  }
}

let onUnauthorized = () => {};
/** setUnauthorizedHandler registers what happens when the token stops working. */
export function setUnauthorizedHandler(fn) {
  onUnauthorized = fn;
}

/**
 * api calls the REST API. body: undefined (none), an object (JSON).
 * opts.auth=false sends no token; opts.trying: a 401 is the caller's to
 * handle (a token being tried at sign-in); opts.signal aborts.
 */
export async function api(method, path, body, opts = {}) {
  const headers = { Accept: 'application/json' };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  if (opts.auth !== false && session.token) headers.Authorization = `Bearer ${session.token}`;
  let resp;
  try {
    resp = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: opts.signal,
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch (e) {
    if (e.name === 'AbortError') throw e;
    throw new ApiError(0, 'network', `could not reach the server: ${e.message}`);
  }
  const text = await resp.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = null;
    }
  }
  if (!resp.ok) {
    const err = new ApiError(resp.status, data && data.code, (data && data.message) || text.trim() || resp.statusText);
    if (resp.status === 401 && opts.auth !== false && !opts.trying) onUnauthorized(err);
    throw err;
  }
  return data;
}

/** dbPath is the API path of a database (or below it). */
export function dbPath(id, rest = '') {
  return `/customer/databases/${encodeURIComponent(id)}${rest}`;
}
