// A client of fs9's WebSocket protocol (FS9.md): JSON requests matched by
// id, binary frames [8-byte big-endian stream id][bytes] for streamed reads
// and writes. Every read is streamed, so every download is checked against
// the server's sha256; files of 1 MiB or more are written as a stream
// (a JSON frame is limited to 2 MiB, base64 included).

import { sha256Hex as sha256Fallback } from './sha256.js';

const STREAM_AT = 1 << 20;
const FRAME_BYTES = 256 << 10; // upload frames: any size is allowed, fewer cost less
const HIGH_WATER = 4 << 20; // bytes queued in the socket before an upload waits
const IDLE_MS = 60000; // a request fails after this long without a frame of its own

// What each code means, for messages a person reads.
const MEANING = {
  ENOENT: 'No such file or folder',
  EISDIR: 'That is a folder',
  ENOTDIR: 'Not a folder',
  EEXIST: 'Already exists',
  ENOTEMPTY: 'The folder is not empty',
  EACCES: 'Permission denied',
  EFBIG: 'Too large',
  EAGAIN: 'Busy, try again',
  EAUTH: 'The file service refused the credentials',
  EINVAL: 'Invalid request',
  EPROTO: 'Protocol error',
  ENOSYS: 'Not supported',
  EIO: 'Input/output error',
  ETIMEDOUT: 'No answer from the file service',
  ECLOSED: 'The connection to the file service closed',
  ECONNECT: 'Could not connect to the file service',
};

/** FS9Error is a refusal of the server or a failure of the connection. */
export class FS9Error extends Error {
  constructor(code, detail) {
    const meaning = MEANING[code] || code;
    super(detail ? `${meaning}: ${detail} (${code})` : `${meaning} (${code})`);
    this.name = 'FS9Error';
    this.code = code;
    this.detail = detail || '';
  }
}

function b64encode(bytes) {
  let s = '';
  for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(s);
}

function b64decode(str) {
  const bin = atob(str || '');
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i += 1) out[i] = bin.charCodeAt(i);
  return out;
}

function concat(chunks) {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** sha256Hex hashes with WebCrypto where the page may use it, else in JS. */
export async function sha256Hex(bytes) {
  if (globalThis.crypto && crypto.subtle) {
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
  }
  return sha256Fallback(bytes);
}

const sleep = (ms) => new Promise((r) => { setTimeout(r, ms); });

/** wsURL is the /fs9 endpoint on the page's own origin (the CSP allows no other). */
export function wsURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/fs9`;
}

export class FS9 {
  constructor(ws) {
    this.ws = ws;
    this.seq = 0;
    this.pending = new Map(); // request id → {resolve, reject, touch, onMessage?}
    this.streams = new Map(); // stream id (string) → request id of a streamed read
    this.closed = null;
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('message', (e) => this.onMessage(e));
    ws.addEventListener('close', (e) => this.fail(new FS9Error('ECLOSED', closeReason(e))));
  }

  /**
   * connect opens the socket and authenticates with a fs-connect answer
   * ({username: "<db>.<role>", token}); the answer's ws_url names the fs9
   * port, which the console's CSP forbids, so the page's own origin is used.
   */
  static connect({ username, token }) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(wsURL());
      } catch (e) {
        reject(new FS9Error('ECONNECT', e.message));
        return;
      }
      const onClose = (e) => reject(new FS9Error('ECONNECT', closeReason(e)));
      ws.addEventListener('close', onClose, { once: true });
      ws.addEventListener('open', async () => {
        ws.removeEventListener('close', onClose);
        const c = new FS9(ws);
        try {
          await c.request('auth', { username, password: token });
          resolve(c);
        } catch (e) {
          c.close();
          reject(e);
        }
      }, { once: true });
    });
  }

  get usable() {
    return !this.closed && this.ws.readyState === WebSocket.OPEN;
  }

  close() {
    if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000, 'done');
  }

  fail(err) {
    this.closed = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.streams.clear();
  }

  onMessage(e) {
    if (typeof e.data !== 'string') {
      if (e.data.byteLength < 8) return;
      const sid = new DataView(e.data).getBigUint64(0).toString();
      const p = this.pending.get(this.streams.get(sid));
      if (p && p.onChunk) {
        p.touch();
        p.onChunk(new Uint8Array(e.data, 8));
      }
      return;
    }
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    if (msg.push) return; // watch events: the console does not subscribe
    const p = this.pending.get(msg.id);
    if (!p) return;
    p.touch();
    if (!msg.ok) {
      p.reject(new FS9Error(msg.error?.code || 'EIO', msg.error?.message || 'request failed'));
      return;
    }
    // A streamed read or write answers more than once: its handler
    // consumes the intermediate answers.
    if (p.onMessage && p.onMessage(msg.data || {})) return;
    p.resolve(msg.data || {});
  }

  send(obj) {
    if (this.closed) throw this.closed;
    this.ws.send(JSON.stringify(obj));
  }

  /**
   * request sends one op and resolves with its data. hooks.onMessage sees
   * every successful answer first and returns true to wait for more;
   * hooks.onChunk receives a streamed read's bytes. The request fails when
   * IDLE_MS pass without a frame of its own (or, uploading, a frame sent).
   */
  request(op, args = {}, hooks = {}) {
    let id;
    const promise = new Promise((resolve, reject) => {
      this.seq += 1;
      id = `c${this.seq}`;
      let timer;
      const touch = () => {
        clearTimeout(timer);
        timer = setTimeout(() => entry.reject(new FS9Error('ETIMEDOUT', `${op} got no answer for ${IDLE_MS / 1000} s`)), IDLE_MS);
      };
      const end = (fn) => (v) => {
        clearTimeout(timer);
        if (this.pending.get(id) !== entry) return;
        this.pending.delete(id);
        for (const [sid, rid] of this.streams) if (rid === id) this.streams.delete(sid);
        fn(v);
      };
      const entry = { resolve: end(resolve), reject: end(reject), touch, onMessage: hooks.onMessage, onChunk: hooks.onChunk };
      this.pending.set(id, entry);
      touch();
      try {
        this.send({ id, op, ...args });
      } catch (e) {
        entry.reject(e);
      }
    });
    promise.id = id;
    return promise;
  }

  readdir(path) {
    return this.request('readdir', { path });
  }

  stat(path) {
    return this.request('stat', { path });
  }

  /**
   * readFile returns a file's bytes, always streamed and checked against
   * the server's checksum. onProgress(done, total) follows the stream.
   */
  async readFile(path, onProgress) {
    const chunks = [];
    let got = 0;
    let size = 0;
    const req = this.request('read', { path, streaming: true }, {
      onMessage: (d) => {
        if (d.streaming) {
          size = d.size;
          this.streams.set(String(d.stream_id), req.id);
          if (onProgress) onProgress(0, size);
          return true;
        }
        return false; // the end, or an inline answer
      },
      onChunk: (c) => {
        chunks.push(c);
        got += c.length;
        if (onProgress) onProgress(got, size);
      },
    });
    const d = await req;
    if (d.stream !== 'end') return b64decode(d.content);
    const bytes = concat(chunks);
    if (bytes.length !== size) throw new FS9Error('EIO', `received ${bytes.length} of ${size} bytes`);
    const want = String(d.checksum || '').replace(/^sha256:/, '');
    if (!want) throw new FS9Error('EPROTO', 'the stream ended without a checksum');
    if (await sha256Hex(bytes) !== want) throw new FS9Error('EIO', 'the bytes received do not match the checksum');
    return bytes;
  }

  /**
   * writeFile writes bytes to path: inline below 1 MiB, else as a stream
   * that the server commits whole at its end or not at all.
   * onProgress(done, total) follows a streamed upload.
   */
  async writeFile(path, bytes, onProgress) {
    if (bytes.length < STREAM_AT) {
      const d = await this.request('write', { path, content: b64encode(bytes), encoding: 'base64' });
      if (onProgress) onProgress(bytes.length, bytes.length);
      return d;
    }
    let ready;
    const readyP = new Promise((res) => { ready = res; });
    const req = this.request('write', { path, streaming: true, size: bytes.length }, {
      onMessage: (d) => {
        if (d.ready) {
          ready(d);
          return true;
        }
        return false;
      },
    });
    let failed = null;
    const over = req.then(
      () => { failed = new FS9Error('EPROTO', 'the server offered no stream'); throw failed; },
      (e) => { failed = e; throw e; });
    const r = await Promise.race([readyP, over]);
    const sumP = sha256Hex(bytes);
    for (let off = 0; off < bytes.length && !failed; off += FRAME_BYTES) {
      // WebSocket.send never blocks: wait while the socket holds much,
      // so progress is real and memory stays bounded.
      while (this.ws.bufferedAmount > HIGH_WATER && !failed && !this.closed) await sleep(10);
      if (this.closed) break;
      const part = bytes.subarray(off, Math.min(off + FRAME_BYTES, bytes.length));
      const frame = new Uint8Array(8 + part.length);
      new DataView(frame.buffer).setBigUint64(0, BigInt(r.stream_id));
      frame.set(part, 8);
      this.ws.send(frame);
      this.pending.get(req.id)?.touch();
      if (onProgress) onProgress(off + part.length, bytes.length);
    }
    if (!failed && !this.closed) {
      this.send({ id: req.id, stream: 'end', stream_id: r.stream_id, checksum: `sha256:${await sumP}` });
    }
    return req;
  }

  /** mkdir makes one folder; an existing one is EEXIST. */
  mkdir(path) {
    return this.request('mkdir', { path, recursive: false });
  }

  rm(path, recursive) {
    return this.request('rm', { path, recursive: !!recursive });
  }
}

function closeReason(e) {
  if (e.reason) return `${e.reason} (close code ${e.code})`;
  if (e.code === 1006) return 'the connection was cut (is /fs9 served by this server?)';
  return `close code ${e.code}`;
}
