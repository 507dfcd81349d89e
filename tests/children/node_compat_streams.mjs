// Scripted stream dialogues for node:net compatibility. Each scenario drives a
// client and a server socket through writes, half-closes, pauses, timeouts and
// destroys, and records what each side observes: the events in order (the
// bytes of consecutive 'data' events summed), the counters at 'close', and
// marks the script sets. tests/node_compat_stream_test.ts runs every scenario
// over luna-ts and over the kernel's TCP (node:net on loopback, in the test's
// runtime), and compares both with node's own record: this file is plain
// JavaScript so that /usr/bin/node runs it too.
//
//   node tests/children/node_compat_streams.mjs        prints RESULT {scenario: record} for node:net on loopback
import { Buffer } from "node:buffer";
import { createHash } from "node:crypto";
import net from "node:net";

/**
 * @typedef {import("node:net").Socket} Sock
 * @typedef {{ port: number, events: string[], close(): void, getConnections(): Promise<number> }} Listener
 * @typedef {{
 *   name: string,
 *   serverHost: string,
 *   listen(options: { allowHalfOpen?: boolean }, onSocket: (s: Sock) => void): Promise<Listener>,
 *   connect(port: number, options?: { allowHalfOpen?: boolean }): Sock,
 *   closedPort(): Promise<number>,
 *   dispose(): Promise<void>,
 * }} Transport
 * @typedef {{ [side: string]: string[] }} Record
 */

/** What one side observed. */
export class Recorder {
  /** @param {Sock} socket */
  constructor(socket) {
    this.socket = socket;
    /** @type {string[]} */
    this.events = [];
    this.bytes = 0;
    this.closed = false;
    this.hash = createHash("sha256");
    socket.on("connect", () => this.events.push("connect"));
    socket.on("ready", () => this.events.push("ready"));
    socket.on("data", (/** @type {Buffer} */ d) => {
      this.bytes += d.length;
      this.hash.update(d);
      const last = this.events.length - 1;
      const m = last >= 0 ? /^data (\d+)$/.exec(this.events[last]) : null;
      if (m !== null) this.events[last] = `data ${Number(m[1]) + d.length}`;
      else this.events.push(`data ${d.length}`);
    });
    socket.on("end", () => this.events.push("end"));
    socket.on("finish", () => this.events.push("finish"));
    socket.on("drain", () => this.events.push("drain"));
    socket.on("timeout", () => this.events.push("timeout"));
    socket.on("error", (/** @type {Error & { code?: string, syscall?: string }} */ e) => {
      this.events.push(`error ${e.code ?? e.message}${e.syscall !== undefined ? ` (${e.syscall})` : ""}`);
    });
    socket.on("close", (/** @type {boolean} */ hadError) => {
      this.closed = true;
      this.events.push(`close${hadError ? " with error" : ""}`);
      this.events.push(`bytesRead ${socket.bytesRead}, bytesWritten ${socket.bytesWritten}`);
      this.events.push(`sha256 ${this.hash.digest("hex").slice(0, 16)}`);
    });
  }

  /** @param {string} what */
  mark(what) {
    this.events.push(`[${what}]`);
  }
}

/** @param {number} ms */
export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * Resolves once `cond()` holds; rejects after `ms`, naming `what`.
 * @param {() => boolean} cond
 * @param {string} what
 * @returns {Promise<void>}
 */
export function until(cond, what, ms = 10_000) {
  return new Promise((resolve, reject) => {
    const end = Date.now() + ms;
    const tick = () => {
      if (cond()) resolve();
      else if (Date.now() > end) reject(new Error(`timed out waiting for ${what}`));
      else setTimeout(tick, 1);
    };
    tick();
  });
}

/**
 * A recorded connection: the client and the server's socket.
 * @param {Transport} t
 * @param {{
 *   server?: { allowHalfOpen?: boolean },
 *   client?: { allowHalfOpen?: boolean },
 *   onServer?: (s: Sock, r: Recorder) => void,
 *   beforeConnect?: (c: Sock, r: Recorder) => void,
 * }} options
 */
async function open(t, options = {}) {
  /** @type {Recorder | undefined} */
  let rs;
  const listener = await t.listen(options.server ?? {}, (s) => {
    rs = new Recorder(s);
    options.onServer?.(s, rs);
  });
  const c = t.connect(listener.port, options.client);
  const rc = new Recorder(c);
  options.beforeConnect?.(c, rc);
  await until(() => rs !== undefined && (!c.connecting || c.destroyed), "the connection");
  const server = /** @type {Recorder} */ (rs);
  return { c, s: server.socket, rc, rs: server, listener };
}

/**
 * Waits for both sides to close and returns their records.
 * @param {{ rc: Recorder, rs: Recorder, listener: Listener }} o
 * @param {() => boolean} [also] a further condition
 * @returns {Promise<Record>}
 */
async function finish(o, also = () => true) {
  await until(() => o.rc.closed && o.rs.closed && also(), "both sides to close");
  await sleep(20); // anything late (a second 'close', an 'end' after 'close') lands in the record
  o.listener.close();
  return { client: o.rc.events, server: o.rs.events };
}

const KB = 1024;

/**
 * The scenarios, by name: each runs on a transport and returns what each side saw.
 * @type {{ [name: string]: (t: Transport) => Promise<Record> }}
 */
export const scenarios = {
  "end() on one side: data both ways, then FIN both ways; 'finish', 'end' and 'close' on each side": async (
    t,
  ) => {
    const o = await open(t);
    o.c.write("hello");
    o.s.write("hi there");
    await until(() => o.rs.bytes === 5 && o.rc.bytes === 8, "the data");
    o.c.end();
    return await finish(o);
  },

  "end(data) before the connection is up: the data goes first, then the FIN": async (t) => {
    const o = await open(t, { beforeConnect: (c) => c.end("last words") });
    return await finish(o);
  },

  "allowHalfOpen: the server writes after the client's FIN and the client reads it": async (t) => {
    const o = await open(t, {
      server: { allowHalfOpen: true },
      onServer: (s, r) =>
        s.on("end", () => {
          r.mark(`readyState ${s.readyState}`);
          s.write("after your FIN");
          setTimeout(() => s.end("bye"), 20);
        }),
    });
    o.c.end("request");
    o.rc.mark(`readyState ${o.c.readyState}`);
    return await finish(o);
  },

  "allowHalfOpen: a paused server ends its side with data unread; the data and 'end' still come": async (
    t,
  ) => {
    const data = Buffer.alloc(512 * KB, 5);
    const o = await open(t, { server: { allowHalfOpen: true }, onServer: (s) => s.pause() });
    o.c.end(data);
    await until(() => o.rc.events.includes("finish"), "the client's FIN");
    await sleep(100);
    o.s.end();
    await sleep(100);
    o.rs.mark(`readableEnded ${o.s.readableEnded}`);
    o.s.resume();
    return await finish(o);
  },

  "without allowHalfOpen, the peer's FIN ends our side too": async (t) => {
    const o = await open(t, { onServer: (s) => s.end("x") });
    return await finish(o);
  },

  "pause(): no 'data' while paused; write() says false and 'drain' follows once the reader resumes": async (
    t,
  ) => {
    const data = Buffer.alloc(4 * 1024 * KB, 7);
    let wrote = false;
    const o = await open(t, {
      beforeConnect: (c) => c.pause(),
      onServer: (s, r) => {
        const ok = s.write(data);
        r.mark(`write ${ok}, bytesWritten ${s.bytesWritten}`);
        wrote = true;
      },
    });
    await until(() => wrote, "the write");
    await sleep(100);
    o.rc.mark(`paused ${o.c.isPaused()}`);
    o.c.resume();
    await until(() => o.rc.bytes === data.length, "all the data");
    o.s.end();
    return await finish(o);
  },

  "a paused reader's 'end' waits until the data before it is read": async (t) => {
    const o = await open(t, { beforeConnect: (c) => c.pause(), onServer: (s) => s.end("abc") });
    await sleep(100);
    o.rc.mark(`readableEnded ${o.c.readableEnded}`);
    o.c.resume();
    return await finish(o);
  },

  "destroy() with everything read: no more events but 'close'; the peer sees a FIN": async (t) => {
    const o = await open(t);
    o.c.write("ping");
    o.s.write("pong");
    await until(() => o.rs.bytes === 4 && o.rc.bytes === 4, "the data");
    o.c.destroy();
    o.rc.mark(`destroyed ${o.c.destroyed}`);
    return await finish(o);
  },

  "destroy(error): 'error' then 'close' with hadError; the peer sees a FIN, not a reset": async (t) => {
    const o = await open(t);
    o.s.write("pong");
    await until(() => o.rc.bytes === 4, "the data");
    o.c.destroy(Object.assign(new Error("boom"), { code: "EBOOM" }));
    return await finish(o);
  },

  "destroy() with unread data: the peer sees a reset (ECONNRESET)": async (t) => {
    let sent = false;
    const o = await open(t, {
      beforeConnect: (c) => c.pause(),
      onServer: (s) => s.write(Buffer.alloc(256 * KB, 1), () => (sent = true)),
    });
    await until(() => sent, "the write");
    await sleep(100);
    // What a paused socket has read ahead depends on its highWaterMark (the runtime's default).
    o.rc.mark(`read ahead ${o.c.bytesRead > 0 && o.c.bytesRead < 256 * KB}`);
    o.c.destroy();
    const rec = await finish(o);
    rec.client = rec.client.map((e) => e.startsWith("bytesRead ") ? "bytesRead (read ahead)" : e);
    // Whether the write waits for 'drain' depends on how much the transport takes at once.
    rec.server = rec.server.filter((e) => e !== "drain");
    return rec;
  },

  "resetAndDestroy(): the peer gets ECONNRESET": async (t) => {
    const o = await open(t);
    o.c.write("ping");
    await until(() => o.rs.bytes === 4, "the data");
    o.s.resetAndDestroy();
    return await finish(o);
  },

  "connecting to a port nobody listens on: 'error' ECONNREFUSED, then 'close' with hadError": async (t) => {
    const c = t.connect(await t.closedPort());
    const rc = new Recorder(c);
    rc.mark(`connecting ${c.connecting}, pending ${c.pending}, readyState ${c.readyState}`);
    await until(() => rc.closed, "the close");
    await sleep(20);
    return { client: rc.events };
  },

  "destroy() while connecting: 'close' without 'connect' or an error": async (t) => {
    const listener = await t.listen({}, (s) => s.on("error", () => {}));
    const c = t.connect(listener.port);
    const rc = new Recorder(c);
    c.destroy();
    await until(() => rc.closed, "the close");
    await sleep(50);
    listener.close();
    return { client: rc.events };
  },

  "setTimeout(): one 'timeout' per idle period, activity re-arms it, setTimeout(0) disarms it": async (t) => {
    const o = await open(t);
    o.c.setTimeout(40);
    o.rc.mark(`timeout ${o.c.timeout}`);
    await sleep(150);
    o.c.write("x");
    o.rc.mark("wrote");
    await sleep(150);
    o.c.setTimeout(0);
    o.rc.mark("disarmed");
    await sleep(100);
    o.c.end();
    return await finish(o);
  },

  "setTimeout(ms, callback) calls the callback on 'timeout'; the socket stays open": async (t) => {
    const o = await open(t);
    let calls = 0;
    o.s.setTimeout(30, () => calls++);
    await until(() => calls === 1, "the timeout");
    o.rs.mark(`callback ${calls}, destroyed ${o.s.destroyed}`);
    o.s.setTimeout(0);
    o.s.write("still open");
    await until(() => o.rc.bytes === 10, "the data");
    o.c.end();
    return await finish(o);
  },

  "write() after the peer's FIN without allowHalfOpen: the callback gets EPIPE": async (t) => {
    let called = false;
    const o = await open(t, {
      onServer: (s, r) =>
        s.on("end", () =>
          setTimeout(() => {
            r.mark(`writable ${s.writable}`);
            s.write("late", (e) => {
              r.mark(`write callback ${/** @type {{ code?: string }} */ (e)?.code}`);
              called = true;
            });
          }, 30)),
    });
    o.c.end();
    return await finish(o, () => called);
  },

  "readyState, pending, addresses and the option setters along the way": async (t) => {
    /** @type {Recorder | undefined} */
    let rs;
    const listener = await t.listen({ allowHalfOpen: true }, (s) => (rs = new Recorder(s)));
    const c = t.connect(listener.port);
    const rc = new Recorder(c);
    rc.mark(`readyState ${c.readyState}, pending ${c.pending}, connecting ${c.connecting}`);
    await until(() => rs !== undefined && !c.connecting, "the connection");
    const r = /** @type {Recorder} */ (rs);
    const s = r.socket;
    rc.mark(`readyState ${c.readyState}, pending ${c.pending}, connecting ${c.connecting}`);
    rc.mark(`remote is the server ${c.remoteAddress === t.serverHost && c.remotePort === listener.port}`);
    rc.mark(
      `the server's remote is us ${s.remoteAddress === c.localAddress && s.remotePort === c.localPort}`,
    );
    const a = /** @type {{ address?: string, port?: number, family?: string }} */ (c.address());
    rc.mark(`address() ${a.address === c.localAddress && a.port === c.localPort} ${a.family}`);
    rc.mark(`remoteFamily ${c.remoteFamily}`);
    rc.mark(
      `setters return the socket ${
        c.setNoDelay(true) === c && c.setKeepAlive(true, 1000) === c && c.setTimeout(0) === c
      }`,
    );
    c.end();
    rc.mark(`readyState ${c.readyState}`);
    await until(() => r.events.includes("end"), "the server's end");
    r.mark(`readyState ${s.readyState}`);
    s.end();
    await until(() => rc.closed && r.closed, "both sides to close");
    rc.mark(`readyState ${c.readyState}`);
    listener.close();
    return { client: rc.events, server: r.events };
  },

  "server.close(): no new connections; 'close' once the last connection has closed": async (t) => {
    /** @type {Recorder | undefined} */
    let rs;
    const listener = await t.listen({}, (s) => (rs = new Recorder(s)));
    const c = t.connect(listener.port);
    const rc = new Recorder(c);
    await until(() => rs !== undefined && !c.connecting, "the connection");
    listener.events.push(`connections ${await listener.getConnections()}`);
    listener.close();
    await sleep(30);
    listener.events.push("closing");
    const refused = new Recorder(t.connect(listener.port));
    await until(() => refused.closed, "the refused connection");
    c.end();
    await until(() => rc.closed && /** @type {Recorder} */ (rs).closed, "both sides to close");
    await sleep(30);
    return { server: listener.events, refused: refused.events };
  },

  "bytesRead and bytesWritten count 1 MB each way; write callbacks come in order": async (t) => {
    const o = await open(t, { server: { allowHalfOpen: true } });
    o.s.pipe(o.s);
    const chunk = Buffer.alloc(64 * KB, 3);
    /** @type {number[]} */
    const done = [];
    for (let i = 0; i < 16; i++) o.c.write(chunk, () => done.push(i));
    o.rc.mark(`bytesWritten ${o.c.bytesWritten}`);
    o.c.end();
    const rec = await finish(o);
    rec.client.push(`[callbacks ${done.join(",")}]`);
    return rec;
  },
};

/**
 * node:net on the kernel's loopback.
 * @returns {Transport}
 */
export function kernelTransport() {
  /** @type {Set<net.Server>} */
  const servers = new Set();
  return {
    name: "kernel",
    serverHost: "127.0.0.1",
    listen(options, onSocket) {
      /** @type {string[]} */
      const events = [];
      const server = net.createServer({ allowHalfOpen: options.allowHalfOpen ?? false }, (s) => {
        events.push("connection");
        onSocket(s);
      });
      server.on("close", () => events.push("close"));
      server.on("error", (/** @type {Error & { code?: string }} */ e) => events.push(`error ${e.code}`));
      servers.add(server);
      return new Promise((resolve) => {
        server.listen(0, "127.0.0.1", () => {
          events.push("listening");
          resolve({
            port: /** @type {net.AddressInfo} */ (server.address()).port,
            events,
            close: () => server.close(),
            getConnections: () => new Promise((r) => server.getConnections((_e, n) => r(n))),
          });
        });
      });
    },
    connect(port, options = {}) {
      return net.connect({ port, host: "127.0.0.1", allowHalfOpen: options.allowHalfOpen });
    },
    closedPort() {
      const s = net.createServer();
      return new Promise((resolve) =>
        s.listen(0, "127.0.0.1", () => {
          const port = /** @type {net.AddressInfo} */ (s.address()).port;
          s.close(() => resolve(port));
        })
      );
    },
    dispose() {
      for (const s of servers) if (s.listening) s.close();
      return Promise.resolve();
    },
  };
}

/**
 * Runs one scenario on a fresh transport and disposes of it.
 * @param {string} name
 * @param {() => Transport | Promise<Transport>} make
 * @returns {Promise<Record>}
 */
export async function runScenario(name, make) {
  const t = await make();
  try {
    return await scenarios[name](t);
  } finally {
    await t.dispose();
  }
}

// Run by node: every scenario over node:net on loopback, one RESULT line.
if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  /** @type {{ [name: string]: Record | string }} */
  const out = {};
  for (const name of Object.keys(scenarios)) {
    try {
      out[name] = await runScenario(name, kernelTransport);
    } catch (e) {
      out[name] = `failed: ${/** @type {Error} */ (e).message}`;
    }
  }
  console.log("RESULT " + JSON.stringify(out));
  process.exit(0);
}
