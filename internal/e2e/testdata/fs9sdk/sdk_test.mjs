// Drives fs9's WebSocket protocol (shared/FS9.md) the way DB9's TypeScript
// SDK does: the `ws` package (Node 20 has no global WebSocket), the fs9
// listener at path /, auth as "<db id>.admin" with the admin password from
// /credentials. Run by internal/e2e/fs9_node_test.go with FS9_URL,
// FS9_USER and FS9_PASSWORD; prints "ok" and exits 0, or throws (exit 1).
import { createHash, randomBytes } from "node:crypto";
import assert from "node:assert/strict";
import WebSocket from "ws";

const url = process.env.FS9_URL;
const user = process.env.FS9_USER;
const password = process.env.FS9_PASSWORD;
if (!url || !user || !password) throw new Error("FS9_URL, FS9_USER and FS9_PASSWORD are required");

class FsError extends Error {
  constructor(code, message) {
    super(`${code}: ${message}`);
    this.code = code;
  }
}

// A minimal client: requests matched to answers by id, several in flight;
// binary frames routed to a streamed read by their 8-byte stream id.
class Fs9 {
  constructor(ws) {
    this.ws = ws;
    this.seq = 0;
    this.pending = new Map(); // id -> handler(msg)
    this.streams = new Map(); // stream id (string) -> handler(Buffer)
    ws.on("message", (data, isBinary) => {
      if (isBinary) {
        const sid = data.readBigUInt64BE(0).toString();
        const h = this.streams.get(sid);
        if (!h) throw new Error(`binary frame for unknown stream ${sid}`);
        h(data.subarray(8));
        return;
      }
      const msg = JSON.parse(data.toString("utf8"));
      const h = this.pending.get(msg.id);
      if (!h) throw new Error(`answer for unknown id: ${data}`);
      h(msg);
    });
    ws.on("close", () => {
      for (const h of this.pending.values()) h({ ok: false, error: { code: "ECLOSED", message: "connection closed" } });
      this.pending.clear();
    });
  }

  static async connect(url, username, password) {
    const ws = new WebSocket(url);
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const c = new Fs9(ws);
    const info = await c.call("auth", { username, password });
    return { client: c, info };
  }

  nextID() {
    return `r${++this.seq}`;
  }

  // send registers a handler for every answer carrying id.
  send(id, obj, handler) {
    this.pending.set(id, handler);
    this.ws.send(JSON.stringify({ id, ...obj }));
  }

  call(op, args = {}) {
    const id = this.nextID();
    return new Promise((resolve, reject) => {
      this.send(id, { op, ...args }, (msg) => {
        this.pending.delete(id);
        if (msg.ok) resolve(msg.data);
        else reject(new FsError(msg.error.code, msg.error.message));
      });
    });
  }

  async writeFile(path, buf) {
    const d = await this.call("write", { path, content: buf.toString("base64"), encoding: "base64" });
    return d.written;
  }

  // readFile reads a small file inline or follows a stream the server
  // chooses (files of 1 MiB or more).
  readFile(path, streaming = false) {
    const id = this.nextID();
    return new Promise((resolve, reject) => {
      const chunks = [];
      let sid = null;
      let started = null;
      const fail = (e) => {
        this.pending.delete(id);
        if (sid !== null) this.streams.delete(sid);
        reject(e);
      };
      this.send(id, { op: "read", path, ...(streaming ? { streaming: true } : {}) }, (msg) => {
        if (!msg.ok) return fail(new FsError(msg.error.code, msg.error.message));
        const d = msg.data;
        if (sid === null && d.streaming) {
          sid = String(d.stream_id);
          started = d;
          this.streams.set(sid, (b) => chunks.push(Buffer.from(b)));
          return;
        }
        if (sid === null) {
          this.pending.delete(id);
          assert.equal(d.encoding, "base64");
          return resolve({ content: Buffer.from(d.content, "base64"), streamed: false });
        }
        if (d.stream !== "end" || String(d.stream_id) !== sid) {
          return fail(new Error(`unexpected frame during stream ${sid}: ${JSON.stringify(msg)}`));
        }
        this.pending.delete(id);
        this.streams.delete(sid);
        const content = Buffer.concat(chunks);
        const sum = "sha256:" + createHash("sha256").update(content).digest("hex");
        if (d.checksum !== sum) return fail(new Error(`checksum ${d.checksum}, computed ${sum}`));
        if (content.length !== started.size) return fail(new Error(`got ${content.length} bytes, announced ${started.size}`));
        resolve({ content, streamed: true, chunkSize: started.chunk_size, checksum: d.checksum });
      });
    });
  }

  // writeStream uploads buf as binary frames of chunkSize bytes after the
  // server's "ready", then ends with the SHA-256 of what was sent.
  writeStream(path, buf, chunkSize = 256 << 10) {
    const id = this.nextID();
    return new Promise((resolve, reject) => {
      let ready = null;
      this.send(id, { op: "write", path, streaming: true, size: buf.length }, (msg) => {
        if (!msg.ok) {
          this.pending.delete(id);
          return reject(new FsError(msg.error.code, msg.error.message));
        }
        const d = msg.data;
        if (ready === null) {
          if (!d.ready) {
            this.pending.delete(id);
            return reject(new Error(`want ready, got ${JSON.stringify(msg)}`));
          }
          ready = d;
          const sid = BigInt(d.stream_id);
          for (let off = 0; off < buf.length; off += chunkSize) {
            const part = buf.subarray(off, Math.min(off + chunkSize, buf.length));
            const frame = Buffer.allocUnsafe(8 + part.length);
            frame.writeBigUInt64BE(sid, 0);
            part.copy(frame, 8);
            this.ws.send(frame, { binary: true });
          }
          const checksum = "sha256:" + createHash("sha256").update(buf).digest("hex");
          this.ws.send(JSON.stringify({ id, stream: "end", stream_id: d.stream_id, checksum }));
          return;
        }
        this.pending.delete(id);
        resolve({ written: d.written, chunkSize: ready.chunk_size });
      });
    });
  }

  // exists is stat with ENOENT meaning false, as the SDK does it.
  async exists(path) {
    try {
      await this.call("stat", { path });
      return true;
    } catch (e) {
      if (e.code === "ENOENT") return false;
      throw e;
    }
  }

  close() {
    this.ws.close();
  }
}

async function rejects(p, code, what) {
  try {
    await p;
  } catch (e) {
    assert.equal(e.code, code, `${what}: ${e.message}`);
    return;
  }
  assert.fail(`${what}: succeeded, want ${code}`);
}

const { client: fs, info } = await Fs9.connect(url, user, password);
assert.equal(info.user, "admin");
assert.equal(`${info.tenant}.admin`, user);
assert.ok(info.capabilities.includes("batch_write_atomic"), JSON.stringify(info));

// write / read, binary bytes included.
const small = Buffer.from([0x00, 0xff, 0x10, 0x80, ...Buffer.from("hello from node\n")]);
assert.equal(await fs.writeFile("/sdk/notes/hello.bin", small), small.length);
const back = await fs.readFile("/sdk/notes/hello.bin");
assert.equal(back.streamed, false);
assert.ok(back.content.equals(small), `read back ${back.content.toString("hex")}`);

// stat
const st = await fs.call("stat", { path: "/sdk/notes/hello.bin" });
assert.equal(st.type, "file");
assert.equal(st.size, small.length);
assert.equal(st.path, "/sdk/notes/hello.bin");
assert.equal(st.mode, 0o644);
assert.match(st.mtime, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
const gen = st.generation;
await fs.writeFile("/sdk/notes/hello.bin", Buffer.from("v2"));
const st2 = await fs.call("stat", { path: "/sdk/notes/hello.bin" });
assert.ok(st2.generation > gen, `generation ${gen} -> ${st2.generation}`);
assert.equal(st2.size, 2);

// exists: stat, ENOENT -> false.
assert.equal(await fs.exists("/sdk/notes/hello.bin"), true);
assert.equal(await fs.exists("/sdk/notes/missing.txt"), false);
await rejects(fs.call("stat", { path: "/sdk/nope" }), "ENOENT", "stat of a missing path");

// mkdir
assert.deepEqual(await fs.call("mkdir", { path: "/sdk/empty" }), {});
await rejects(fs.call("mkdir", { path: "/sdk/empty" }), "EEXIST", "mkdir twice");
await fs.call("mkdir", { path: "/sdk/deep/er/still", recursive: true });
assert.equal((await fs.call("stat", { path: "/sdk/deep/er" })).type, "dir");

// list (readdir)
const names = (await fs.call("readdir", { path: "/sdk" })).entries.map((e) => `${e.path}:${e.type}`).sort();
assert.deepEqual(names, ["/sdk/deep:dir", "/sdk/empty:dir", "/sdk/notes:dir"]);
await rejects(fs.call("readdir", { path: "/sdk/notes/hello.bin" }), "ENOTDIR", "readdir of a file");

// Several requests in flight on one connection, answered by id.
const many = await Promise.all(
  Array.from({ length: 8 }, (_, i) => fs.writeFile(`/sdk/many/f${i}`, Buffer.from(`file ${i}`))),
);
assert.deepEqual(many, Array.from({ length: 8 }, (_, i) => `file ${i}`.length));
const reads = await Promise.all(Array.from({ length: 8 }, (_, i) => fs.readFile(`/sdk/many/f${i}`)));
reads.forEach((r, i) => assert.equal(r.content.toString(), `file ${i}`));

// Streaming both ways at 3 MiB + 17 bytes: the server picks streaming for a
// read of 1 MiB or more; an odd tail exercises a short last frame.
const big = randomBytes(3 * 1024 * 1024 + 17);
const bigSum = "sha256:" + createHash("sha256").update(big).digest("hex");
const up = await fs.writeStream("/sdk/big.bin", big);
assert.equal(up.written, big.length);
assert.equal(up.chunkSize, 65536);
assert.equal((await fs.call("stat", { path: "/sdk/big.bin" })).size, big.length);
const down = await fs.readFile("/sdk/big.bin");
assert.equal(down.streamed, true, "a read of 3 MiB is streamed");
assert.equal(down.chunkSize, 65536);
assert.equal(down.checksum, bigSum);
assert.ok(down.content.equals(big), "streamed read differs from what was written");
// streaming: true on a small file streams it too.
const forced = await fs.readFile("/sdk/many/f3", true);
assert.equal(forced.streamed, true);
assert.equal(forced.content.toString(), "file 3");
// A streamed write whose checksum does not match: EIO, old content kept.
await rejects(
  new Promise((resolve, reject) => {
    const id = fs.nextID();
    let sid = null;
    fs.send(id, { op: "write", path: "/sdk/big.bin", streaming: true }, (msg) => {
      if (!msg.ok) {
        fs.pending.delete(id);
        return reject(new FsError(msg.error.code, msg.error.message));
      }
      if (sid !== null) {
        fs.pending.delete(id);
        return resolve(msg.data);
      }
      sid = msg.data.stream_id;
      const frame = Buffer.alloc(8 + 4);
      frame.writeBigUInt64BE(BigInt(sid), 0);
      frame.write("oops", 8);
      fs.ws.send(frame, { binary: true });
      fs.ws.send(JSON.stringify({ id, stream: "end", stream_id: sid, checksum: "sha256:" + "0".repeat(64) }));
    });
  }),
  "EIO",
  "streamed write with a wrong checksum",
);
assert.equal((await fs.readFile("/sdk/big.bin")).checksum, bigSum, "a failed stream changed the file");

// remove (rm)
await rejects(fs.call("rm", { path: "/sdk/deep" }), "ENOTEMPTY", "rm of a non-empty directory");
assert.equal((await fs.call("rm", { path: "/sdk/empty" })).removed, 1);
assert.equal((await fs.call("rm", { path: "/sdk/deep", recursive: true })).removed, 3);
assert.equal((await fs.call("rm", { path: "/sdk/big.bin" })).removed, 1);
assert.equal(await fs.exists("/sdk/big.bin"), false);
assert.equal(await fs.exists("/sdk/deep/er/still"), false);
const left = (await fs.call("readdir", { path: "/sdk" })).entries.map((e) => e.path).sort();
assert.deepEqual(left, ["/sdk/many", "/sdk/notes"]);

fs.close();
console.log("ok");
