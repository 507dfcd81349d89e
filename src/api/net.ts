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
 * node:http, node:https and node:tls run on these sockets unchanged:
 * {@link listenNode} serves a node server on a luna-ts port (or hand each
 * socket over with `httpServer.emit("connection", socket)`), and node's HTTP
 * client takes one through `createConnection`. A socket is also a Web
 * stream pair ({@link LunaSocket.toWeb}) and, as every node Readable, can be
 * read with `for await`.
 *
 * @module
 */
import { setImmediate } from "node:timers";
import { Buffer } from "node:buffer";
import { EventEmitter } from "node:events";
import { Duplex } from "node:stream";
import { createSecureContext, type SecureContextOptions, TLSSocket } from "node:tls";
import { ConfigError } from "../errors.ts";
import type { Connection, ConnectionHandlers } from "./connection.ts";
import type { Stack } from "./stack.ts";

/** Options of {@link connect}. */
export interface ConnectOptions {
  /** The peer's port. */
  port: number;
  /** The peer's address, dotted quad. */
  host?: string;
  /** Keep our side open after the peer's FIN (node's `allowHalfOpen`); default false. */
  allowHalfOpen?: boolean;
  /** Nagle off. */
  noDelay?: boolean;
  /** TCP keepalive on (node's `keepAlive`). */
  keepAlive?: boolean;
  /** Idle time before the first keepalive probe, ms. */
  keepAliveInitialDelay?: number;
  /** Idle timeout, ms (as `socket.setTimeout`). */
  timeout?: number;
}

/** Writes up to this size made in one turn of the event loop are gathered into one send (see `LunaSocket.#send`). */
const stageChunkMax = 16384;
const stageBytes = 65536;

/** Linux's numbers for the errors a socket reports (node gives them negated as `errno`). */
const errnos: Record<string, number> = {
  EPIPE: 32,
  ECONNABORTED: 103,
  ECONNRESET: 104,
  ETIMEDOUT: 110,
  ECONNREFUSED: 111,
};

/** An error shaped as node's socket errors are: `read ECONNRESET`, with `code`, `errno` and `syscall`. */
function socketError(code: string, syscall: string, address?: string, port?: number): Error {
  const where = address !== undefined ? ` ${address}:${port}` : "";
  const e = new Error(`${syscall} ${code}${where}`) as Error & Record<string, unknown>;
  e.errno = -(errnos[code] ?? 0);
  e.code = code;
  e.syscall = syscall;
  if (address !== undefined) {
    e.address = address;
    e.port = port;
  }
  return e;
}

function codeOf(error: string): string {
  if (error.includes("reset")) return "ECONNRESET";
  if (error.includes("refused")) return "ECONNREFUSED";
  if (error.includes("timed out")) return "ETIMEDOUT";
  return "ECONNABORTED";
}

/** node's `writeAfterFIN`: a socket without allowHalfOpen, once the peer has ended, refuses writes with EPIPE. */
function writeAfterFIN(
  this: LunaSocket,
  chunk: unknown,
  encoding?: BufferEncoding | ((e?: Error | null) => void),
  cb?: (e?: Error | null) => void,
): boolean {
  if (!this.writableEnded) {
    return Duplex.prototype.write.call(this, chunk, encoding as BufferEncoding, cb);
  }
  const callback = typeof encoding === "function" ? encoding : cb;
  const e = Object.assign(new Error("This socket has been ended by the other party"), { code: "EPIPE" });
  if (callback) process.nextTick(callback, e);
  this.destroy(e);
  return false;
}

function onReadableStreamEnd(this: LunaSocket): void {
  if (!this.allowHalfOpen) this.write = writeAfterFIN as LunaSocket["write"];
}

/**
 * A `net.Socket` over a luna-ts connection. What node's socket gets from the
 * kernel it gets from luna-ts's TCP: a FIN when destroyed with everything
 * read, a reset when destroyed with unread data or by `resetAndDestroy()`,
 * a reset for data that arrives after it was destroyed, and the kernel's
 * error codes (ECONNREFUSED, ECONNRESET, ETIMEDOUT) with `syscall` and `errno`.
 */
export class LunaSocket extends Duplex {
  #conn: Connection | undefined;
  /** What `_write`/`_writev` handed over and the connection has not fully taken yet; `cb` once it has. */
  #pendingWrite: { parts: Uint8Array[]; cb: (e?: Error | null) => void } | undefined;
  /** Small writes of this turn of the event loop, accepted already, copied here and sent together at its end. */
  #stage: Buffer | undefined;
  #stageLen = 0;
  #flushQueued = false;
  /** Accepted bytes the connection could not take yet (its zone was short of buffers): first out on onWritable. */
  #backlog: Uint8Array | undefined;
  /** `_final` waiting for the connection, or for the writes before it. */
  #pendingFinal: ((e?: Error | null) => void) | undefined;
  #wantRead = true;
  /** The peer's FIN came; `push(null)` once the bytes before it are read. */
  #peerEnded = false;
  #pushedEnd = false;
  #reset = false;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #lastActivity = 0;
  /** Bytes given to `_write` (node's `_bytesDispatched`), and the length of the chunk being written. */
  #dispatched = 0;
  #inFlight = 0;
  /** Whether the connection is still opening (node's `connecting`). */
  connecting = true;
  /** Bytes delivered to the reader so far. */
  bytesRead = 0;
  /** The idle timeout of {@link setTimeout}, as node keeps it (undefined until set). */
  timeout: number | undefined = undefined;
  /** Always IPv4. */
  readonly remoteFamily = "IPv4";

  /** @internal */
  constructor(options?: { allowHalfOpen?: boolean }) {
    // node's net.Socket emits 'close' itself, with hadError, once the handle is closed.
    super({ allowHalfOpen: options?.allowHalfOpen ?? false, decodeStrings: true, emitClose: false });
    this.on("end", onReadableStreamEnd);
  }

  /** @internal Attaches the connection and returns the handlers that feed this stream. */
  attach(conn: Connection): ConnectionHandlers {
    this.#conn = conn;
    conn.data = this;
    const handlers: ConnectionHandlers = {
      onOpen: () => {
        this.connecting = false;
        this.#touch();
        this.#flushPending();
        this.emit("connect");
        this.emit("ready");
      },
      onData: () => {
        if (this.destroyed) {
          // As the kernel answers data for a closed socket: with a reset.
          conn.abort();
          return;
        }
        this.#touch();
        this.#pull();
      },
      onEnd: () => {
        this.#peerEnded = true;
        this.#pull();
      },
      onWritable: () => this.#flushPending(),
      onClose: (_c, error) => {
        if (error !== undefined) {
          const connecting = this.connecting;
          this.connecting = false;
          const e = connecting
            ? socketError(codeOf(error), "connect", conn.remoteAddress, conn.remotePort)
            : socketError(codeOf(error), "read");
          this.destroy(e);
          return;
        }
        // Closed cleanly: both FINs are through. The stream ends once the reader has read
        // what came before the FIN, and then closes by itself (autoDestroy).
        this.connecting = false;
        this.#peerEnded = true;
        this.#failPending(socketError("EPIPE", "write"));
        this.#pull();
        // Our FIN went without end() (the stack closed the connection): our side is done too.
        if (!this.writableEnded) this.end();
      },
    };
    if (conn.state === "ESTABLISHED" || conn.state === "CLOSE-WAIT") this.connecting = false;
    return handlers;
  }

  /** The peer's address, once connected. */
  get remoteAddress(): string | undefined {
    return this.#conn?.remoteAddress;
  }
  /** The peer's port, once connected. */
  get remotePort(): number | undefined {
    return this.#conn?.remotePort;
  }
  /** Our address, once connected. */
  get localAddress(): string | undefined {
    return this.#conn?.localAddress;
  }
  /** Our port, once connected. */
  get localPort(): number | undefined {
    return this.#conn?.localPort;
  }
  /** Bytes written, counting those still queued in the stream (as node counts them). */
  get bytesWritten(): number {
    return this.#dispatched + Math.max(0, this.writableLength - this.#inFlight);
  }
  /** Whether the socket is not connected yet. */
  get pending(): boolean {
    return this.#conn === undefined || this.connecting;
  }
  /** The luna-ts connection underneath. */
  get connection(): Connection | undefined {
    return this.#conn;
  }
  /** `opening`, `open`, `readOnly`, `writeOnly` or `closed`, as node reports it. */
  get readyState(): string {
    if (this.connecting) return "opening";
    if (this.readable && this.writable) return "open";
    if (this.readable) return "readOnly";
    if (this.writable) return "writeOnly";
    return "closed";
  }

  /** Our address, family and port (empty before the connection opens). */
  address(): { address: string; family: string; port: number } | Record<string, never> {
    if (this.#conn === undefined) return {};
    return { address: this.#conn.localAddress, family: "IPv4", port: this.#conn.localPort };
  }

  /** Turns Nagle's algorithm off (true) or on. */
  setNoDelay(noDelay = true): this {
    this.#conn?.setNoDelay(noDelay);
    return this;
  }

  /** Turns TCP keepalive on or off; `initialDelay`: idle ms before the first probe. */
  setKeepAlive(enable = false, initialDelay = 0): this {
    this.#conn?.setKeepAlive(enable, initialDelay > 0 ? initialDelay : undefined);
    return this;
  }

  /**
   * Emits 'timeout' once after `ms` without activity (reads, writes); activity
   * arms it again; 0 disarms it. The socket stays open, as in node.
   */
  setTimeout(ms: number, callback?: () => void): this {
    this.timeout = ms;
    if (callback) {
      if (ms === 0) this.removeListener("timeout", callback);
      else this.once("timeout", callback);
    }
    this.#clearTimer();
    if (ms > 0) {
      this.#lastActivity = performance.now();
      this.#arm();
    }
    return this;
  }

  /** Ends our side, then destroys the socket once everything is written (node's `destroySoon`). */
  destroySoon(): void {
    if (this.writable) this.end();
    if (this.writableFinished) this.destroy();
    else this.once("finish", () => this.destroy());
  }

  /** Closes the connection with a reset (RST), then destroys the socket. */
  resetAndDestroy(): this {
    if (this.#conn === undefined) {
      this.destroy(Object.assign(new Error("Socket is closed"), { code: "ERR_SOCKET_CLOSED" }));
    } else if (this.connecting) {
      this.once("connect", () => this.resetAndDestroy());
    } else {
      this.#reset = true;
      this.destroy();
    }
    return this;
  }

  /** No effect (the stack's loop keeps the process alive); for node compatibility. */
  ref(): this {
    return this;
  }
  /** No effect (the stack's loop keeps the process alive); for node compatibility. */
  unref(): this {
    return this;
  }

  /** The socket as Web Streams (`readable`, `writable`), with the backpressure of both (node's `Duplex.toWeb`). */
  toWeb(): { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> } {
    return Duplex.toWeb(this) as unknown as { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> };
  }

  /** @internal Readable's hook: resumes reading from the connection. */
  override _read(_size: number): void {
    this.#wantRead = true;
    this.#pull();
  }

  /** @internal Writable's hook: writes a chunk to the connection. */
  override _write(chunk: Buffer, _encoding: string, cb: (e?: Error | null) => void): void {
    this.#send([new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength)], chunk.byteLength, cb);
  }

  /** Every chunk buffered while a write was under way, in one go (node hands them to one writev(2)). */
  override _writev(chunks: { chunk: Buffer }[], cb: (e?: Error | null) => void): void {
    let total = 0;
    const parts = chunks.map(({ chunk }) => {
      total += chunk.byteLength;
      return new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    });
    this.#send(parts, total, cb);
  }

  #send(parts: Uint8Array[], total: number, cb: (e?: Error | null) => void): void {
    this.#dispatched += total;
    const conn = this.#conn;
    if (conn === undefined || this.connecting) {
      this.#pendingWrite = { parts, cb }; // onOpen sends it
      this.#inFlight = total;
      return;
    }
    this.#touch();
    // Small writes made in one turn of the event loop leave together (sent on setImmediate), as
    // a corked node socket writev(2)s them and Bun's sockets, corked for a turn, send them: a
    // response's head written apart from its body, or a TLS record written a tick after the one
    // before it, would otherwise wait on Nagle for the peer's delayed ACK (40 ms with Linux).
    // They are accepted at once, as the kernel accepts what fits in its buffer.
    if (
      this.#backlog === undefined && this.#pendingWrite === undefined && total <= stageChunkMax &&
      this.#stageLen + total <= Math.min(stageBytes, conn.sendSpace)
    ) {
      this.#stage ??= Buffer.allocUnsafe(stageBytes);
      for (const p of parts) {
        this.#stage.set(p, this.#stageLen);
        this.#stageLen += p.length;
      }
      if (!this.#flushQueued) {
        this.#flushQueued = true;
        setImmediate(this.#flushStage);
        // That runs after the loop's next round starts: the round ends after its first poll.
        conn._yieldSoon();
      }
      cb();
      return;
    }
    this.#flushStage();
    this.#pendingWrite = { parts, cb };
    this.#inFlight = total;
    this.#flushPending();
  }

  /** Sends what this tick's small writes staged. */
  readonly #flushStage = (): void => {
    this.#flushQueued = false;
    const conn = this.#conn;
    if (this.#stageLen === 0 || conn === undefined) return;
    const data = this.#stage!.subarray(0, this.#stageLen);
    this.#stageLen = 0;
    const n = conn.write(data);
    // Short only when the zone ran short of buffers (the send space was checked): onWritable follows.
    if (n < data.length && conn.writable) this.#backlog = data.slice(n);
  };

  /** @internal Writable's hook: sends our FIN once the writes are out. */
  override _final(cb: (e?: Error | null) => void): void {
    this.#pendingFinal = cb;
    this.#flushStage();
    this.#flushPending();
  }

  /** Our FIN, once everything written before it is with the connection. */
  #finish(cb: (e?: Error | null) => void): void {
    // The stack lets go of unread bytes once both FINs are through: with the
    // peer's FIN in already, take them into the stream now, as the kernel keeps them.
    if (this.#peerEnded) this.#pull(true);
    this.#conn!.close();
    cb();
  }

  /** @internal Destroys the socket: aborts the connection unless it ended. */
  override _destroy(err: Error | null, cb: (e?: Error | null) => void): void {
    this.#clearTimer();
    const conn = this.#conn;
    if (conn !== undefined && !conn.tcb.dead) {
      // As close(2) does: a reset when asked for one or when received bytes go unread, else a
      // FIN after what was written (as the kernel sends what its buffer holds).
      if (this.#reset || conn.readable > 0) conn.abort();
      else {
        this.#flushStage();
        conn.close();
      }
    }
    this.#stageLen = 0;
    this.#backlog = undefined;
    this.#failPending(
      err ??
        Object.assign(new Error("Cannot call write after a stream was destroyed"), {
          code: "ERR_STREAM_DESTROYED",
        }),
    );
    this.#pendingFinal = undefined;
    cb(err);
    // 'close' after the 'error' that destroy(err) emits on the next tick, as node's handle close is.
    const hadError = err ? true : false;
    setImmediate(() => this.emit("close", hadError));
  }

  /** Hands the connection what waits for it, in order: the backlog, the pending write, then the FIN. */
  #flushPending(): void {
    const conn = this.#conn;
    if (conn === undefined || this.connecting) return;
    if (this.#backlog !== undefined) {
      const n = conn.write(this.#backlog);
      if (n < this.#backlog.length) {
        if (conn.writable) {
          this.#backlog = this.#backlog.subarray(n);
          return;
        }
        this.#failPending(socketError("EPIPE", "write"));
      }
      this.#backlog = undefined;
    }
    const p = this.#pendingWrite;
    if (p !== undefined) {
      while (p.parts.length > 0) {
        const d = p.parts[0];
        const n = conn.write(d);
        if (n === d.length) p.parts.shift();
        else if (!conn.writable) {
          this.#failPending(socketError("EPIPE", "write"));
          return;
        } else {
          p.parts[0] = d.subarray(n); // the rest goes on onWritable
          return;
        }
      }
      this.#pendingWrite = undefined;
      this.#inFlight = 0;
      p.cb(); // may hand over the next write, and flush it
    }
    const f = this.#pendingFinal;
    if (
      f !== undefined && this.#pendingWrite === undefined && this.#backlog === undefined &&
      this.#stageLen === 0
    ) {
      this.#pendingFinal = undefined;
      this.#finish(f);
    }
  }

  #failPending(e: Error): void {
    const p = this.#pendingWrite;
    this.#pendingWrite = undefined;
    this.#inFlight = 0;
    p?.cb(e);
  }

  /**
   * Moves received bytes into the stream while it wants them (all of them when
   * `all`); leaves the rest in the connection's window.
   */
  #pull(all = false): void {
    const conn = this.#conn;
    if (conn === undefined || this.#pushedEnd) return;
    while ((this.#wantRead || all) && conn.readable > 0) {
      const buf = Buffer.allocUnsafe(Math.min(conn.readable, 65536));
      const n = conn.read(buf);
      this.bytesRead += n;
      this.#wantRead = this.push(n === buf.length ? buf : buf.subarray(0, n));
      // The stream's readers run after this turn (node:http's parser, its handler): the loop ends its
      // round of polls after this poll rather than polling on while their answer waits.
      conn._yieldSoon();
    }
    if (this.#peerEnded && conn.readable === 0) {
      this.#pushedEnd = true;
      this.push(null);
    }
  }

  #touch(): void {
    this.#lastActivity = performance.now();
    if (this.#timer === undefined && (this.timeout ?? 0) > 0 && !this.destroyed) this.#arm();
  }

  /** One timer per idle period: it fires once, and activity arms the next (node's unref'd socket timer). */
  #arm(): void {
    const ms = this.timeout ?? 0;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.destroyed || (this.timeout ?? 0) !== ms) return;
      const idle = performance.now() - this.#lastActivity;
      if (idle + 1 >= ms) this.emit("timeout");
      else this.#arm();
    }, Math.max(1, ms - (performance.now() - this.#lastActivity)));
  }

  #clearTimer(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }
}

/** A `net.Server` over a luna-ts stack. */
export class LunaServer extends EventEmitter {
  readonly #stack: Stack;
  #port = 0;
  #listening = false;
  readonly #sockets = new Set<LunaSocket>();
  readonly #allowHalfOpen: boolean;

  /** A server on `stack`; `listener` gets each accepted socket. */
  constructor(stack: Stack, options: { allowHalfOpen?: boolean } = {}, listener?: (s: LunaSocket) => void) {
    super();
    this.#stack = stack;
    this.#allowHalfOpen = options.allowHalfOpen ?? false;
    if (listener) this.on("connection", listener);
  }

  /** Whether the server listens. */
  get listening(): boolean {
    return this.#listening;
  }

  /**
   * Listens on `port` (the host, when given, must be the stack's address).
   * No port, `undefined` or 0 picks a free one, as node does: `address()`
   * reports it.
   */
  listen(port?: number | { port?: number } | (() => void), ...rest: unknown[]): this {
    const p = typeof port === "object" && port !== null ? port.port ?? 0 : typeof port === "number" ? port : 0;
    const cb = [port, ...rest].find((r) => typeof r === "function") as (() => void) | undefined;
    try {
      this.#port = this.#stack.listen(p, (conn) => {
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
    this.#listening = true;
    if (cb) this.once("listening", cb);
    queueMicrotask(() => this.emit("listening"));
    return this;
  }

  /** Our address, family and the port listened on (the one picked for port 0); null when not listening. */
  address(): { address: string; family: string; port: number } | null {
    if (!this.#listening) return null;
    return { address: this.#stack.ip.iface.toString().split("/")[0], family: "IPv4", port: this.#port };
  }

  /** Stops accepting; 'close' once every connection has closed. */
  close(cb?: (e?: Error) => void): this {
    if (!this.#listening) {
      queueMicrotask(() =>
        cb?.(Object.assign(new Error("Server is not running."), { code: "ERR_SERVER_NOT_RUNNING" }))
      );
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

  /** Calls `cb` with the number of open connections. */
  getConnections(cb: (e: Error | null, n: number) => void): this {
    queueMicrotask(() => cb(null, this.#sockets.size));
    return this;
  }

  /** No effect (the stack's loop keeps the process alive); for node compatibility. */
  ref(): this {
    return this;
  }
  /** No effect (the stack's loop keeps the process alive); for node compatibility. */
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
  const socket = new LunaSocket({ allowHalfOpen: options.allowHalfOpen });
  if (onConnect) socket.once("connect", onConnect);
  const conn = stack.connect(options.host ?? "127.0.0.1", options.port, {});
  conn.handlers = socket.attach(conn);
  if (options.noDelay) socket.setNoDelay(true);
  if (options.keepAlive) socket.setKeepAlive(true, options.keepAliveInitialDelay);
  if (options.timeout) socket.setTimeout(options.timeout);
  return socket;
}

/** A node server that takes its sockets by the 'connection' event: node:http's, node:net's. */
export interface NodeServerLike {
  /** Hands the server one accepted socket. */
  emit(event: "connection", socket: unknown): boolean;
  /** Stops the server; `cb` runs once it has closed. */
  close(cb?: (e?: Error) => void): unknown;
}

/** Options of {@link listenNode}. */
export interface ListenNodeOptions {
  /** Serve TLS: each socket is wrapped in a server-side `tls.TLSSocket` with these (key, cert, ...) first. */
  tls?: SecureContextOptions;
  /** Called once listening. */
  onListening?: () => void;
}

/**
 * Serves a node server that takes its sockets by the 'connection' event
 * (`http.createServer()`; `net.createServer()`) on `port` of a luna-ts stack:
 * every accepted socket goes to it (through TLS with `options.tls`: HTTPS is
 * node:http with `{ tls: { key, cert } }`), its `listening` and `address()`
 * are those of the luna-ts port, and its `close()` stops the port too.
 * Returns the luna-ts server.
 *
 * Why `listening` matters: Deno's node:http (its port of node's
 * `resOnFinish`) destroys a socket once a response is done when its server
 * does not read as `listening` (a server that is closing), and a server that
 * is only handed sockets never listens by itself: every response on Deno
 * then closed its connection. Through this function keep-alive works on
 * Deno as on Bun and node.
 *
 * @example
 * ```ts
 * import { createServer } from "node:http";
 * import { listenNode } from "luna-ts/net";
 * listenNode(createServer((req, res) => res.end("hi\n")), stack, 80);
 * listenNode(createServer((req, res) => res.end("hi\n")), stack, 443, { tls: { key, cert } });
 * ```
 */
export function listenNode(
  server: NodeServerLike,
  stack: Stack,
  port: number,
  options: ListenNodeOptions = {},
): LunaServer {
  const secureContext = options.tls !== undefined ? createSecureContext(options.tls) : undefined;
  const luna = createServer(stack, (socket) => {
    if (secureContext === undefined) {
      server.emit("connection", socket);
      return;
    }
    const t = new TLSSocket(socket as never, { isServer: true, secureContext });
    // A failed handshake ends that connection only, as in a node:https server.
    t.on("error", () => socket.destroy());
    server.emit("connection", t);
  });
  const target = server as unknown as Record<string, unknown>;
  Object.defineProperty(target, "listening", { configurable: true, get: () => luna.listening });
  target.address = () => luna.address();
  const nodeClose = server.close;
  target.close = function (cb?: (e?: Error) => void) {
    if (luna.listening) luna.close();
    // node's close: closes idle connections and emits 'close' once the last one is gone.
    return nodeClose.call(server, (e?: Error & { code?: string }) => {
      // node's net.Server has no handle of its own here; that it "was not running" is no error.
      cb?.(e?.code === "ERR_SERVER_NOT_RUNNING" ? undefined : e);
    });
  };
  luna.listen(port, options.onListening);
  return luna;
}

/** Alias of {@link connect}, as in node. */
export const createConnection = connect;
