/**
 * A small HTTP/1.1 server (RFC 9110, 9112) with keep-alive and pipelining:
 *
 * - `GET /bytes/N` (and `HEAD`): N bytes of a fixed pattern, byte `i` of the
 *   body being `i % 256` (see ./pattern.ts); N up to 2^40. The body is
 *   copied once, from the pattern's table into packet buffers, by the
 *   stack's batched write, the response head sharing the first buffer: no
 *   other copy between the application and the NIC.
 * - `POST /sha256`: the lowercase hex SHA-256 of the request body, then a
 *   newline. Bodies framed by Content-Length or chunked; hashed from views of
 *   the packet buffers they arrived in. `Expect: 100-continue` is answered.
 * - `GET /`: a short text listing these.
 * - Otherwise 404 (unknown path), 405 (known path, other method; with
 *   `Allow`), 400 (malformed request), 431 (head over 16 KiB), 501 (a
 *   transfer coding other than chunked), 505 (not HTTP/1.x).
 *
 * Requests are parsed incrementally over the byte stream: a head or a body
 * may span any number of segments, and pipelined requests are answered one
 * after the other, in order; the next one is not read until the current
 * answer is queued, so a client that pipelines faster than it reads is slowed
 * by TCP's windows. `Connection: close` (and HTTP/1.0 without keep-alive)
 * closes after the answer; errors that lose the framing close too.
 *
 * @example
 * ```ts
 * import { createStack } from "../mod.ts";
 * import { httpApp } from "./http.ts";
 * const stack = await createStack({ device: "af_packet:luna0", address: "198.18.0.2/24" });
 * const app = httpApp(stack.device.zone);
 * stack.listen(80, (c) => app.accept(c));
 * setInterval(() => app.retry(), 5);
 * await stack.run(); // curl http://198.18.0.2/bytes/1000000 | sha256sum
 * ```
 *
 * @module
 */
import { createHash, type Hash } from "node:crypto";
import type { Connection, ConnectionHandlers } from "../api/connection.ts";
import type { MemZone } from "../mem/zone.ts";
import { type App, appStats, countClose, ZoneBudget } from "./app.ts";
import { appLimitDefaults, type AppLimits, ConnectionGuard } from "./guard.ts";
import { BadRequest, BodyReader, HeadReader, parseHead, type RequestHead } from "./http_request.ts";
import { patternRun, patternRunMax } from "./pattern.ts";

/** Largest N of `/bytes/N`. */
export const patternBytesMax = 2 ** 40;

const reasons: Record<number, string> = {
  100: "Continue",
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  408: "Request Timeout",
  431: "Request Header Fields Too Large",
  501: "Not Implemented",
  505: "HTTP Version Not Supported",
};

const index = "luna-ts HTTP server\n" +
  "GET  /bytes/N   N bytes; byte i is i % 256\n" +
  "POST /sha256    the SHA-256 of the request body, in hex\n";

const enum Phase {
  head,
  body,
  respond,
  closed,
}

/** What to answer once a request's body is read (Exchange.route). */
interface Route {
  status: number;
  text?: string;
  allow?: string;
}

/** The route of `/bytes/N` (N in Exchange.routePattern): one object for every such request. */
const bytesRoute: Route = Object.freeze({ status: 200 });
const notFound: Route = Object.freeze({ status: 404 });
const noBytes = new Uint8Array(0);
const noBody = Object.freeze({ kind: "none" as const });

/** One connection's exchange: the request being read, the answer being sent. */
class Exchange {
  phase = Phase.head;
  readonly head = new HeadReader();
  readonly body = new BodyReader();
  req: RequestHead | undefined = undefined;
  hash: Hash | undefined = undefined;
  /** What to answer once the body is read. */
  route: Route = notFound;
  /** N of a `/bytes/N` request ({@link bytesRoute}). */
  routePattern = 0;
  /** The answer: `out` (head, or a whole small answer), then `pattern` bytes of the pattern. */
  out: Uint8Array = noBytes;
  pattern = 0;
  pos = 0;
  /** Where to go once the answer is queued. */
  after = Phase.head;
  closeAfter = false;
  peerEnded = false;
  /** Between requests of a kept-alive connection: the next head's first byte starts its header timeout. */
  betweenRequests = false;
  /** Its places among the guard's idle and header deadlines, -1 when not armed (guard.ts DeadlineSlot). */
  idleSlot = -1;
  headerSlot = -1;

  /** As new, for another connection (the app keeps closed connections' exchanges: see {@link spareMax}). */
  reset(): void {
    this.phase = Phase.head;
    this.head.reset();
    this.body.start(noBody);
    this.req = undefined;
    this.hash = undefined;
    this.route = notFound;
    this.routePattern = 0;
    this.out = noBytes;
    this.pattern = 0;
    this.pos = 0;
    this.after = Phase.head;
    this.closeAfter = false;
    this.peerEnded = false;
    this.betweenRequests = false;
    this.idleSlot = -1;
    this.headerSlot = -1;
  }
}

/**
 * Exchanges of closed connections kept for new ones, at most: with `Connection: close`, an
 * exchange and its readers made per connection were a tenth of the app's CPU a connection.
 */
const spareMax = 1024;

/** Where a connection's exchange keeps its places among the guard's deadlines. */
const guardSlots = {
  idle: {
    get: (c: Connection) => (c.data as Exchange).idleSlot,
    set: (c: Connection, i: number) => void ((c.data as Exchange).idleSlot = i),
  },
  header: {
    get: (c: Connection) => (c.data as Exchange).headerSlot,
    set: (c: Connection, i: number) => void ((c.data as Exchange).headerSlot = i),
  },
};

const encoder = new TextEncoder();

function responseHead(
  status: number,
  bodyLen: number,
  close: boolean,
  extra: string,
  keepAlive10: boolean,
): string {
  return `HTTP/1.1 ${status} ${reasons[status] ?? "Status"}\r\nServer: luna-ts\r\n${extra}` +
    `Content-Length: ${bodyLen}\r\n${
      close ? "Connection: close\r\n" : keepAlive10 ? "Connection: keep-alive\r\n" : ""
    }\r\n`;
}

/** Heads of `/bytes/N` answers, by N and framing: the same few are sent over and over. */
const patternHeads = new Map<number, Uint8Array>();
const patternHeadsMax = 256;

/** The head of a 200 answer of `n` pattern bytes (made once per `n` and framing, then reused). */
function patternHead(n: number, close: boolean, keep10: boolean): Uint8Array {
  const key = n * 4 + (close ? 1 : 0) + (keep10 ? 2 : 0);
  let h = patternHeads.get(key);
  if (h === undefined) {
    if (patternHeads.size >= patternHeadsMax) patternHeads.clear();
    h = encoder.encode(responseHead(200, n, close, "Content-Type: application/octet-stream\r\n", keep10));
    patternHeads.set(key, h);
  }
  return h;
}

/** N of a `/bytes/N` path (1 to 15 digits), or -1. */
function bytesN(path: string): number {
  const digits = path.length - 7;
  if (digits < 1 || digits > 15 || !path.startsWith("/bytes/")) return -1;
  for (let i = 7; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c < 48 || c > 57) return -1;
  }
  return Number(path.slice(7));
}

/** An HTTP server; see the module documentation. */
export function httpApp(zone: MemZone, limits: Readonly<AppLimits> = appLimitDefaults): App {
  const stats = {
    ...appStats(),
    requests: 0,
    responses2xx: 0,
    responses4xx: 0,
    responses5xx: 0,
    continues: 0,
    patternBytes: 0,
    hashedBytes: 0,
  };
  const budget = new ZoneBudget(zone, stats, (c) => pump(c));
  // A request head late past the header timeout is answered 408 and the connection closed.
  const guard = new ConnectionGuard<Connection>(limits, stats, (c) => {
    const x = c.data as Exchange;
    if (x.phase !== Phase.head) return c.close();
    x.req = undefined;
    answer(x, 408, "request timeout\n", -1, undefined, true);
    pump(c);
  }, guardSlots);

  /**
   * Queues an answer: `body`, or `pattern` bytes of the pattern when that is
   * 0 or more; `close` closes after it. Positional, so that an answer makes
   * no options object.
   */
  function answer(x: Exchange, status: number, body: string, pattern = -1, allow?: string, close = false) {
    const head = x.req?.method === "HEAD";
    close = close || x.req === undefined || !x.req.keepAlive;
    const len = pattern >= 0 ? pattern : body.length;
    const keep10 = !close && x.req?.version === "HTTP/1.0";
    if (status === 200 && pattern >= 0) {
      x.out = patternHead(len, close, keep10);
    } else {
      const type = pattern >= 0 ? "application/octet-stream" : "text/plain";
      const extra = `Content-Type: ${type}\r\n${allow !== undefined ? `Allow: ${allow}\r\n` : ""}`;
      let text = responseHead(status, len, close, extra, keep10);
      if (!head && pattern < 0) text += body;
      x.out = encoder.encode(text);
    }
    x.pattern = head || pattern < 0 ? 0 : pattern;
    x.pos = 0;
    x.closeAfter = close;
    x.after = Phase.head;
    x.phase = Phase.respond;
    if (status < 300) stats.responses2xx++;
    else if (status < 500) stats.responses4xx++;
    else stats.responses5xx++;
  }

  /** A request head was read: route it, then read its body or answer. */
  function dispatch(x: Exchange): void {
    const r = x.req!;
    stats.requests++;
    if (r === bytesHead) {
      // The same head as the last /bytes/N request (parseHead gives one object for the same bytes).
      x.route = bytesRoute;
      x.routePattern = bytesHeadN;
      x.hash = undefined;
    } else {
      route(x, r);
    }
    x.body.start(r.body);
    if (r.body.kind === "none") return finish(x);
    if (r.expectContinue) {
      stats.continues++;
      x.out = encoder.encode("HTTP/1.1 100 Continue\r\n\r\n");
      x.pattern = 0;
      x.pos = 0;
      x.closeAfter = false;
      x.after = Phase.body;
      x.phase = Phase.respond;
      return;
    }
    x.phase = Phase.body;
  }

  /** The last head routed to `/bytes/N`, and its N: a client that repeats its request is routed at once. */
  let bytesHead: RequestHead | undefined = undefined;
  let bytesHeadN = 0;

  /** Routes the request by its path and method (x.route, x.routePattern, x.hash). */
  function route(x: Exchange, r: RequestHead): void {
    const q = r.target.indexOf("?");
    const path = q < 0 ? r.target : r.target.slice(0, q);
    const n = bytesN(path);
    const get = r.method === "GET" || r.method === "HEAD";
    if (n >= 0) {
      if (!get) x.route = { status: 405, allow: "GET, HEAD" };
      else if (n > patternBytesMax) x.route = { status: 400, text: `N is at most ${patternBytesMax}\n` };
      else {
        x.route = bytesRoute;
        x.routePattern = n;
        bytesHead = r;
        bytesHeadN = n;
      }
    } else if (path === "/sha256") {
      x.route = r.method === "POST" ? { status: 200 } : { status: 405, allow: "POST" };
    } else if (path === "/") {
      x.route = get ? { status: 200, text: index } : { status: 405, allow: "GET, HEAD" };
    } else {
      x.route = notFound;
    }
    x.hash = path === "/sha256" && r.method === "POST" ? createHash("sha256") : undefined;
  }

  /** The request is complete: queue its answer. */
  function finish(x: Exchange): void {
    const r = x.route;
    if (x.hash !== undefined) {
      const hex = x.hash.digest("hex");
      x.hash = undefined;
      return answer(x, 200, hex + "\n");
    }
    if (r === bytesRoute) {
      stats.patternBytes += x.req!.method === "HEAD" ? 0 : x.routePattern;
      return answer(x, 200, "", x.routePattern);
    }
    if (r.status === 200) return answer(x, 200, r.text ?? "");
    if (r.status === 405) return answer(x, 405, "method not allowed\n", -1, r.allow);
    if (r.status === 400) return answer(x, 400, r.text ?? "bad request\n");
    return answer(x, 404, "not found\n");
  }

  /**
   * Queues what it can of the answer; returns the zone budget left, or -1 if
   * it must wait (for onWritable, or for {@link App.retry}).
   */
  function produce(c: Connection, x: Exchange, left: number): number {
    const total = x.out.length + x.pattern;
    if (x.pattern === 0) {
      // A small answer: one copying write.
      const n = c.write(x.out, x.pos, x.out.length - x.pos);
      x.pos += n;
      stats.bytesOut += n;
      return x.pos < total ? -1 : left - 2;
    }
    // The head, then the body copied from the pattern's table by the stack's write: one native
    // copy fills a batch of packet buffers (write.ts), where a buffer taken and filled here per
    // segment cost two views, an object and a send each (0.6 ms of CPU per MB sent). pump()
    // corks the connection meanwhile: a small answer's head and body leave in one segment.
    while (x.pos < total) {
      if (!c.writable) return -1;
      if (left <= 0) {
        budget.park(c);
        return -1;
      }
      const head = x.pos < x.out.length;
      const body = x.pos - x.out.length;
      const want = head ? x.out.length - x.pos : Math.min(total - x.pos, patternRunMax);
      const n = head ? c.write(x.out, x.pos, want) : c.write(patternRun, body & 255, want);
      x.pos += n;
      stats.bytesOut += n;
      // Short: the send buffer or the zone is full, and the stack calls onWritable once there is room.
      if (n < want) return -1;
      left = budget.available();
    }
    return left;
  }

  /** A malformed request: answer it and close (the framing is lost). */
  function refuse(x: Exchange, e: unknown): void {
    if (!(e instanceof BadRequest)) throw e;
    x.hash = undefined;
    answer(x, e.status, e.message + "\n", -1, undefined, true);
  }

  /** Moves the exchange on as far as the received bytes and the send space allow. */
  function pump(c: Connection): void {
    const x = c.data as Exchange;
    guard.active(c);
    let left = budget.available();
    loop: for (;;) {
      switch (x.phase) {
        case Phase.respond: {
          // The last of an answer that closes, if it all fits now, leaves with the FIN: one
          // segment for a short answer, where write-then-close sent the FIN on its own. A
          // pattern body is a write of its own after the head's: corked, a short one leaves
          // with the head in one segment, not in a second.
          const cork = x.pattern > 0 || (x.closeAfter && x.out.length + x.pattern - x.pos <= c.sendSpace);
          if (cork) c.cork();
          left = produce(c, x, left);
          if (left < 0) {
            if (cork) c.uncork();
            return;
          }
          if (x.closeAfter) {
            c.close();
            if (cork) c.uncork();
            x.phase = Phase.closed;
          } else {
            x.phase = x.after;
            if (x.after === Phase.head) x.betweenRequests = true;
          }
          continue;
        }
        case Phase.head: {
          // Read in place, by offsets: no view made per request.
          const n = c.pieceLength;
          if (n === 0) break loop;
          // The header timeout runs from the head's first byte; a head that is whole at once (the
          // usual case) needs none armed, where arming and disarming cost two map writes a request.
          const starts = x.betweenRequests;
          x.betweenRequests = false;
          try {
            const from = c.pieceOffset;
            const used = x.head.feed(c.zoneBytes, from, from + n);
            c.consume(used);
            stats.bytesIn += used;
            if (!x.head.done) {
              if (starts) guard.headerStarts(c);
              continue;
            }
            if (!starts) guard.headerDone(c);
            x.req = undefined;
            x.req = parseHead(x.head.take());
            dispatch(x);
          } catch (e) {
            guard.headerDone(c);
            refuse(x, e);
          }
          continue;
        }
        case Phase.body: {
          if (x.body.done) {
            finish(x);
            continue;
          }
          const v = c.peek();
          if (v.length === 0) break loop;
          try {
            const { payload, used } = x.body.next(v);
            if (x.hash !== undefined && payload.length > 0) {
              x.hash.update(payload);
              stats.hashedBytes += payload.length;
            }
            c.consume(used);
            stats.bytesIn += used;
          } catch (e) {
            refuse(x, e);
          }
          continue;
        }
        case Phase.closed: {
          // Closed our side: what still arrives is read and dropped.
          for (let v = c.peek(); v.length > 0; v = c.peek()) {
            stats.bytesIn += v.length;
            c.consume(v.length);
          }
          break loop;
        }
      }
    }
    // The peer finished sending: nothing more will come, so no further request.
    if (x.peerEnded && x.phase !== Phase.closed) {
      c.close();
      x.phase = Phase.closed;
    }
  }

  const handlers: ConnectionHandlers = {
    onData: pump,
    onWritable: pump,
    onEnd(c) {
      (c.data as Exchange).peerEnded = true;
      pump(c);
    },
    onClose(c, error) {
      budget.forget(c);
      guard.forget(c);
      const x = c.data as Exchange;
      x.phase = Phase.closed;
      countClose(stats, error);
      // Nothing here holds the connection any more: its control block may serve the next one,
      // and its exchange (no event reaches a connection after its close).
      c.data = undefined;
      if (spare.length < spareMax) spare.push(x);
      c._recycle();
    },
  };
  const spare: Exchange[] = [];

  return {
    name: "http",
    accept(c) {
      stats.accepted++;
      stats.open++;
      const x = spare.pop();
      if (x !== undefined) x.reset();
      c.data = x ?? new Exchange();
      // Answers end in a short segment; Nagle would hold it for the client's delayed ACK.
      c.setNoDelay(true);
      guard.accept(c);
      guard.headerStarts(c);
      return handlers;
    },
    retry: () => budget.retry(),
    tick: (now) => guard.tick(now),
    limits,
    stats: () => ({ ...stats }),
  };
}
