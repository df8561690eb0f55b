// A client of fs9's WebSocket protocol (FS9.md): JSON requests matched by
// id, binary frames [8-byte big-endian stream id][bytes] for streaming
// reads and writes of large files.

const STREAM_AT = 1 << 20; // files this large are written as a stream
const TIMEOUT_MS = 60000;

export class FS9Error extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.name = 'FS9Error';
    this.code = code;
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

function concat(chunks, size) {
  const out = new Uint8Array(size ?? chunks.reduce((n, c) => n + c.length, 0));
  let off = 0;
  for (const c of chunks) {
    out.set(c.subarray(0, Math.min(c.length, out.length - off)), off);
    off += c.length;
  }
  return out;
}

async function sha256Hex(bytes) {
  // crypto.subtle exists only in secure contexts (https or localhost).
  if (!globalThis.crypto || !crypto.subtle) return null;
  const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/** wsURL is the /fs9 endpoint on the page's own origin. */
export function wsURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/fs9`;
}

export class FS9 {
  constructor(ws) {
    this.ws = ws;
    this.seq = 0;
    this.pending = new Map(); // id → {resolve, reject, onMessage?}
    this.streams = new Map(); // stream id (string) → chunk sink
    this.closed = null;
    ws.binaryType = 'arraybuffer';
    ws.addEventListener('message', (e) => this.onMessage(e));
    ws.addEventListener('close', (e) => this.fail(new FS9Error('ECLOSED', e.reason || `connection closed (${e.code})`)));
  }

  /** connect opens the socket and authenticates with a fs-connect answer. */
  static connect({ username, token }) {
    return new Promise((resolve, reject) => {
      let ws;
      try {
        ws = new WebSocket(wsURL());
      } catch (e) {
        reject(new FS9Error('ECONNECT', e.message));
        return;
      }
      const onErr = () => reject(new FS9Error('ECONNECT', 'the file service is not reachable on this server'));
      ws.addEventListener('error', onErr, { once: true });
      ws.addEventListener('open', async () => {
        ws.removeEventListener('error', onErr);
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

  close() {
    if (this.ws.readyState <= 1) this.ws.close(1000, 'done');
  }

  fail(err) {
    this.closed = err;
    for (const p of this.pending.values()) p.reject(err);
    this.pending.clear();
    this.streams.clear();
  }

  onMessage(e) {
    if (typeof e.data !== 'string') {
      const buf = new Uint8Array(e.data);
      if (buf.length < 8) return;
      const sid = new DataView(e.data).getBigUint64(0).toString();
      const sink = this.streams.get(sid);
      if (sink) sink(buf.subarray(8));
      return;
    }
    let msg;
    try {
      msg = JSON.parse(e.data);
    } catch {
      return;
    }
    if (msg.push) return; // watch events: not used by the browser
    const p = this.pending.get(msg.id);
    if (!p) return;
    if (p.onMessage && p.onMessage(msg)) return;
    this.pending.delete(msg.id);
    if (msg.ok) p.resolve(msg.data || {});
    else p.reject(new FS9Error(msg.error?.code || 'EIO', msg.error?.message || 'request failed'));
  }

  send(obj) {
    if (this.closed) throw this.closed;
    this.ws.send(JSON.stringify(obj));
  }

  /** request sends one op and resolves with its data. */
  request(op, args = {}, onMessage) {
    return new Promise((resolve, reject) => {
      this.seq += 1;
      const id = `c${this.seq}`;
      const timer = setTimeout(() => {
        if (this.pending.delete(id)) reject(new FS9Error('ETIMEDOUT', `${op} took too long`));
      }, TIMEOUT_MS);
      const done = (fn) => (v) => { clearTimeout(timer); fn(v); };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject), onMessage: onMessage && ((m) => onMessage(m, id)) });
      try {
        this.send({ id, op, ...args });
      } catch (e) {
        this.pending.delete(id);
        clearTimeout(timer);
        reject(e);
      }
    });
  }

  readdir(path) {
    return this.request('readdir', { path });
  }

  /** readFile returns a file's bytes, inline or streamed. */
  readFile(path) {
    let chunks = null;
    let sid = null;
    let size = 0;
    return new Promise((resolve, reject) => {
      this.request('read', { path }, (msg) => {
        if (!msg.ok) return false;
        const d = msg.data || {};
        if (d.streaming) {
          sid = String(d.stream_id);
          size = d.size;
          chunks = [];
          this.streams.set(sid, (c) => chunks.push(c.slice()));
          return true;
        }
        if (d.stream === 'end' && chunks) {
          this.streams.delete(sid);
          const bytes = concat(chunks);
          if (bytes.length !== size) {
            this.pending.get(msg.id)?.reject(new FS9Error('EIO', `got ${bytes.length} of ${size} bytes`));
            this.pending.delete(msg.id);
            return true;
          }
          this.pending.get(msg.id)?.resolve({ bytes, checksum: d.checksum });
          this.pending.delete(msg.id);
          return true;
        }
        return false;
      }).then(async (r) => {
        if (r.bytes) {
          const want = (r.checksum || '').replace(/^sha256:/, '');
          const got = want ? await sha256Hex(r.bytes) : null;
          if (got && got !== want) throw new FS9Error('EIO', 'checksum mismatch');
          return r.bytes;
        }
        return b64decode(r.content);
      }).then(resolve, reject);
    });
  }

  /** writeFile writes bytes to path, streaming large files. */
  async writeFile(path, bytes) {
    if (bytes.length < STREAM_AT) {
      return this.request('write', { path, content: b64encode(bytes), encoding: 'base64' });
    }
    let ready;
    const readyP = new Promise((res) => { ready = res; });
    const result = this.request('write', { path, streaming: true, size: bytes.length }, (msg) => {
      const r = msg.ready ? msg : msg.data && msg.data.ready ? msg.data : null;
      if (r) {
        ready({ id: msg.id, sid: r.stream_id, chunk: r.chunk_size || 65536 });
        return true;
      }
      return false;
    });
    const { id, sid, chunk } = await Promise.race([readyP, result.then(() => { throw new FS9Error('EPROTO', 'no stream offered'); })]);
    for (let off = 0; off < bytes.length; off += chunk) {
      const part = bytes.subarray(off, Math.min(off + chunk, bytes.length));
      const frame = new Uint8Array(8 + part.length);
      new DataView(frame.buffer).setBigUint64(0, BigInt(sid));
      frame.set(part, 8);
      this.ws.send(frame);
    }
    const sum = await sha256Hex(bytes);
    this.send({ id, stream: 'end', stream_id: sid, ...(sum ? { checksum: `sha256:${sum}` } : {}) });
    return result;
  }

  mkdir(path) {
    return this.request('mkdir', { path, recursive: true });
  }

  rm(path, recursive) {
    return this.request('rm', { path, recursive: !!recursive });
  }
}
