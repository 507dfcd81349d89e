/**
 * node:net on luna-ts: {@link createServer} and {@link connect} return
 * objects that behave like `net.Server` and `net.Socket` — Duplex streams
 * with backpressure and node's events — so code that takes a socket runs on
 * luna-ts unchanged. The stack's loop must be running (`stack.run()`).
 *
 * @example
 * ```ts
 * import { createStack } from "luna-ts";
 * import { createServer } from "luna-ts/net";
 * const stack = await createStack({ device: "af_packet:veth0", address: "198.18.0.2/24" });
 * createServer(stack, (socket) => socket.pipe(socket)).listen(7);
 * await stack.run();
 * ```
 *
 * @module
 */
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import { ConfigError } from "../errors.ts";
import type { Connection, ConnectionHandlers } from "./connection.ts";
import type { Stack } from "./stack.ts";

/** Options of {@link LunaSocket}'s constructor (internal) and {@link connect}. */
export interface ConnectOptions {
  port: number;
  host?: string;
  /** Nagle off. */
  noDelay?: boolean;
  keepAlive?: boolean;
  keepAliveInitialDelay?: number;
  timeout?: number;
}

/** A `net.Socket` over a luna-ts connection. */
export class LunaSocket extends Duplex {
  #conn: Connection | undefined;
  #pendingWrite: { data: Uint8Array; cb: (e?: Error | null) => void } | undefined;
  #wantRead = true;
  #ended = false;
  #timeoutMs = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = 0;
  connecting = true;
  bytesRead = 0;
  #bytesWritten = 0;
  readonly remoteFamily = "IPv4";

  /** @internal */
  constructor(options?: { allowHalfOpen?: boolean }) {
    super({ allowHalfOpen: options?.allowHalfOpen ?? false, decodeStrings: true });
  }

  /** @internal Attaches the connection and returns the handlers that feed this stream. */
  attach(conn: Connection): ConnectionHandlers {
    this.#conn = conn;
    conn.data = this;
    const handlers: ConnectionHandlers = {
      onOpen: () => {
        this.connecting = false;
        this.#touch();
        this.emit("connect");
        this.emit("ready");
      },
      onData: () => {
        this.#touch();
        this.#pull();
      },
      onEnd: () => {
        this.#ended = true;
        this.#pull();
      },
      onWritable: () => this.#flushPending(),
      onClose: (_c, error) => {
        this.#clearTimer();
        this.connecting = false;
        if (error !== undefined) {
          const e = Object.assign(new Error(error), { code: codeOf(error) });
          this.destroy(e);
        } else {
          if (!this.#ended) {
            this.#ended = true;
            this.#pull();
          }
          this.#failPending(new Error("connection closed"));
          if (!this.destroyed) this.destroy();
        }
      },
    };
    if (conn.state === "ESTABLISHED" || conn.state === "CLOSE-WAIT") this.connecting = false;
    return handlers;
  }

  get remoteAddress(): string | undefined {
    return this.#conn?.remoteAddress;
  }
  get remotePort(): number | undefined {
    return this.#conn?.remotePort;
  }
  get localAddress(): string | undefined {
    return this.#conn?.localAddress;
  }
  get localPort(): number | undefined {
    return this.#conn?.localPort;
  }
  get bytesWritten(): number {
    return this.#bytesWritten;
  }
  /** The luna-ts connection underneath. */
  get connection(): Connection | undefined {
    return this.#conn;
  }
  get readyState(): string {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.#conn === undefined) return {};
    return { address: this.#conn.localAddress, family: "IPv4", port: this.#conn.localPort };
  }

  setNoDelay(noDelay = true): this {
    this.#conn?.setNoDelay(noDelay);
    return this;
  }

  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#conn?.setKeepAlive(enable, initialDelay > 0 ? initialDelay : undefined);
    return this;
  }

  /** Emits 'timeout' after `ms` without activity (the socket stays open, as in node). */
  setTimeout(ms: number, callback?: () => void): this {
    this.#timeoutMs = ms;
    if (callback) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this.#clearTimer();
    if (ms > 0) this.#arm();
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }

  override _read(_size: number): void {
    this.#wantRead = true;
    this.#pull();
  }

  override _write(chunk: Buffer, _encoding: string, cb: (e?: Error | null) => void): void {
    const conn = this.#conn;
    if (conn === undefined || this.connecting) {
      this.once("connect", () => this._write(chunk, _encoding, cb));
      return;
    }
    this.#touch();
    this.#pendingWrite = { data: new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength), cb };
    this.#flushPending();
  }

  override _final(cb: (e?: Error | null) => void): void {
    const conn = this.#conn;
    if (conn === undefined || this.connecting) {
      this.once("connect", () => this._final(cb));
      return;
    }
    conn.close();
    cb();
  }

  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.#clearTimer();
    const conn = this.#conn;
    if (conn !== undefined && !conn.tcb.dead) {
      if (err) conn.abort();
      else conn.close();
    }
    this.#failPending(err ?? new Error("socket destroyed"));
    cb(err);
  }

  #flushPending(): void {
    const p = this.#pendingWrite;
    const conn = this.#conn;
    if (p === undefined || conn === undefined) return;
    const n = conn.write(p.data);
    this.#bytesWritten += n;
    if (n === p.data.length) {
      this.#pendingWrite = undefined;
      p.cb();
    } else if (!conn.writable) {
      this.#pendingWrite = undefined;
      p.cb(new Error("This socket has been ended by the other party"));
    } else {
      p.data = p.data.subarray(n); // the rest goes on onWritable
    }
  }

  #failPending(e: Error): void {
    const p = this.#pendingWrite;
    this.#pendingWrite = undefined;
    p?.cb(e);
  }

  /** Moves received bytes into the stream while it wants them; leaves the rest in the window. */
  #pull(): void {
    const conn = this.#conn;
    if (conn === undefined) return;
    while (this.#wantRead && conn.readable > 0) {
      const buf = Buffer.allocUnsafe(Math.min(conn.readable, 65536));
      const n = conn.read(buf);
      this.bytesRead += n;
      this.#wantRead = this.push(n === buf.length ? buf : buf.subarray(0, n));
    }
    if (this.#ended && conn.readable === 0 && this.#wantRead !== undefined) {
      this.#ended = false;
      this.push(null);
    }
  }

  #touch(): void {
    this.#lastActivity = performance.now();
  }

  #arm(): void {
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      const idle = performance.now() - this.#lastActivity;
      if (idle >= this.#timeoutMs) {
        this.emit("timeout");
        this.#lastActivity = performance.now();
      }
      if (this.#timeoutMs > 0 && !this.destroyed) this.#arm();
    }, Math.max(1, this.#timeoutMs - (performance.now() - this.#lastActivity)));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

function codeOf(error: string): string {
  if (error.includes("reset")) return "ECONNRESET";
  if (error.includes("refused")) return "ECONNREFUSED";
  if (error.includes("timed out")) return "ETIMEDOUT";
  return "ECONNABORTED";
}

/** A `net.Server` over a luna-ts stack. */
export class LunaServer extends EventEmitter {
  readonly #stack: Stack;
  #port = 0;
  #listening = false;
  readonly #sockets = new Set<LunaSocket>();
  readonly #allowHalfOpen: boolean;

  constructor(stack: Stack, options: { allowHalfOpen?: boolean } = {}, listener?: (s: LunaSocket) => void) {
    super();
    this.#stack = stack;
    this.#allowHalfOpen = options.allowHalfOpen ?? false;
    if (listener) this.on("connection", listener);
  }

  get listening(): boolean {
    return this.#listening;
  }

  /** Listens on `port` (the host, when given, must be the stack's address). */
  listen(port: number | { port: number }, ...rest: unknown[]): this {
    const p = typeof port === "object" ? port.port : port;
    const cb = rest.find((r) => typeof r === "function") as (() => void) | undefined;
    try {
      this.#stack.listen(p, (conn) => {
        const socket = new LunaSocket({ allowHalfOpen: this.#allowHalfOpen });
        const handlers = socket.attach(conn);
        this.#sockets.add(socket);
        socket.once("close", () => this.#sockets.delete(socket));
        // The connection is established when accepted: node emits 'connection' then.
        queueMicrotask(() => this.emit("connection", socket));
        return { ...handlers, onOpen: undefined };
      });
    } catch (e) {
      queueMicrotask(() => this.emit("error", e));
      return this;
    }
    this.#port = p;
    this.#listening = true;
    if (cb) this.once("listening", cb);
    queueMicrotask(() => this.emit("listening"));
    return this;
  }

  address(): { address: string; family: string; port: number } | null {
    if (!this.#listening) return null;
    return { address: this.#stack.ip.iface.toString().split("/")[0], family: "IPv4", port: this.#port };
  }

  /** Stops accepting; 'close' once every connection has closed. */
  close(cb?: (e?: Error) => void): this {
    if (!this.#listening) {
      queueMicrotask(() => cb?.(Object.assign(new Error("Server is not running."), { code: "ERR_SERVER_NOT_RUNNING" })));
      return this;
    }
    this.#stack.unlisten(this.#port);
    this.#listening = false;
    const done = () => {
      this.emit("close");
      cb?.();
    };
    if (this.#sockets.size === 0) queueMicrotask(done);
    else {
      let left = this.#sockets.size;
      for (const s of this.#sockets) s.once("close", () => --left === 0 && done());
    }
    return this;
  }

  getConnections(cb: (e: Error | null, n: number) => void): this {
    queueMicrotask(() => cb(null, this.#sockets.size));
    return this;
  }

  ref(): this {
    return this;
  }
  unref(): this {
    return this;
  }
}

/** `net.createServer` on a luna-ts stack. */
export function createServer(
  stack: Stack,
  optionsOrListener?: { allowHalfOpen?: boolean } | ((s: LunaSocket) => void),
  listener?: (s: LunaSocket) => void,
): LunaServer {
  if (typeof optionsOrListener === "function") return new LunaServer(stack, {}, optionsOrListener);
  return new LunaServer(stack, optionsOrListener ?? {}, listener);
}

/** `net.connect` on a luna-ts stack. */
export function connect(stack: Stack, options: ConnectOptions, onConnect?: () => void): LunaSocket {
  if (!Number.isInteger(options.port) || options.port < 1 || options.port > 65535) {
    throw new ConfigError("port", `expected 1..65535, got ${options.port}`);
  }
  const socket = new LunaSocket();
  if (onConnect) socket.once("connect", onConnect);
  const conn = stack.connect(options.host ?? "127.0.0.1", options.port, {});
  conn.handlers = socket.attach(conn);
  if (options.noDelay) socket.setNoDelay(true);
  if (options.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelay);
  if (options.timeout) socket.setTimeout(options.timeout);
  return socket;
}

/** Alias of {@link connect}, as in node. */
export const createConnection = connect;
