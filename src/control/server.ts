/**
 * A stack's control socket: a Unix socket at `/run/luna/<name>.sock`
 * (owner-only) answering `luna ls`, `stats`, `conns`, `capture`, `ping` and
 * `connect` (the protocol: ./protocol.ts).
 *
 * It runs on the stack's own thread: the loop yields to the runtime between
 * rounds of polls, and the socket's callbacks run there, each doing a
 * bounded piece of work (a stats snapshot; {@link connsPerTurn} connections;
 * one buffer of capture records) before the loop's next round.
 *
 * The socket is made in a private directory (mode 0700), set to mode 0600
 * and then renamed into place, so it is never reachable with wider rights.
 * A socket left by a dead process (nothing accepts on it) is replaced; one a
 * live stack answers on is a {@link ConfigError} naming `control.name`.
 * `close()` removes the socket (if it is still ours).
 *
 * @module
 */
import {
  chmodSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  renameSync,
  rmdirSync,
  statSync,
  unlinkSync,
} from "node:fs";
import net from "node:net";
import { setImmediate } from "node:timers";
import { idleSleepUsOf, txFlushFramesOf } from "../api/config.ts";
import type { Stack } from "../api/stack.ts";
import { ConfigError } from "../errors.ts";
import { KernelBridge } from "../kernel/bridge.ts";
import type { Connection } from "../api/connection.ts";
import { formatIpv4, parseIpv4 } from "../wire/mod.ts";
import { type CaptureFilter, CaptureSession, type CaptureTap, pcapGlobalHeader } from "./capture.ts";
import { connMatches, connRow, stateNames } from "./conns.ts";
import { frame, FrameKind, jsonFrame, namePattern, ops, requestMax, socketPath } from "./protocol.ts";

/** Connections described per turn of the runtime's event loop. */
export const connsPerTurn = 256;
/** How often a capture's records go to its client, ms. */
const captureFlushMs = 20;
/** Bytes waiting in a client's socket beyond which the server stops adding more (capture, connect). */
const clientBacklogMax = 1 << 22;

/** Clients served at once; more are answered with an error and closed. */
export const clientsMax = 64;
/** How long a client has to send its request line, ms. */
const requestWaitMs = 10_000;

/** What a control server counted. */
export interface ControlCounters {
  /** Clients that connected. */
  connections: number;
  /** Requests answered (or begun: capture, ping, connect). */
  requests: number;
  /** Requests refused as malformed, unknown, too long or too slow, each answered with its error. */
  badRequests: number;
  /** Clients turned away because {@link clientsMax} were connected. */
  refused: number;
}

/** Where the socket goes. */
export interface ControlOptions {
  name: string;
  dir: string;
}

/** Sun_path holds 108 bytes with its terminating zero. */
const socketPathMax = 107;

function errorText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Whether something accepts connections on the Unix socket at `path`. */
function answers(path: string, timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    const timer = setTimeout(() => {
      s.destroy();
      resolve(true); // it exists and did not refuse: treat as live rather than remove another's socket
    }, timeoutMs);
    s.on("connect", () => {
      clearTimeout(timer);
      s.destroy();
      resolve(true);
    });
    s.on("error", () => {
      clearTimeout(timer);
      resolve(false);
    });
  });
}

/** The running control socket of one stack. */
export class ControlServer {
  readonly name: string;
  readonly path: string;
  readonly #stack: Stack;
  readonly #capture: CaptureTap | undefined;
  readonly #server: net.Server;
  readonly #ino: number;
  readonly #startedAt = Date.now();
  readonly #clients = new Set<net.Socket>();
  readonly #cleanups = new Set<() => void>();
  readonly #pings = new Map<number, (src: number, seq: number, now: number) => void>();
  #closed = false;
  /** What this server counted (in every `stats` answer, beside the stack's). */
  readonly counters: ControlCounters = { connections: 0, requests: 0, badRequests: 0, refused: 0 };

  private constructor(stack: Stack, o: ControlOptions, capture: CaptureTap | undefined, server: net.Server) {
    this.#stack = stack;
    this.name = o.name;
    this.path = socketPath(o.name, o.dir);
    this.#capture = capture;
    this.#server = server;
    this.#ino = statSync(this.path).ino;
    server.on("connection", (s) => this.#accept(s));
    // Echo replies to this stack's pings go to the ping they belong to (by ident).
    const previous = stack.ip.onEchoReply;
    stack.ip.onEchoReply = (src, ident, seq, now) => {
      const p = this.#pings.get(ident);
      if (p !== undefined) p(src, seq, now);
      else previous?.(src, ident, seq, now);
    };
  }

  /** Opens the socket of `stack`; see the module documentation. */
  static async start(stack: Stack, o: ControlOptions, capture?: CaptureTap): Promise<ControlServer> {
    if (!namePattern.test(o.name)) {
      throw new ConfigError("control.name", `'${o.name}' is not 1 to 64 of letters, digits, _ . -`);
    }
    const path = socketPath(o.name, o.dir);
    if (path.length > socketPathMax) {
      throw new ConfigError("control.dir", `the socket path ${path} is longer than ${socketPathMax} bytes`);
    }
    try {
      mkdirSync(o.dir, { recursive: true, mode: 0o755 });
    } catch (e) {
      throw new ConfigError("control.dir", `cannot create ${o.dir}: ${errorText(e)}`);
    }
    let st;
    try {
      st = lstatSync(path);
    } catch {
      st = undefined;
    }
    if (st !== undefined) {
      if (!st.isSocket()) throw new ConfigError("control.name", `${path} exists and is not a socket`);
      if (await answers(path)) {
        throw new ConfigError(
          "control.name",
          `a running stack already answers on ${path}: choose another name`,
        );
      }
      unlinkSync(path); // left by a process that is gone
    }
    const tmp = mkdtempSync(`${o.dir}/.new-`); // mode 0700: nobody else reaches the socket before its chmod
    const tmpPath = `${tmp}/s`;
    const server = net.createServer({ allowHalfOpen: true });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once("error", reject);
        server.listen(tmpPath, () => {
          server.off("error", reject);
          resolve();
        });
      });
      chmodSync(tmpPath, 0o600);
      renameSync(tmpPath, path);
    } catch (e) {
      server.close();
      throw new ConfigError("control.dir", `cannot open a control socket in ${o.dir}: ${errorText(e)}`);
    } finally {
      try {
        rmdirSync(tmp);
      } catch {
        // already empty and gone, or the rename failed and close() removed the socket
      }
    }
    return new ControlServer(stack, o, capture, server);
  }

  /** Ends every client, closes the socket and removes its file (if it is still this server's). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const f of [...this.#cleanups]) f();
    for (const s of this.#clients) s.destroy();
    try {
      if (statSync(this.path).ino === this.#ino) unlinkSync(this.path);
    } catch {
      // removed already
    }
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(s: net.Socket): void {
    const c = this.counters;
    c.connections++;
    s.on("error", () => s.destroy());
    if (this.#clients.size >= clientsMax) {
      c.refused++;
      this.#fail(s, `${clientsMax} clients are connected already: try again later`);
      return;
    }
    this.#clients.add(s);
    s.on("close", () => this.#clients.delete(s));
    let head = new Uint8Array(0);
    // A client that never finishes its request line does not hold a slot for long.
    const timer = setTimeout(() => {
      c.badRequests++;
      s.off("data", onData);
      this.#fail(s, `no request line within ${requestWaitMs} ms`);
    }, requestWaitMs);
    s.on("close", () => clearTimeout(timer));
    const onData = (chunk: Uint8Array) => {
      const joined = new Uint8Array(head.length + chunk.length);
      joined.set(head);
      joined.set(chunk, head.length);
      const nl = joined.indexOf(10);
      if (nl < 0 && joined.length <= requestMax) {
        head = joined;
        return;
      }
      s.off("data", onData);
      clearTimeout(timer);
      if (nl < 0 || nl > requestMax) {
        c.badRequests++;
        this.#fail(s, `request longer than ${requestMax} bytes`);
        return;
      }
      let req: Record<string, unknown>;
      try {
        req = JSON.parse(new TextDecoder().decode(joined.subarray(0, nl)));
        if (typeof req !== "object" || req === null || Array.isArray(req)) throw new Error("not an object");
      } catch (e) {
        c.badRequests++;
        this.#fail(s, `request is not a JSON object: ${errorText(e)}`);
        return;
      }
      c.requests++;
      try {
        this.#dispatch(s, req, joined.subarray(nl + 1));
      } catch (e) {
        c.badRequests++;
        this.#fail(s, errorText(e));
      }
    };
    s.on("data", onData);
  }

  #fail(s: net.Socket, error: string): void {
    if (s.destroyed) return;
    s.end(jsonFrame({ done: true, error }));
  }

  #dispatch(s: net.Socket, req: Record<string, unknown>, rest: Uint8Array): void {
    switch (req.op) {
      case "info":
        s.end(jsonFrame({ done: true, ...this.info() }));
        return;
      case "stats":
        s.end(jsonFrame({
          done: true,
          name: this.name,
          unixMs: Date.now(),
          stats: this.#stack.stats(),
          control: { ...this.counters, clients: this.#clients.size },
          memory: processMemory(),
        }));
        return;
      case "conns":
        this.#conns(s, req);
        return;
      case "capture":
        this.#captureOp(s, req);
        return;
      case "ping":
        this.#ping(s, req);
        return;
      case "connect":
        this.#connect(s, req, rest);
        return;
      default:
        throw new Error(`op: unknown '${String(req.op)}' (known: ${ops.join(", ")})`);
    }
  }

  /** What `luna ls` shows. */
  info(): Record<string, unknown> {
    const st = this.#stack;
    return {
      name: this.name,
      pid: process.pid,
      device: typeof st.config.device === "string" ? st.config.device : st.device.name,
      address: `${formatIpv4(st.ip.iface.address)}/${st.ip.iface.prefixLen}`,
      mode: st.mode,
      txFlushFrames: txFlushFramesOf(st.config),
      idleSleepUs: idleSleepUsOf(st.config),
      startedAtMs: this.#startedAt,
      connections: st.tcp.connections,
      runtime: typeof (globalThis as { Bun?: unknown }).Bun !== "undefined" ? "bun" : "deno",
    };
  }

  #conns(s: net.Socket, req: Record<string, unknown>): void {
    const state = req.state === undefined ? undefined : String(req.state).toLowerCase();
    if (state !== undefined && !stateNames.includes(state)) {
      throw new Error(`state: unknown '${state}' (known: ${stateNames.join(", ")})`);
    }
    const port = req.port === undefined ? undefined : Number(req.port);
    if (port !== undefined && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new Error(`port: expected 1..65535, got ${String(req.port)}`);
    }
    const it = this.#stack.tcp.each();
    let total = 0;
    const turn = () => {
      if (s.destroyed || this.#closed) return;
      const rows = [];
      let looked = 0;
      for (let r = it.next();; r = it.next()) {
        if (r.done) {
          if (rows.length > 0) s.write(jsonFrame({ conns: rows }));
          s.end(
            jsonFrame({ done: true, listed: total + rows.length, timeWait: this.#stack.tcp.timeWaitCount }),
          );
          return;
        }
        if (connMatches(r.value, { state, port })) rows.push(connRow(r.value));
        if (++looked === connsPerTurn) break;
      }
      total += rows.length;
      if (rows.length > 0) s.write(jsonFrame({ conns: rows }));
      setImmediate(turn);
    };
    turn();
  }

  #captureOp(s: net.Socket, req: Record<string, unknown>): void {
    const tap = this.#capture;
    if (tap === undefined) throw new Error("capture: this stack was made without a capture tap");
    const filter: CaptureFilter = {};
    if (req.port !== undefined) {
      const p = Number(req.port);
      if (!(Number.isInteger(p) && p >= 1 && p <= 65535)) {
        throw new Error(`port: expected 1..65535, got ${req.port}`);
      }
      filter.port = p;
    }
    if (req.host !== undefined) filter.host = parseIpv4(String(req.host));
    if (req.count !== undefined) {
      const c = Number(req.count);
      if (!(Number.isInteger(c) && c >= 1)) {
        throw new Error(`count: expected an integer >= 1, got ${req.count}`);
      }
      filter.count = c;
    }
    const ms = req.ms === undefined ? undefined : Number(req.ms);
    if (ms !== undefined && !(ms > 0)) throw new Error(`ms: expected a number above 0, got ${req.ms}`);
    const session = new CaptureSession(filter, Date.now() - performance.now());
    s.write(frame(FrameKind.data, pcapGlobalHeader()));
    tap.add(session);
    const endAt = ms !== undefined ? performance.now() + ms : Infinity;
    const flush = () => {
      if (s.writableLength > clientBacklogMax) return; // the records wait (and, past the buffer, are dropped)
      const bytes = session.take();
      if (bytes.length > 0) s.write(frame(FrameKind.data, bytes));
    };
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      tap.remove(session);
      this.#cleanups.delete(finish);
      if (s.destroyed) return;
      flush();
      s.end(jsonFrame({ done: true, records: session.records, dropped: session.dropped }));
    };
    const timer = setInterval(() => {
      flush();
      if (session.full || performance.now() >= endAt) finish();
    }, captureFlushMs);
    this.#cleanups.add(finish);
    s.on("close", finish);
    s.on("end", finish); // the client ended its side: stop
  }

  #ping(s: net.Socket, req: Record<string, unknown>): void {
    const dst = parseIpv4(String(req.addr ?? ""));
    const count = Number(req.count ?? 4);
    const intervalMs = Number(req.intervalMs ?? 1000);
    const waitMs = Number(req.timeoutMs ?? 1000);
    const size = Number(req.size ?? 56);
    if (!(Number.isInteger(count) && count >= 1 && count <= 65_536)) {
      throw new Error(`count: 1..65536 (the sequence numbers of one ping), got ${count}`);
    }
    if (!(intervalMs >= 1 && intervalMs <= 60_000)) {
      throw new Error(`intervalMs: 1..60000, got ${intervalMs}`);
    }
    if (!(waitMs >= 1 && waitMs <= 60_000)) throw new Error(`timeoutMs: 1..60000, got ${waitMs}`);
    if (!(Number.isInteger(size) && size >= 0 && size <= 1472)) throw new Error(`size: 0..1472, got ${size}`);
    let ident = 1 + Math.floor(Math.random() * 0xfffe);
    while (this.#pings.has(ident)) ident = (ident % 0xfffe) + 1;
    const sentAt = new Map<number, number>();
    let sent = 0;
    let received = 0;
    let failed = 0;
    const rtts: number[] = [];
    // Sharing the address with the kernel, the classifier gives ICMP to the kernel: these replies are ours.
    const classifier = this.#stack.device instanceof KernelBridge ? this.#stack.device.classifier : undefined;
    classifier?.echoIdents.add(ident);
    this.#pings.set(ident, (src, seq, now) => {
      const t = sentAt.get(seq);
      if (t === undefined || src !== dst) return;
      sentAt.delete(seq);
      received++;
      rtts.push(now - t);
      if (!s.destroyed) s.write(jsonFrame({ seq, from: formatIpv4(src), rttMs: now - t }));
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    let finished = false;
    const finish = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      this.#pings.delete(ident);
      classifier?.echoIdents.delete(ident);
      this.#cleanups.delete(finish);
      if (s.destroyed) return;
      const sum = rtts.reduce((a, b) => a + b, 0);
      s.end(jsonFrame({
        done: true,
        sent,
        received,
        failed,
        rttMinMs: rtts.length > 0 ? rtts.reduce((a, b) => (a < b ? a : b)) : null,
        rttAvgMs: rtts.length > 0 ? sum / rtts.length : null,
        rttMaxMs: rtts.length > 0 ? rtts.reduce((a, b) => (a > b ? a : b)) : null,
      }));
    };
    const send = () => {
      if (s.destroyed) return finish();
      const seq = sent;
      const now = performance.now();
      if (this.#stack.ip.sendEchoRequest(dst, ident, seq, size, now)) sentAt.set(seq, now);
      else failed++;
      sent++;
      if (sent < count) timer = setTimeout(send, intervalMs);
      else timer = setTimeout(finish, waitMs);
    };
    this.#cleanups.add(finish);
    s.on("close", finish);
    send();
  }

  #connect(s: net.Socket, req: Record<string, unknown>, rest: Uint8Array): void {
    const addr = String(req.addr ?? "");
    parseIpv4(addr);
    const port = Number(req.port);
    if (!(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw new Error(`port: 1..65535, got ${req.port}`);
    }
    const pending: Uint8Array[] = rest.length > 0 ? [rest.slice()] : [];
    let retry: ReturnType<typeof setTimeout> | undefined;
    let open = false;
    let inputEnded = false;
    let finSent = false;
    let done = false;
    // The client's bytes into the connection, as far as its send space allows.
    const pumpOut = () => {
      if (!open || done) return;
      while (pending.length > 0) {
        const b = pending[0];
        const n = conn.write(b);
        if (n < b.length) {
          pending[0] = b.subarray(n);
          s.pause();
          return;
        }
        pending.shift();
      }
      s.resume();
      if (inputEnded && !finSent) {
        finSent = true;
        conn.close();
      }
    };
    // The connection's bytes to the client, while the client's socket keeps up; `all`: every byte
    // received (after the peer's FIN: no more than the receive window, and nothing may be left behind).
    const pumpIn = (all = false) => {
      if (done || s.destroyed) return;
      for (let v = conn.peek(); v.length > 0; v = conn.peek()) {
        if (!all && s.writableLength > clientBacklogMax) {
          // Resumed on 'drain', or by this timer should a runtime not emit it; the window closes meanwhile.
          retry ??= setTimeout(() => {
            retry = undefined;
            pumpIn();
          }, 5);
          return;
        }
        s.write(frame(FrameKind.data, v));
        conn.consume(v.length);
      }
    };
    const finish = (error: string | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(retry);
      this.#cleanups.delete(abort);
      if (!s.destroyed) {
        s.end(
          jsonFrame({ done: true, ...(error !== undefined ? { error: `${addr}:${port}: ${error}` } : {}) }),
        );
      }
    };
    const abort = () => {
      if (!done) conn.abort();
      finish("the stack closed");
    };
    const conn: Connection = this.#stack.connect(addr, port, {
      onOpen: (c) => {
        open = true;
        s.write(
          jsonFrame({ open: true, local: `${c.localAddress}:${c.localPort}`, remote: `${addr}:${port}` }),
        );
        pumpOut();
      },
      onData: () => pumpIn(),
      onWritable: pumpOut,
      onEnd: () => {
        pumpIn(true);
        s.write(jsonFrame({ end: true }));
        // As nc does: once the peer has finished, this side finishes too (after what is queued).
        inputEnded = true;
        pumpOut();
      },
      onClose: (_c, error) => {
        pumpIn(true);
        finish(error);
      },
    });
    this.#cleanups.add(abort);
    s.on("data", (chunk: Uint8Array) => {
      pending.push(chunk);
      pumpOut();
    });
    s.on("end", () => {
      inputEnded = true;
      pumpOut();
    });
    s.on("drain", () => pumpIn());
    s.pause(); // until the connection is open
    s.on("close", () => {
      clearTimeout(retry);
      if (!done) {
        done = true;
        this.#cleanups.delete(abort);
        conn.close();
      }
    });
  }
}

/** The process's memory as `luna stats` shows it, bytes: the JavaScript heap in use and the resident set. */
function processMemory(): { heapUsed: number; rss: number } {
  const m = process.memoryUsage();
  return { heapUsed: m.heapUsed, rss: m.rss };
}
