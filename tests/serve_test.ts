// serve(): the Web-standard HTTP/1.1 server, driven byte by byte by a raw
// luna-ts client over the in-memory link (two stacks, loops running): keep-alive
// and pipelining, chunked bodies both ways, the limits (431, 413), malformed
// input (400 and close, the server going on), backpressure toward a client that
// does not read, and graceful shutdown.
import { assert, assertEquals, assertStringIncludes } from "@std/assert";
import {
  createHeapZone,
  createMemoryLink,
  createStack,
  serve,
  type ServeOptions,
  type Stack,
} from "../src/mod.ts";
import type { Connection } from "../src/api/connection.ts";
import { describe, test } from "./harness.ts";
import { prng, seedFromEnv, until } from "./helpers.ts";

const serverIp = "198.18.0.2";

async function pair(): Promise<[Stack, Stack]> {
  const za = createHeapZone({ name: "a", count: 4096 });
  const zb = createHeapZone({ name: "b", count: 4096 });
  const [la, lb] = createMemoryLink({ zone: za, zoneB: zb });
  const a = await createStack({ device: la, address: "198.18.0.1/24" });
  const b = await createStack({ device: lb, address: `${serverIp}/24` });
  void a.run();
  void b.run();
  return [a, b];
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A raw client: what it sends is bytes, what it gets is collected; `reading` false leaves data in the window. */
class RawClient {
  readonly conn: Connection;
  received: Uint8Array[] = [];
  bytes = 0;
  ended = false;
  closed = false;
  error: string | undefined;
  reading = true;
  #out: Uint8Array[] = [];

  constructor(stack: Stack, port: number) {
    const take = (c: Connection) => {
      if (!this.reading) return;
      const buf = new Uint8Array(65536);
      for (let n = c.read(buf); n > 0; n = c.read(buf)) {
        this.received.push(buf.slice(0, n));
        this.bytes += n;
      }
    };
    this.conn = stack.connect(serverIp, port, {
      onOpen: () => this.#flush(),
      onData: take,
      onWritable: () => this.#flush(),
      onEnd: (c) => {
        take(c);
        this.ended = true;
        c.close(); // as curl does
      },
      onClose: (_c, e) => {
        this.closed = true;
        this.error = e;
      },
    });
  }

  send(data: string | Uint8Array): void {
    this.#out.push(typeof data === "string" ? enc.encode(data) : data);
    this.#flush();
  }

  #flush(): void {
    if (this.conn.state !== "ESTABLISHED" && this.conn.state !== "CLOSE-WAIT") return;
    while (this.#out.length > 0) {
      const d = this.#out[0];
      const n = this.conn.write(d);
      if (n === d.length) this.#out.shift();
      else {
        this.#out[0] = d.subarray(n);
        return;
      }
    }
  }

  resume(): void {
    this.reading = true;
    this.conn.handlers.onData!(this.conn);
  }

  text(): string {
    return this.received.map((b) => dec.decode(b)).join("");
  }

  /** Waits until `n` complete responses are in, and returns them. */
  async responses(n: number, ms = 10_000): Promise<Parsed[]> {
    let out: Parsed[] = [];
    await until(
      () => {
        out = parseResponses(this.text());
        return out.length >= n;
      },
      `${n} responses (have: ${JSON.stringify(this.text().slice(0, 300))})`,
      ms,
    );
    return out;
  }
}

interface Parsed {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** Complete responses in `text` (Content-Length or chunked framing). */
function parseResponses(text: string): Parsed[] {
  const out: Parsed[] = [];
  let at = 0;
  for (;;) {
    const end = text.indexOf("\r\n\r\n", at);
    if (end < 0) return out;
    const lines = text.slice(at, end).split("\r\n");
    const status = Number(lines[0].split(" ")[1]);
    const headers: Record<string, string> = {};
    for (const l of lines.slice(1)) {
      const i = l.indexOf(":");
      headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
    }
    let p = end + 4;
    let body = "";
    if (headers["transfer-encoding"] === "chunked") {
      for (;;) {
        const le = text.indexOf("\r\n", p);
        if (le < 0) return out;
        const size = parseInt(text.slice(p, le), 16);
        if (text.length < le + 2 + size + 2) return out;
        body += text.slice(le + 2, le + 2 + size);
        p = le + 2 + size + 2;
        if (size === 0) break;
      }
    } else {
      const len = Number(headers["content-length"] ?? 0);
      if (text.length < p + len) return out;
      body = text.slice(p, p + len);
      p += len;
    }
    out.push({ status, headers, body });
    at = p;
  }
}

async function withServer(
  options: Omit<ServeOptions, "port">,
  body: (a: Stack, server: ReturnType<typeof serve>) => Promise<void>,
): Promise<void> {
  const [a, b] = await pair();
  try {
    const server = serve(b, { port: 80, ...options });
    await body(a, server);
  } finally {
    await a.close(200);
    await b.close(200);
  }
}

const get = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: luna.test\r\n${extra}\r\n`;
/** `n` printable ASCII characters, all of them in turn. */
const asciiText = (n: number) =>
  Array.from({ length: n }, (_, i) => String.fromCharCode(32 + i % 95)).join("");

describe("serve(): a Web-standard HTTP/1.1 server on luna-ts", () => {
  test("an answer leaves in the poll that brought its request, in both loop modes: the handler runs inside the poll, not after a promise turn", async () => {
    for (const mode of ["batch", "inline"] as const) {
      const [la, lb] = createMemoryLink({
        zone: createHeapZone({ name: "a", count: 1024 }),
        zoneB: createHeapZone({ name: "b", count: 1024 }),
      });
      // Neither loop runs: the test polls each stack by hand, with no await (no promise turn) in between.
      const a = await createStack({ device: la, address: "198.18.0.1/24", mode });
      const b = await createStack({ device: lb, address: `${serverIp}/24`, mode });
      try {
        serve(b, { port: 80, fetch: (req) => new Response(`to ${new URL(req.url).pathname}`) });
        const c = new RawClient(a, 80);
        for (let i = 0; i < 20 && c.conn.state !== "ESTABLISHED"; i++) {
          a.poll();
          b.poll();
        }
        assertEquals(c.conn.state, "ESTABLISHED", mode);
        b.poll(); // the handshake's last ACK
        for (let i = 1; i <= 3; i++) {
          c.send(get(`/${i}`));
          a.poll(); // the request leaves
          b.poll(); // it arrives, is answered, and the answer leaves
          a.poll(); // the answer arrives
          const r = parseResponses(c.text());
          assertEquals(r.length, i, `${mode}: answer ${i} in the poll of its request`);
          assertEquals(r[i - 1].body, `to /${i}`);
        }
      } finally {
        await a.close(200);
        await b.close(200);
      }
    }
  });

  test("keep-alive and pipelining: three requests in one write get three answers, in order, on one connection", async () => {
    await withServer({
      fetch: async (req) => {
        const u = new URL(req.url);
        if (req.method === "POST") return new Response(`${u.pathname} got ${(await req.text()).length}`);
        await new Promise((r) => setTimeout(r, u.pathname === "/slow" ? 30 : 0));
        return new Response(`${req.method} ${u.pathname} host=${u.host}`, {
          headers: { "x-path": u.pathname },
        });
      },
    }, async (a, server) => {
      const c = new RawClient(a, 80);
      c.send(
        get("/slow") + `POST /p HTTP/1.1\r\nHost: luna.test\r\nContent-Length: 5\r\n\r\nhello` + get("/fast"),
      );
      const r = await c.responses(3);
      assertEquals(r.map((x) => [x.status, x.body]), [
        [200, "GET /slow host=luna.test"],
        [200, "/p got 5"],
        [200, "GET /fast host=luna.test"],
      ]);
      // Each answer with its own fields (a head is made again where they differ from the one before).
      assertEquals(r.map((x) => x.headers["x-path"]), ["/slow", undefined, "/fast"]);
      assertEquals(r[0].headers["content-length"], "24");
      assert(r[0].headers["date"] !== undefined);
      assertEquals(c.ended, false, "the connection stays open");
      // Connection: close from the client: answered, then our FIN.
      c.send(get("/last", "Connection: close\r\n"));
      const r2 = await c.responses(4);
      assertEquals(r2[3].headers["connection"], "close");
      await until(() => c.ended, "the server's FIN");
      const st = server.stats();
      assertEquals([st.connections, st.requests, st.responses2xx, st.sized], [1, 4, 4, 4]);
    });
  });

  test("a chunked request body streams into the handler, and a streaming response goes out chunked", async () => {
    await withServer({
      fetch(req) {
        // Echo, upper-cased, piece by piece as the request body arrives.
        const upper = new TransformStream<Uint8Array, Uint8Array>({
          transform: (chunk, ctl) => ctl.enqueue(enc.encode(dec.decode(chunk).toUpperCase())),
        });
        return new Response(req.body!.pipeThrough(upper));
      },
    }, async (a, server) => {
      const c = new RawClient(a, 80);
      c.send(
        "POST /up HTTP/1.1\r\nHost: luna.test\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n",
      );
      // The head and the first piece come back before the request body is complete.
      await until(() => c.text().includes("HELLO"), "the first piece echoed");
      assertStringIncludes(c.text(), "transfer-encoding: chunked");
      c.send("6\r\n world\r\n0\r\nTrailer-Field: x\r\n\r\n");
      const [r] = await c.responses(1);
      assertEquals(r.body, "HELLO WORLD");
      assertEquals(server.stats().chunked, 1);
      // The connection goes on: a request after a chunked exchange.
      c.send(`POST /up HTTP/1.1\r\nHost: luna.test\r\nContent-Length: 3\r\n\r\nabc`);
      const r2 = await c.responses(2);
      assertEquals(r2[1].body, "ABC");
    });
  });

  test("a streaming response with a long status text and many fields still streams: its head and first piece leave before it ends", async () => {
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    await withServer({
      fetch() {
        let sent = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(ctl) {
            if (sent++ === 0) return ctl.enqueue(enc.encode("first"));
            await released;
            ctl.enqueue(enc.encode("-last"));
            ctl.close();
          },
        });
        const headers = Array.from(
          { length: 20 },
          (_, i) => [`x-field-${i}`, "v".repeat(50)] as [string, string],
        );
        return new Response(body, { statusText: "Streaming " + "x".repeat(300), headers });
      },
    }, async (a, server) => {
      const c = new RawClient(a, 80);
      c.send(get("/"));
      await until(() => c.text().includes("first"), "the first piece before the body ends");
      assertStringIncludes(c.text(), "transfer-encoding: chunked");
      release();
      const [r] = await c.responses(1);
      assertEquals(r.body, "first-last");
      assertEquals(server.stats().chunked, 1);
    });
  });

  test("limits: a head over maxHeaderBytes is answered 431, a body over maxBodyBytes 413 (by length and chunked), each then closed", async () => {
    let handled = 0;
    await withServer({
      maxHeaderBytes: 1024,
      maxBodyBytes: 1000,
      fetch: async (req) => {
        handled++;
        return new Response(String((await req.arrayBuffer()).byteLength));
      },
    }, async (a, server) => {
      const big = new RawClient(a, 80);
      big.send(get("/", `X-Big: ${"a".repeat(2000)}\r\n`));
      const [r431] = await big.responses(1);
      assertEquals(r431.status, 431);
      await until(() => big.closed, "the 431 connection closed");

      const long = new RawClient(a, 80);
      long.send(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1001\r\n\r\n`);
      const [r413] = await long.responses(1);
      assertEquals(r413.status, 413);
      assertEquals(r413.headers["connection"], "close");
      await until(() => long.closed, "the 413 connection closed");

      const chunked = new RawClient(a, 80);
      chunked.send(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n`);
      for (let i = 0; i < 11; i++) chunked.send(`64\r\n${"z".repeat(100)}\r\n`);
      const [c413] = await chunked.responses(1);
      assertEquals(c413.status, 413);
      await until(() => chunked.closed, "the chunked 413 connection closed");

      const fits = new RawClient(a, 80);
      fits.send(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n${"y".repeat(1000)}`);
      assertEquals((await fits.responses(1))[0].body, "1000");
      const st = server.stats();
      assertEquals([st.headTooLarge, st.bodyTooLarge, handled], [1, 2, 2]);
    });
  });

  test("malformed requests get 400 (505, 501) and a closed connection; seeded garbage never stops the server", async () => {
    const seed = seedFromEnv();
    await withServer({ fetch: () => new Response("ok") }, async (a, server) => {
      const cases: [string, number][] = [
        ["GET / HTTP/1.1\r\n\r\n", 400], // no Host
        ["GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505],
        ["GET  / HTTP/1.1\r\nHost: x\r\n\r\n", 400],
        ["GET / HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", 400],
        ["GET / HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", 400],
        ["POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", 400],
        ["POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501],
        ["GET / HTTP/1.1\r\nHost: bad host\r\n\r\n", 400],
        ["GET nothing HTTP/1.1\r\nHost: x\r\n\r\n", 400],
        ["GET / HTTP/1.1\r\nHost: x\r\nX-Bad: a\x00b\r\n\r\n", 400], // a value Headers refuses
        ["GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc", 400], // GET with a body
      ];
      for (const [req, status] of cases) {
        const c = new RawClient(a, 80);
        c.send(req);
        const [r] = await c.responses(1);
        assertEquals(r.status, status, JSON.stringify(req));
        await until(() => c.closed, `close after ${JSON.stringify(req)}`);
      }
      const rand = prng(seed);
      const clients: RawClient[] = [];
      // Bytes that are all CR and LF are empty lines before a request line, which a server ignores
      // (RFC 9112 2.2) and waits on (a short draw can be just "\n": seed 862610001).
      const blank: RawClient[] = [];
      for (let i = 0; i < 20; i++) {
        const bytes = new Uint8Array(1 + Math.floor(rand() * 300)).map(() => Math.floor(rand() * 256));
        const c = new RawClient(a, 80);
        // Half of them start like a request, so that the garbage reaches the header and body parsers.
        if (i % 2 === 0) c.send(`POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n`);
        else if (bytes.every((b) => b === 10 || b === 13)) blank.push(c);
        c.send(bytes);
        c.send("\r\n\r\n");
        clients.push(c);
      }
      await until(
        () => clients.every((c) => blank.includes(c) || c.closed || parseResponses(c.text()).length > 0),
        `an answer or a close for each garbage input (seed ${seed})`,
      );
      for (const c of blank) assertEquals(c.text(), "", `no answer to empty lines alone (seed ${seed})`);
      for (const c of clients) c.conn.abort();
      const ok = new RawClient(a, 80);
      ok.send(get("/"));
      assertEquals((await ok.responses(1))[0].body, "ok", `the server still answers (seed ${seed})`);
      assert(server.stats().malformed >= cases.length, `seed ${seed}`);
    });
  });

  test("backpressure: a client that does not read holds the handler's stream, not the server's memory", async () => {
    const size = 8_000_000;
    let produced = 0;
    await withServer({
      fetch: () =>
        new Response(
          new ReadableStream<Uint8Array>({
            pull(ctl) {
              if (produced >= size) return ctl.close();
              const n = Math.min(16384, size - produced);
              ctl.enqueue(new Uint8Array(n).fill(produced / 16384 & 0xff));
              produced += n;
            },
          }, { highWaterMark: 0 }),
        ),
    }, async (a) => {
      const c = new RawClient(a, 80);
      c.reading = false;
      c.send(get("/big"));
      await until(() => produced > 0, "the body started");
      // The client's window and the server's send queue fill, then the stream is no longer pulled.
      let last = -1;
      await until(
        () => {
          const still = produced === last;
          last = produced;
          return still && produced > 0;
        },
        "the stream to stop being pulled",
        10_000,
      );
      await new Promise((r) => setTimeout(r, 100));
      assert(produced < 4_000_000, `the server pulled ${produced} bytes for a client that reads none`);
      c.resume();
      await until(() => c.bytes > size && c.text().endsWith("0\r\n\r\n"), "the whole body", 30_000);
      const [r] = parseResponses(c.text());
      assertEquals(r.body.length, size);
      assertEquals(produced, size);
    });
  });

  test("graceful shutdown: idle connections close at once, a request in flight finishes (Connection: close), new ones are refused", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    await withServer({
      fetch: async (req) => {
        if (new URL(req.url).pathname === "/wait") await gate;
        return new Response("done");
      },
    }, async (a, server) => {
      const idle = new RawClient(a, 80);
      idle.send(get("/"));
      await idle.responses(1);
      const busy = new RawClient(a, 80);
      busy.send(get("/wait"));
      await until(() => server.stats().requests === 2, "the request in flight");
      let finished = false;
      void server.shutdown().then(() => (finished = true));
      await until(() => idle.ended, "the idle connection closed");
      assertEquals(busy.ended, false);
      assertEquals(finished, false);
      const late = new RawClient(a, 80);
      await until(() => late.closed, "a new connection refused");
      assertStringIncludes(late.error ?? "", "refused");
      release();
      const [r] = await busy.responses(1);
      assertEquals([r.body, r.headers["connection"]], ["done", "close"]);
      await until(() => busy.ended, "the busy connection closed after its answer");
      busy.conn.close();
      await server.finished;
      assertEquals(server.stats().open, 0);
    });
  });

  test("HEAD and 204 go without a body, HTTP/1.0 gets a streamed body delimited by the close, Expect: 100-continue is answered when the handler reads", async () => {
    await withServer({
      async fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/empty") return new Response(null, { status: 204 });
        if (path === "/stream") {
          let i = 0;
          return new Response(
            new ReadableStream<Uint8Array>({
              async pull(ctl) {
                if (i === 3) return ctl.close();
                await new Promise((r) => setTimeout(r, 5));
                ctl.enqueue(enc.encode(`part${i++};`));
              },
            }),
          );
        }
        if (req.method === "POST") return new Response(`read ${(await req.text()).length}`);
        return new Response("twelve bytes", { headers: { "x-kind": "text" } });
      },
    }, async (a) => {
      const c = new RawClient(a, 80);
      c.send(`HEAD / HTTP/1.1\r\nHost: x\r\n\r\n` + get("/empty") + get("/"));
      await until(() => c.text().endsWith("twelve bytes"), "three answers");
      const [head, empty] = c.text().split("HTTP/1.1 ").slice(1);
      assertStringIncludes(head, "x-kind: text");
      assert(head.endsWith("\r\n\r\n"), `HEAD: no body after the head: ${JSON.stringify(head)}`);
      assert(empty.startsWith("204 ") && empty.endsWith("\r\n\r\n"), JSON.stringify(empty));

      const old = new RawClient(a, 80);
      old.send("GET /stream HTTP/1.0\r\n\r\n");
      await until(() => old.ended, "the close that ends an HTTP/1.0 body");
      const text = old.text();
      assertStringIncludes(text, "connection: close");
      assert(!text.includes("transfer-encoding"), text);
      assert(text.endsWith("\r\n\r\npart0;part1;part2;"), text);

      const cont = new RawClient(a, 80);
      cont.send("POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n");
      await until(() => cont.text().startsWith("HTTP/1.1 100 Continue\r\n\r\n"), "100 Continue");
      cont.send("abcde");
      await until(() => cont.text().endsWith("read 5"), "the answer after the body");
    });
  });

  test("a handler that reads its request body slowly holds the sender back through the window", async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let read = 0;
    await withServer({
      async fetch(req) {
        await gate;
        for await (const piece of req.body!) read += piece.length;
        return new Response(`read ${read}`);
      },
    }, async (a, _server) => {
      const size = 6_000_000;
      const c = new RawClient(a, 80);
      c.send(`POST / HTTP/1.1\r\nHost: x\r\nContent-Length: ${size}\r\n\r\n`);
      const body = new Uint8Array(size).fill(0x61);
      c.send(body);
      // The sender stops: its window is shut while the handler does not read.
      let last = -1;
      await until(() => {
        const acked = c.conn.stats().bytesAcked;
        const still = acked === last;
        last = acked;
        return still && acked > 0;
      }, "the sender to stop");
      await new Promise((r) => setTimeout(r, 100));
      const acked = c.conn.stats().bytesAcked;
      assert(acked < size / 2, `${acked} bytes taken by a server whose handler reads none`);
      assertEquals(read, 0);
      release();
      const [r] = await c.responses(1, 30_000);
      assertEquals(r.body, `read ${size}`);
    });
  });
  test("the request is built lazily and is still a Request: url, headers, body readers, clone() and signal as the runtime's", async () => {
    const seen: string[] = [];
    await withServer({
      async fetch(req) {
        const real = new Request("http://Luna.Test:80/a/../b?q=1", { method: "POST", body: "x" });
        seen.push(String(req instanceof Request), req.method, req.url, String(req.url === real.url));
        seen.push(req.headers.get("x-a") ?? "none", String(req.bodyUsed));
        // A byte past ASCII in a field value (obs-text) is the character of that code, as in latin1.
        seen.push([...req.headers.get("x-b") ?? ""].map((ch) => ch.charCodeAt(0)).join(","));
        const copy = req.clone();
        seen.push(String(copy instanceof Request), copy.url, String(req.signal instanceof AbortSignal));
        const text = await req.text();
        seen.push(text, String(req.bodyUsed), String(await copy.text()));
        return new Response("ok");
      },
    }, async (a) => {
      const c = new RawClient(a, 80);
      const head = "post /a/../b?q=1 HTTP/1.1\r\nHost: Luna.Test:80\r\nX-A: one\r\nX-B: \xe9\xff!\r\n";
      c.send(Uint8Array.from(head + "Content-Length: 3\r\n\r\nabc", (ch) => ch.charCodeAt(0)));
      const [r] = await c.responses(1);
      assertEquals(r.status, 200);
      assertEquals(seen, [
        "true",
        "POST",
        "http://luna.test/b?q=1",
        "true",
        "one",
        "false",
        "233,255,33",
        "true",
        "http://luna.test/b?q=1",
        "true",
        "abc",
        "true",
        "abc",
      ]);
      // A method the runtime's Request refuses is a 400 before the handler.
      const t = new RawClient(a, 80);
      t.send("TRACE / HTTP/1.1\r\nHost: x\r\n\r\n");
      assertEquals((await t.responses(1))[0].status, 400);
    });
  });
  test("static response bodies (text, bytes, a text body made a stream) go out whole with their length, a string as text/plain", async () => {
    await withServer({
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (path === "/text") return new Response("h\u00e9llo \u2713");
        // ASCII text (put in the answer by its character codes) up to 4096 characters, encoded beyond.
        if (path === "/ascii") return new Response(asciiText(4096));
        if (path === "/long") return new Response(asciiText(4097));
        if (path === "/bytes") {
          return new Response(new Uint8Array([104, 105]), {
            status: 201,
            headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["server", "mine"], [
              "content-length",
              "7",
            ]],
          });
        }
        const r = new Response("streamed");
        void r.body; // the text is now a stream
        return r;
      },
    }, async (a, server) => {
      const c = new RawClient(a, 80);
      c.send(get("/text") + get("/bytes") + get("/stream") + get("/ascii") + get("/long"));
      const r = await c.responses(5);
      assertEquals(r.map((x) => [x.status, x.headers["content-length"]]), [
        [200, "10"],
        [201, "2"],
        [
          200,
          "8",
        ],
        [200, "4096"],
        [200, "4097"],
      ]);
      assertEquals([r[3].body, r[4].body], [asciiText(4096), asciiText(4097)]);
      assertEquals(
        new TextDecoder().decode(c.received.reduce((x, y) => {
          const o = new Uint8Array(x.length + y.length);
          o.set(x);
          o.set(y, x.length);
          return o;
        })).includes("h\u00e9llo \u2713"),
        true,
      );
      assertEquals([r[1].body, r[2].body], ["hi", "streamed"]);
      // A string body carries the type Bun.serve and Deno.serve give it.
      assertEquals(r[0].headers["content-type"]?.toLowerCase(), "text/plain;charset=utf-8");
      // Each cookie in its own field; the handler's Server kept, its Content-Length replaced by the server's.
      const text = c.text();
      assertStringIncludes(text, "set-cookie: a=1\r\nset-cookie: b=2\r\n");
      assertEquals(text.split("server: luna-ts").length - 1, 4);
      assertEquals(r[1].headers["server"], "mine");
      assertEquals(server.stats().sized, 5);
    });
  });
});
