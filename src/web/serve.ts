/**
 * `serve()`: a Web-standard HTTP/1.1 server on a luna-ts stack, in the shape
 * of `Bun.serve` and `Deno.serve`. The handler gets a `Request` (an
 * `instanceof Request` that builds the runtime's own only when the handler
 * needs more than its method, URL and headers: see ./request.ts) and returns
 * a `Response` (or a promise of one).
 *
 * - Keep-alive and pipelining: requests on a connection are answered one
 *   after the other, in order. The next request is not read until the answer
 *   to the one before is queued, so a client that pipelines faster than the
 *   server answers is held back by TCP's window, not by a growing buffer.
 * - Bodies are streams both ways. A request body (Content-Length or chunked)
 *   is a `ReadableStream` that reads from the connection only when the
 *   handler reads it: a handler that reads slowly keeps the sender waiting on
 *   the window. A response body is written as the handler's stream yields
 *   it, each piece only once the connection took the one before (a slow
 *   client holds the stream, not the server's memory). A body that is over
 *   within a few microtask turns goes out with Content-Length, else chunked.
 * - Limits: a head over `maxHeaderBytes` is answered 431, a body over
 *   `maxBodyBytes` 413 (before the handler runs when Content-Length says so;
 *   a chunked body errors the handler's stream when it passes the limit);
 *   a malformed request 400 (505 for a version other than HTTP/1.x, 501 for a
 *   transfer coding other than chunked). Each of these closes the
 *   connection, since the framing of what follows is lost.
 * - `Connection: close` from either side (and HTTP/1.0 without keep-alive)
 *   closes after the answer.
 * - Header fields go out as the `Response`'s `headers` hold them. Under Bun
 *   a `Response` made from a string holds no Content-Type there (Bun.serve
 *   adds `text/plain;charset=utf-8` from the body's own type, which no public
 *   API shows without reading the body); so under Bun a body that is over
 *   within a few microtask turns (a string, bytes, a Blob, a short stream)
 *   and has no Content-Type goes out with `text/plain;charset=utf-8`, as
 *   Bun.serve sends a string's (it sends bytes as `application/octet-stream`
 *   and a stream without a type: set the type where that matters).
 *   Under Deno the `Response` holds it, as Deno.serve sends it.
 * - {@link LunaHttpServer.shutdown}: stops accepting, closes idle
 *   connections, lets requests in flight finish (their answers carry
 *   `Connection: close`), then resolves once every connection has closed.
 *
 * The stack's loop must be running (`stack.run()`).
 *
 * @example
 * ```ts
 * import { createStack, serve } from "luna-ts";
 * const stack = await createStack({ device: "af_packet:veth0", address: "198.18.0.2/24" });
 * serve(stack, { port: 80, fetch: (req) => new Response(`hello from ${new URL(req.url).pathname}\n`) });
 * await stack.run();
 * ```
 *
 * @module
 */
import { BadRequest, BodyReader, HeadReader, parseHead, type RequestHead } from "../apps/http_request.ts";
import type { Connection, ConnectionHandlers } from "../api/connection.ts";
import type { Stack } from "../api/stack.ts";
import { ConfigError } from "../errors.ts";
import {
  bodyless,
  chunk,
  encodeHead,
  type Framing,
  lastChunk,
  plainResponse,
  requestUrl,
  type ResponseFields,
  responseFields,
  responseHeadBytes,
} from "./http1.ts";
import { checkRequest, LunaRequest } from "./request.ts";
import {
  asBytes,
  asciiLength,
  assemble,
  assembleAscii,
  assembly,
  gatherBytesMax,
  heldBytes,
  lazyText,
  peek,
  pending,
  settledSoon,
} from "./response_body.ts";

/** What the handler learns about the request's connection besides the `Request` (one object per connection). */
export interface ServeInfo {
  /** The client, as `Deno.serve` gives it. */
  remoteAddr: { transport: "tcp"; hostname: string; port: number };
  /** The luna-ts connection (stats, options). */
  connection: Connection;
}

/** Options of {@link serve}. */
export interface ServeOptions {
  /** The TCP port to listen on. */
  port: number;
  /** Answers a request. */
  fetch(request: Request, info: ServeInfo): Response | Promise<Response>;
  /** Answers when `fetch` throws or returns no `Response`; default: a 500 naming the error. */
  onError?(error: unknown): Response | Promise<Response>;
  /** Largest request head, bytes (431 beyond); default 16384. */
  maxHeaderBytes?: number;
  /** Largest request body, bytes (413 beyond); default 128 MiB (as Bun.serve). */
  maxBodyBytes?: number;
  /** Connections to the port at most (beyond, SYNs are refused with a RST). */
  maxConnections?: number;
}

/** What a server counted. */
export interface ServeStats {
  /** Connections accepted. */
  connections: number;
  /** Connections open now. */
  open: number;
  /** Requests handed to `fetch`. */
  requests: number;
  /** Answers with a 2xx status. */
  responses2xx: number;
  /** Answers with a 3xx status. */
  responses3xx: number;
  /** Answers with a 4xx status (the server's own 400, 413, 431 included). */
  responses4xx: number;
  /** Answers with a 5xx status (the server's own 500, 501, 505 included). */
  responses5xx: number;
  /** Requests refused before the handler as malformed (400, 501, 505). */
  malformed: number;
  /** Requests refused for a head over `maxHeaderBytes` (431). */
  headTooLarge: number;
  /** Requests refused for a body over `maxBodyBytes` (413). */
  bodyTooLarge: number;
  /** Times `fetch` threw or returned something other than a Response. */
  handlerErrors: number;
  /** Answers sent chunked (or, to HTTP/1.0, delimited by the close). */
  chunked: number;
  /** Answers sent with a Content-Length (or bodyless). */
  sized: number;
}

const noBody = () => null;
const noParts: Uint8Array[] = [];
const framedNone: Framing = { kind: "none" };
const framedEmpty: Framing = { kind: "length", length: 0 };
const framedChunked: Framing = { kind: "chunked" };
const framedClose: Framing = { kind: "close" };
const encoder = new TextEncoder();

/** The connection closed under the server (reset, or gone before the answer was out). */
class Gone extends Error {}

/**
 * One connection: reads requests, calls the handler, writes answers, in
 * order. It is the connection's handlers, too (methods: no closures made per
 * connection).
 */
class Session implements ConnectionHandlers {
  readonly c: Connection;
  #info: ServeInfo | undefined;
  #localHost: string | undefined;
  #waiters: (() => void)[] = [];
  #spare: (() => void)[] = [];
  /** The peer sent FIN. */
  ended = false;
  /** The connection is gone (both FINs, or a reset). */
  closed = false;
  /** Our side closed: what arrives now is read and dropped. */
  closing = false;
  /** Waiting for more of a request head: what arrives next is served at once ({@link LunaHttpServer._serve}). */
  awaitingHead = false;
  readonly head: HeadReader;
  readonly body: BodyReader = new BodyReader();
  /** The current request's body stream has been abandoned (the answer is out): it reads no more. */
  bodyGen = 0;
  /** Why the request body failed, if it did: the status to answer. */
  bodyError: BadRequest | undefined;
  readonly #server: LunaHttpServer;

  constructor(c: Connection, server: LunaHttpServer, maxHeaderBytes: number) {
    this.c = c;
    this.#server = server;
    this.head = new HeadReader(maxHeaderBytes);
  }

  onData(c: Connection): void {
    if (this.closing) return this.drop(c);
    this.ready();
  }

  onWritable(): void {
    this.wake();
  }

  onEnd(): void {
    this.ended = true;
    this.ready();
  }

  onClose(): void {
    this.closed = true;
    this.ready();
    this.#server._closed(this);
  }

  /**
   * Something happened on the connection: a server waiting for a request head
   * reads it now, inside the loop's poll (a handler that returns a Response
   * answers in the poll that brought the request, and the answer leaves with
   * that poll's transmit); whoever else waits (a body stream, a write) wakes.
   */
  ready(): void {
    this.wake();
    if (this.awaitingHead) this.#server._serve(this);
  }

  wake(): void {
    const w = this.#waiters;
    if (w.length === 0) return;
    // The two lists take turns: a waiter added while these are called waits for the next wake.
    this.#waiters = this.#spare;
    this.#spare = w;
    for (let i = 0; i < w.length; i++) w[i]();
    w.length = 0;
    this.c._yieldSoon();
  }

  /** Resolves on the connection's next event. */
  wait(): Promise<void> {
    return new Promise((r) => this.#waiters.push(r));
  }

  /** Reads and drops what arrives after our side closed. */
  drop(c: Connection): void {
    for (let n = c.pieceLength; n > 0; n = c.pieceLength) c.consume(n);
  }

  /** Closes our side after what is queued; reads and drops the rest. */
  finish(): void {
    if (this.closing) return;
    this.closing = true;
    this.drop(this.c);
    this.c.close();
  }

  /**
   * Queues `head` and `parts` (`total` bytes) with one write; undefined when
   * all of it was taken at once, else a promise of the rest.
   */
  writeNow(head: Uint8Array, parts: Uint8Array[], total: number): Promise<void> | undefined {
    if (this.closed || !this.c.writable) throw new Gone("connection closed before the answer was out");
    return this.#writeAssembly(assemble(head, parts, total));
  }

  /** {@link writeNow} of `head` and an ASCII text (see asciiLength in ./response_body.ts). */
  writeAsciiNow(head: Uint8Array, text: string): Promise<void> | undefined {
    if (this.closed || !this.c.writable) throw new Gone("connection closed before the answer was out");
    return this.#writeAssembly(assembleAscii(head, text));
  }

  /** Queues the first `length` bytes of the assembly with one write; as {@link writeNow}. */
  #writeAssembly(length: number): Promise<void> | undefined {
    const bytes = assembly();
    const n = this.c.write(bytes, 0, length);
    if (n === length) return undefined;
    return this.writeAll(bytes.slice(n, length)); // the scratch is reused: keep the rest
  }

  /** Our address and port, as a Host for requests without one (made once per connection). */
  localHost(): string {
    return this.#localHost ??= `${this.c.localAddress}:${this.c.localPort}`;
  }

  /** What the handler learns about the connection (one object for all its requests). */
  info(): ServeInfo {
    const c = this.c;
    return this.#info ??= {
      remoteAddr: { transport: "tcp", hostname: c.remoteAddress, port: c.remotePort },
      connection: c,
    };
  }

  /** Writes all of `data`, waiting for send space as needed. */
  async writeAll(data: Uint8Array): Promise<void> {
    let off = 0;
    while (off < data.length) {
      if (this.closed || !this.c.writable) throw new Gone("connection closed before the answer was out");
      off += this.c.write(data, off, data.length - off);
      if (off < data.length) await this.wait();
    }
  }
}

/** A running {@link serve} server. */
export class LunaHttpServer {
  readonly #stack: Stack;
  readonly #options: ServeOptions;
  readonly #maxBody: number;
  readonly #sessions = new Set<Session>();
  #stopping = false;
  #stopped = false;
  #finish!: () => void;
  readonly #stats: ServeStats = {
    connections: 0,
    open: 0,
    requests: 0,
    responses2xx: 0,
    responses3xx: 0,
    responses4xx: 0,
    responses5xx: 0,
    malformed: 0,
    headTooLarge: 0,
    bodyTooLarge: 0,
    handlerErrors: 0,
    chunked: 0,
    sized: 0,
  };
  /** The port served. */
  readonly port: number;
  /** Resolves once the server has shut down and every connection is closed. */
  readonly finished: Promise<void>;

  /** @internal Use {@link serve}. */
  constructor(stack: Stack, options: ServeOptions) {
    const { port, maxHeaderBytes = 16384, maxBodyBytes = 128 * 1024 * 1024 } = options;
    if (!Number.isInteger(port) || port < 1 || port > 65535) {
      throw new ConfigError("port", `expected 1..65535, got ${port}`);
    }
    if (typeof options.fetch !== "function") throw new ConfigError("fetch", "expected a function");
    if (!Number.isInteger(maxHeaderBytes) || maxHeaderBytes < 64 || maxHeaderBytes > 1 << 20) {
      throw new ConfigError("maxHeaderBytes", `expected an integer 64..1048576, got ${maxHeaderBytes}`);
    }
    if (!Number.isInteger(maxBodyBytes) || maxBodyBytes < 0) {
      throw new ConfigError("maxBodyBytes", `expected an integer >= 0, got ${maxBodyBytes}`);
    }
    this.#stack = stack;
    this.#options = options;
    this.#maxBody = maxBodyBytes;
    this.port = port;
    this.finished = new Promise((r) => (this.#finish = r));
    stack.listen(port, (c) => {
      const s = new Session(c, this, maxHeaderBytes);
      this.#sessions.add(s);
      this.#stats.connections++;
      this.#stats.open++;
      // Answers end in short segments; Nagle would hold them for the client's delayed ACK.
      c.setNoDelay(true);
      this._serve(s);
      return s;
    }, { maxConnections: options.maxConnections });
  }

  /** A copy of the counters. */
  stats(): ServeStats {
    return { ...this.#stats };
  }

  /**
   * Stops accepting connections, closes those waiting for a request, lets the
   * requests in flight finish (their answers close the connection), and
   * resolves once every connection has closed.
   */
  shutdown(): Promise<void> {
    if (!this.#stopping) {
      this.#stopping = true;
      this.#stack.unlisten(this.port);
      for (const s of this.#sessions) s.ready();
      this.#checkDone();
    }
    return this.finished;
  }

  /** @internal A connection closed. */
  _closed(s: Session): void {
    if (this.#sessions.delete(s)) this.#stats.open--;
    this.#checkDone();
  }

  #checkDone(): void {
    if (this.#stopping && !this.#stopped && this.#sessions.size === 0) {
      this.#stopped = true;
      this.#finish();
    }
  }

  #count(status: number): void {
    if (status < 300) this.#stats.responses2xx++;
    else if (status < 400) this.#stats.responses3xx++;
    else if (status < 500) this.#stats.responses4xx++;
    else this.#stats.responses5xx++;
  }

  /**
   * @internal Serves the requests that have arrived on `s`, until one needs
   * more bytes (then `s` waits for a head, and its next data calls this
   * again) or the connection closes. What can be done at once is done at
   * once, without a promise turn: a handler that returns a `Response` (not a
   * promise) is answered in the same call, and a body that is there already
   * goes out with it; so the requests of a pipelined burst are answered in one
   * go, inside the poll that received them, and their answers leave with that
   * poll's transmit. An answer that needs promise turns calls this again once
   * it is out.
   */
  _serve(s: Session): void {
    s.awaitingHead = false;
    try {
      while (!s.closing && !s.closed) {
        const head = this.#headNow(s);
        if (head === null) {
          s.awaitingHead = true;
          return;
        }
        if (head === undefined) break;
        const close = this.#exchange(s, head);
        if (typeof close !== "boolean") {
          // Its continuations run once the loop yields: it ends its round of polls after this one,
          // instead of polling on while the answer waits (up to a millisecond).
          s.c._yieldSoon();
          close.then((c) => c ? s.finish() : this._serve(s), (e) => this.#failed(s, e));
          return;
        }
        if (close) break;
      }
    } catch (e) {
      this.#failed(s, e);
      return;
    }
    s.finish();
  }

  /** Ends `s` after a failure: the peer's (answered, then closed), the connection's, or ours. */
  #failed(s: Session, e: unknown): void {
    if (e instanceof BadRequest) return this.#refuse(s, e);
    if (!(e instanceof Gone)) {
      // A bug of ours, not the peer's: say so, and end the connection.
      console.error("luna-ts serve: connection ended by an internal error:", e);
      s.c.abort();
      return;
    }
    s.finish();
  }

  /** Answers a request the server refuses before (or instead of) the handler, then closes. */
  #refuse(s: Session, e: BadRequest): void {
    if (e.status === 431) this.#stats.headTooLarge++;
    else if (e.status === 413) this.#stats.bodyTooLarge++;
    else this.#stats.malformed++;
    this.#count(e.status);
    if (!s.closed && s.c.writable) s.c.write(plainResponse(e.status, e.message + "\n", true));
    s.finish();
  }

  /**
   * The next request's head from what has arrived: the head, undefined when
   * the connection ends before one starts, or null when more must arrive.
   */
  #headNow(s: Session): RequestHead | undefined | null {
    const c = s.c;
    for (;;) {
      if (s.closed) return undefined;
      const n = c.pieceLength;
      if (n === 0) {
        if (s.head.length === 0 && (s.ended || this.#stopping)) return undefined;
        if (s.ended) throw new BadRequest(400, "connection ended inside a request head");
        return null;
      }
      c.consume(s.head.feed(c.zoneBytes, c.pieceOffset, c.pieceOffset + n));
      if (s.head.done) return parseHead(s.head.take());
    }
  }

  /** One request and its answer; returns (at once where it can) whether the connection closes after it. */
  #exchange(s: Session, head: RequestHead): boolean | Promise<boolean> {
    const localHost = s.localHost();
    // An origin-form target's URL (the usual one) is made only if the handler reads it; any other is made
    // (and refused with a 400 where it makes none) now.
    const url = head.target.startsWith("/") ? undefined : requestUrl(head, localHost);
    const kind = head.body.kind;
    if (kind === "length" && (head.body as { length: number }).length > this.#maxBody) {
      throw new BadRequest(413, `request body over ${this.#maxBody} bytes`);
    }
    if (kind !== "none" && (head.method === "GET" || head.method === "HEAD")) {
      throw new BadRequest(400, `${head.method} request with a body`);
    }
    s.body.start(head.body);
    s.bodyError = undefined;
    const method = checkRequest(head, url, localHost);
    const gen = ++s.bodyGen;
    const body = kind === "none" ? noBody : () => this.#bodyStream(s, gen, head.expectContinue);
    const request = new LunaRequest(method, head, url, localHost, body) as unknown as Request;
    this.#stats.requests++;
    let out: Response | Promise<Response>;
    try {
      out = this.#options.fetch(request, s.info());
    } catch (e) {
      out = Promise.reject(e);
    }
    if (out instanceof Response) return this.#answer(s, head, out);
    return this.#answerLater(s, head, out);
  }

  /** The request body as a stream that reads from the connection only as the handler reads it. */
  #bodyStream(s: Session, gen: number, expectContinue: boolean): ReadableStream<Uint8Array> {
    const c = s.c;
    let continueSent = !expectContinue;
    return new ReadableStream<Uint8Array>({
      pull: async (ctl) => {
        for (;;) {
          if (gen !== s.bodyGen) return ctl.error(new Error("the answer was sent: the request body is gone"));
          if (s.body.done) return ctl.close();
          if (!continueSent) {
            // RFC 9110 10.1.1: the client waits for this before it sends the body.
            continueSent = true;
            c.write(encodeHead("HTTP/1.1 100 Continue\r\n\r\n"));
          }
          const n = c.pieceLength;
          if (n === 0) {
            if (s.ended || s.closed) return ctl.error(new Error("connection ended inside the request body"));
            await s.wait();
            continue;
          }
          let payload: Uint8Array;
          try {
            const r = s.body.next(c.zoneBytes.subarray(c.pieceOffset, c.pieceOffset + n));
            if (s.body.total > this.#maxBody) {
              throw new BadRequest(413, `request body over ${this.#maxBody} bytes`);
            }
            payload = r.payload.slice(); // the view dies with consume()
            c.consume(r.used);
          } catch (e) {
            s.bodyError = e as BadRequest;
            return ctl.error(e);
          }
          if (payload.length > 0) return ctl.enqueue(payload);
        }
      },
    }, { highWaterMark: 0 });
  }

  /** The handler's answer once its promise settles (a failure becomes the error answer). */
  async #answerLater(s: Session, head: RequestHead, out: Promise<Response>): Promise<boolean> {
    let res: Response;
    try {
      res = await out;
      if (!(res instanceof Response)) throw new TypeError(`fetch returned ${String(res)}, not a Response`);
    } catch (e) {
      if (s.bodyError !== undefined) throw s.bodyError;
      res = await this.#errorResponse(e);
    }
    return await this.#answer(s, head, res);
  }

  /** Sends `res`; then reads what the handler left of the request body. */
  #answer(s: Session, head: RequestHead, res: Response): boolean | Promise<boolean> {
    if (s.bodyError !== undefined) {
      void res.body?.cancel().catch(() => {});
      throw s.bodyError;
    }
    const none = bodyless(head.method, res.status);
    // Before the headers: under Deno, reading them makes the body a stream and drops its text.
    const text = none ? undefined : lazyText(res);
    const fields = responseFields(res, none);
    const close = !head.keepAlive || this.#stopping || fields.close;
    // An answer that ends the connection leaves with the FIN on its last segment: corked until
    // the close after it (or the end of the loop's iteration, whichever comes first).
    if (close) s.c.cork();
    const sent = this.#respond(s, head, res, fields, text, none, close);
    if (sent !== undefined) return sent.then(() => this.#afterAnswer(s, close));
    return this.#afterAnswer(s, close);
  }

  #afterAnswer(s: Session, close: boolean): boolean | Promise<boolean> {
    s.bodyGen++;
    // What the handler left of the request body is read and dropped, so that the next request starts
    // where it should; past the body limit that is not worth it, the connection closes instead.
    if (!close && !s.body.done) return this.#drainBody(s).then((ok) => !ok);
    return close;
  }

  async #errorResponse(e: unknown): Promise<Response> {
    this.#stats.handlerErrors++;
    if (this.#options.onError !== undefined) {
      try {
        const r = await this.#options.onError(e);
        if (r instanceof Response) return r;
      } catch (e2) {
        console.error("luna-ts serve: onError threw:", e2);
      }
    } else {
      console.error("luna-ts serve: the fetch handler failed:", e);
    }
    return new Response(`internal server error: ${e instanceof Error ? e.message : String(e)}\n`, {
      status: 500,
      headers: { "content-type": "text/plain;charset=utf-8" },
    });
  }

  /**
   * Writes the answer: head and body, framed by length when the body is over
   * soon, else chunked; `text` is the body as {@link lazyText} read it.
   * Returns undefined when the whole answer was queued at once (a body
   * already there: under Bun, `Bun.peek` sees a read that is done without a
   * microtask turn), else a promise of the rest.
   */
  #respond(
    s: Session,
    head: RequestHead,
    res: Response,
    fields: ResponseFields,
    text: string | undefined,
    none: boolean,
    close: boolean,
  ): Promise<void> | undefined {
    this.#count(res.status);
    if (text !== undefined) {
      this.#stats.sized++;
      const ascii = asciiLength(text);
      if (ascii >= 0) {
        return s.writeAsciiNow(responseHeadBytes(fields, { kind: "length", length: ascii }, close), text);
      }
      const bytes = encoder.encode(text);
      return s.writeNow(
        responseHeadBytes(fields, { kind: "length", length: bytes.length }, close),
        [bytes],
        bytes.length,
      );
    }
    const held = none ? undefined : heldBytes(res);
    if (held !== undefined) {
      this.#stats.sized++;
      if (held instanceof Uint8Array) return this.#writeHeld(s, fields, held, close);
      return held.then((bytes) => this.#writeHeld(s, fields, bytes, close));
    }
    const body = res.body;
    if (none || body === null) {
      void body?.cancel().catch(() => {});
      this.#stats.sized++;
      return s.writeNow(responseHeadBytes(fields, none ? framedNone : framedEmpty, close), noParts, 0);
    }
    const reader = body.getReader();
    const parts: Uint8Array[] = [];
    let gathered = 0;
    let next = reader.read();
    if (peek !== undefined) {
      try {
        while (gathered < gatherBytesMax && peek.status(next) === "fulfilled") {
          const r = peek(next) as ReadableStreamReadResult<Uint8Array>;
          if (r.done) {
            this.#stats.sized++;
            reader.releaseLock();
            if (!fields.hasType && gathered > 0) fields.textType = true;
            return s.writeNow(
              responseHeadBytes(fields, { kind: "length", length: gathered }, close),
              parts,
              gathered,
            );
          }
          const v = asBytes(r.value);
          parts.push(v);
          gathered += v.length;
          next = reader.read();
        }
      } catch (e) {
        this.#bodyFailed(s, reader, e);
      }
    }
    return this.#respondLater(s, head, fields, close, reader, next, parts, gathered);
  }

  /** An answer whose body the `Response` held as bytes (under Bun: see heldBytes in ./response_body.ts). */
  #writeHeld(
    s: Session,
    fields: ResponseFields,
    bytes: Uint8Array,
    close: boolean,
  ): Promise<void> | undefined {
    if (!fields.hasType && bytes.length > 0) fields.textType = true;
    return s.writeNow(
      responseHeadBytes(fields, { kind: "length", length: bytes.length }, close),
      [bytes],
      bytes.length,
    );
  }

  /** {@link #respond} once the body needs microtask turns (or more): gathers what comes soon, else streams. */
  async #respondLater(
    s: Session,
    head: RequestHead,
    fields: ResponseFields,
    close: boolean,
    reader: ReadableStreamDefaultReader<Uint8Array>,
    next: Promise<ReadableStreamReadResult<Uint8Array>>,
    parts: Uint8Array[],
    gathered: number,
  ): Promise<void> {
    try {
      // Gather what the body yields at once: a body that ends within a few microtask turns goes out whole.
      let done = false;
      while (gathered < gatherBytesMax) {
        const r = await settledSoon(next);
        if (r === pending) break;
        if (r.done) {
          done = true;
          break;
        }
        const v = asBytes(r.value);
        parts.push(v);
        gathered += v.length;
        next = reader.read();
      }
      if (done) {
        this.#stats.sized++;
        if (peek !== undefined && !fields.hasType && gathered > 0) fields.textType = true;
        return await s.writeNow(
          responseHeadBytes(fields, { kind: "length", length: gathered }, close),
          parts,
          gathered,
        );
      }
      this.#stats.chunked++;
      const http10 = head.version === "HTTP/1.0";
      const framing: Framing = http10 ? framedClose : framedChunked;
      const frame = http10 ? (v: Uint8Array) => v : chunk;
      const first = parts.filter((p) => p.length > 0).map(frame);
      let firstLen = 0;
      for (const p of first) firstLen += p.length;
      await s.writeNow(responseHeadBytes(fields, framing, close || http10), first, firstLen);
      for (;;) {
        const r = await next;
        if (r.done) break;
        const v = asBytes(r.value);
        if (v.length > 0) await s.writeAll(frame(v));
        next = reader.read();
      }
      if (!http10) await s.writeAll(lastChunk);
      else s.finish();
    } catch (e) {
      this.#bodyFailed(s, reader, e);
    }
  }

  /** The response body failed (or the connection went): ends the connection; throws {@link Gone}. */
  #bodyFailed(s: Session, reader: ReadableStreamDefaultReader<Uint8Array>, e: unknown): never {
    void reader.cancel(e).catch(() => {});
    if (e instanceof Gone) throw e;
    // The head is out: the only way left to say the body failed is to end the connection early.
    console.error("luna-ts serve: the response body failed:", e);
    s.c.abort();
    throw new Gone("response body failed");
  }

  /** Reads and drops the rest of the request body; false when it cannot (too long, or the connection ended). */
  async #drainBody(s: Session): Promise<boolean> {
    const c = s.c;
    while (!s.body.done) {
      const n = c.pieceLength;
      if (n === 0) {
        if (s.ended || s.closed) return false;
        await s.wait();
        continue;
      }
      const r = s.body.next(c.zoneBytes.subarray(c.pieceOffset, c.pieceOffset + n));
      c.consume(r.used);
      if (s.body.total > this.#maxBody) return false;
    }
    return true;
  }
}

/**
 * Serves HTTP/1.1 on `stack`'s `port` with a Web-standard handler; see the
 * module documentation.
 */
export function serve(stack: Stack, options: ServeOptions): LunaHttpServer {
  return new LunaHttpServer(stack, options);
}
