// The Web APIs of the function runtime that are easiest to write in
// JavaScript, over the natives the Go side passes in. Runs once per VM.
(function (native, global) {
  'use strict';

  function view(x) {
    if (x instanceof ArrayBuffer) return new Uint8Array(x);
    if (ArrayBuffer.isView(x)) return new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    throw new TypeError('expected a string, Buffer, Uint8Array or ArrayBuffer');
  }
  function toBuffer(x) { // an ArrayBuffer holding exactly the bytes of x
    const u8 = typeof x === 'string' ? new Uint8Array(native.utf8Encode(x)) : view(x);
    return u8.buffer.slice(u8.byteOffset, u8.byteOffset + u8.byteLength);
  }

  class TextEncoder {
    get encoding() { return 'utf-8'; }
    encode(s) { return new Uint8Array(native.utf8Encode(s === undefined ? '' : String(s))); }
  }
  class TextDecoder {
    constructor(label, opts) {
      const l = String(label === undefined ? 'utf-8' : label).toLowerCase();
      if (l !== 'utf-8' && l !== 'utf8') throw new RangeError('TextDecoder supports utf-8 only');
      this.fatal = !!(opts && opts.fatal);
    }
    get encoding() { return 'utf-8'; }
    decode(x) { return x === undefined ? '' : native.utf8Decode(toBuffer(x), this.fatal); }
  }

  class Headers {
    constructor(init) {
      this._m = new Map();
      if (init === undefined || init === null) return;
      if (init instanceof Headers || typeof init[Symbol.iterator] === 'function') {
        for (const [k, v] of init) this.append(k, v);
      } else {
        for (const k of Object.keys(init)) this.append(k, init[k]);
      }
    }
    append(k, v) {
      k = String(k).toLowerCase(); v = String(v);
      const old = this._m.get(k);
      this._m.set(k, old === undefined ? v : old + ', ' + v);
    }
    set(k, v) { this._m.set(String(k).toLowerCase(), String(v)); }
    get(k) { const v = this._m.get(String(k).toLowerCase()); return v === undefined ? null : v; }
    has(k) { return this._m.has(String(k).toLowerCase()); }
    delete(k) { this._m.delete(String(k).toLowerCase()); }
    forEach(f, self) { for (const [k, v] of this._m) f.call(self, v, k, this); }
    entries() { return this._m.entries(); }
    keys() { return this._m.keys(); }
    values() { return this._m.values(); }
    [Symbol.iterator]() { return this._m.entries(); }
  }

  class Response {
    constructor(body, init) {
      init = init || {};
      this._body = body === undefined || body === null ? new ArrayBuffer(0) : toBuffer(body);
      this._used = false;
      this.status = init.status === undefined ? 200 : init.status;
      this.statusText = init.statusText || '';
      this.headers = new Headers(init.headers);
      this.url = init.url || '';
      this.redirected = !!init.redirected;
    }
    get ok() { return this.status >= 200 && this.status < 300; }
    get bodyUsed() { return this._used; }
    _take() {
      if (this._used) throw new TypeError('body has already been used');
      this._used = true;
      return this._body;
    }
    async arrayBuffer() { return this._take(); }
    async bytes() { return new Uint8Array(this._take()); }
    async text() { return native.utf8Decode(this._take(), false); }
    async json() { return JSON.parse(await this.text()); }
  }

  function call(op, args) {
    return native.call(op, JSON.stringify(args)).then(JSON.parse);
  }

  async function fetch(input, init) {
    init = init || {};
    const url = String(input && typeof input === 'object' && 'url' in input ? input.url : input);
    const method = String(init.method || 'GET').toUpperCase();
    const headers = new Headers(init.headers);
    let body;
    if (init.body !== undefined && init.body !== null) {
      if (typeof init.body === 'string') {
        body = init.body;
        if (!headers.has('content-type')) headers.set('content-type', 'text/plain;charset=UTF-8');
      } else if (typeof URLSearchParams !== 'undefined' && init.body instanceof URLSearchParams) {
        body = init.body.toString();
        if (!headers.has('content-type')) headers.set('content-type', 'application/x-www-form-urlencoded;charset=UTF-8');
      } else {
        body = toBuffer(init.body);
      }
    }
    const res = await call('fetch', {
      method, url, headers: Array.from(headers),
      body_base64: body === undefined ? undefined : native.base64Encode(toBuffer(body)),
      redirect: init.redirect || 'follow',
    });
    return new Response(native.base64Decode(res.body_base64 || ''), {
      status: res.status, statusText: res.status_text, headers: res.headers, url: res.url, redirected: res.redirected,
    });
  }

  // db and fs9 hold no state of a run (call goes to the current one):
  // made once per worker, not per invoke.
  const db = Object.freeze({
    async query(sql, params) {
      if (typeof sql !== 'string') throw new TypeError('ctx.db.query: sql must be a string');
      if (params !== undefined && params !== null && !Array.isArray(params)) throw new TypeError('ctx.db.query: params must be an array');
      return call('db.query', { sql, params: params || undefined });
    },
  });
  const fs9 = Object.freeze({
    async read(path) { return native.utf8Decode(native.base64Decode((await call('fs9.read', { path })).content_base64), false); },
    async readBase64(path) { return (await call('fs9.read', { path })).content_base64; },
    async write(path, data) {
      return (await call('fs9.write', { path, content_base64: native.base64Encode(toBuffer(data)) })).written;
    },
    async list(path) { return (await call('fs9.list', { path })).entries; },
    async exists(path) { return (await call('fs9.exists', { path })).exists; },
    async remove(path, opts) { return (await call('fs9.remove', { path, recursive: !!(opts && opts.recursive) })).removed; },
  });

  // One ctx per worker: self and secrets read the run in progress.
  function makeCtx() {
    const self = Object.freeze({
      get functionId() { return native.self(0); },
      get versionId() { return native.self(1); },
      get runId() { return native.self(2); },
      get triggerType() { return native.self(3); },
    });
    const secrets = Object.freeze({ get(name) { return native.secret(String(name)); } });
    return Object.freeze({ db, fs9, secrets, self });
  }

  global.TextEncoder = TextEncoder;
  global.TextDecoder = TextDecoder;
  global.Headers = Headers;
  global.Response = Response;
  global.fetch = fetch;
  global.atob = (s) => native.atob(String(s));
  global.btoa = (s) => native.btoa(String(s));
  global.crypto = Object.freeze({
    randomUUID: () => native.randomUUID(),
    getRandomValues(a) {
      if (!ArrayBuffer.isView(a) || a instanceof Float32Array || a instanceof Float64Array) throw new TypeError('getRandomValues: an integer typed array is required');
      if (a.byteLength > 65536) throw new RangeError('getRandomValues: at most 65536 bytes');
      new Uint8Array(a.buffer, a.byteOffset, a.byteLength).set(new Uint8Array(native.randomBytes(a.byteLength)));
      return a;
    },
  });
  return { makeCtx };
})
