/**
 * HeadReader, which collects a request head over as many segments as it
 * takes: heads of many connections collected side by side (partly in one
 * buffer that all readers share while a head arrives whole) each come out
 * whole and unmixed, and the size limit holds; parseHead reads what it
 * collected.
 *
 * @module
 */
import { assertEquals, assertThrows } from "@std/assert";
import { BadRequest, HeadReader, parseHead } from "../src/apps/http_request.ts";
import { describe, test } from "./harness.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feeds all of `s`; returns whether the head completed and the bytes used. */
function feed(r: HeadReader, s: string): { used: number; done: boolean } {
  const b = bytes(s);
  const used = r.feed(b, 0, b.length);
  return { used, done: r.done };
}

describe("HeadReader", () => {
  test("a head split across segments, with another connection's whole head between its parts, comes out whole", () => {
    const a = new HeadReader();
    const b = new HeadReader();
    assertEquals(feed(a, "GET /a HTTP/1.1\r\nHo"), { used: 19, done: false });
    const hb = "GET /b HTTP/1.1\r\nHost: b\r\n\r\n";
    assertEquals(feed(b, hb), { used: hb.length, done: true });
    assertEquals(b.take(), hb);
    assertEquals(feed(a, "st: a\r\n\r\nGET"), { used: 9, done: true });
    assertEquals(a.take(), "GET /a HTTP/1.1\r\nHost: a\r\n\r\n");
    assertEquals(a.length, 0);
  });

  test("a complete head not yet taken keeps its bytes while another reader collects", () => {
    const a = new HeadReader();
    const b = new HeadReader();
    const ha = "GET /first HTTP/1.1\r\nHost: a\r\n\r\n";
    const hb = "GET /second HTTP/1.1\r\nHost: bb\r\nX: y\r\n\r\n";
    assertEquals(feed(a, ha).done, true);
    assertEquals(feed(b, hb).done, true);
    assertEquals(a.take(), ha);
    assertEquals(b.take(), hb);
  });

  test("heads larger than the shared buffer, whole or a byte at a time, and many readers in turn", () => {
    const big = "GET / HTTP/1.1\r\nX-Big: " + "v".repeat(10_000) + "\r\n\r\n";
    const r = new HeadReader();
    assertEquals(feed(r, big).done, true);
    assertEquals(r.take(), big);
    const readers = Array.from({ length: 5 }, () => new HeadReader());
    const heads = readers.map((_, i) => `GET /${i} HTTP/1.1\r\nX: ${"z".repeat(i * 900)}\r\n\r\n`);
    const maxLen = Math.max(...heads.map((h) => h.length));
    for (let k = 0; k < maxLen; k++) {
      for (let i = 0; i < readers.length; i++) {
        if (k < heads[i].length) assertEquals(feed(readers[i], heads[i][k]).done, k === heads[i].length - 1);
      }
    }
    for (let i = 0; i < readers.length; i++) assertEquals(readers[i].take(), heads[i]);
  });

  test("a head of max bytes is taken; one byte more is refused with 431", () => {
    const head = "GET / HTTP/1.1\r\nX: " + "a".repeat(64 - 23) + "\r\n\r\n";
    assertEquals(head.length, 64);
    const r = new HeadReader(64);
    assertEquals(feed(r, head).done, true);
    assertEquals(r.take(), head);
    const over = new HeadReader(64);
    const e = assertThrows(() => feed(over, head.replace("X: ", "X: a")), BadRequest);
    assertEquals(e.status, 431);
  });

  test("a head that arrives whole in one range ends where it ends when fed a byte at a time", () => {
    const streams = [
      "GET /a HTTP/1.1\r\nHost: a\r\n\r\nGET /b HTTP/1.1\r\n",
      "\r\n\r\nGET / HTTP/1.0\n\nrest",
      "GET / HTTP/1.0\n\r\r\nX",
      "GET / HTTP/1.1\r\nHost: a\r\nX: \r b\r\n\r\r\n\r\nGET",
      "GET / HTTP/1.1\r\nHost: a\r\n\r",
      "\r\n\r\n",
    ];
    for (const text of streams) {
      const whole = new HeadReader();
      const got = feed(whole, text);
      const bytewise = new HeadReader();
      let used = 0;
      let done = false;
      for (let k = 0; k < text.length && !done; k++) {
        const r = feed(bytewise, text[k]);
        used += r.used;
        done = r.done;
      }
      assertEquals(got, { used, done }, JSON.stringify(text));
      if (done) assertEquals(whole.take(), bytewise.take(), JSON.stringify(text));
    }
    // Heads of the same length that differ in one byte come out each as sent.
    for (const path of ["/aaaa", "/aaab", "/aaab", "/baab"]) {
      const r = new HeadReader();
      const h = `GET ${path} HTTP/1.1\r\nHost: a\r\n\r\n`;
      assertEquals(feed(r, h).done, true);
      const text = r.take();
      assertEquals(text, h);
      assertEquals(parseHead(text).target, path);
    }
    // The same head again, whole with what follows it, cut short, and past a smaller reader's limit.
    const again = "GET /again HTTP/1.1\r\nHost: a\r\n\r\n";
    for (let k = 0; k < 2; k++) {
      const r = new HeadReader();
      assertEquals(feed(r, "\r\n" + again + "GET /next"), { used: again.length + 2, done: true });
      assertEquals(r.take(), again);
    }
    const short = new HeadReader();
    assertEquals(feed(short, again.slice(0, -1)), { used: again.length - 1, done: false });
    assertEquals(feed(short, "\n"), { used: 1, done: true });
    assertEquals(short.take(), again);
    assertThrows(() => feed(new HeadReader(again.length - 1), again), BadRequest);
    // The limit holds for a head that arrives whole, too: max bytes taken, one more refused.
    const head = "GET / HTTP/1.1\r\nX: " + "a".repeat(64 - 23) + "\r\n\r\n";
    assertEquals(feed(new HeadReader(64), "\r\n" + head + "GET").used, head.length + 2);
    assertThrows(() => feed(new HeadReader(63), head), BadRequest);
  });
});

describe("parseHead", () => {
  test("the same text read again gives the same head; another text its own", () => {
    const text = "GET /same HTTP/1.1\r\nHost: x\r\n\r\n";
    const a = parseHead(text);
    const b = parseHead(text.slice(0, 5) + text.slice(5));
    assertEquals(a === b, true);
    const c = parseHead(text.replace("/same", "/other"));
    assertEquals([c.target, a.target], ["/other", "/same"]);
    assertEquals(parseHead(text) === c, false);
    assertEquals(parseHead(text), a);
  });

  test("names are lowercase however spelled, values lose the whitespace around them, repeated fields join", () => {
    const h = parseHead(
      "GET /a?b HTTP/1.1\r\nHOST: x\r\nhost-name:\t y z \r\nX-A: 1\r\nx-a:2\r\nAccept: \xa0*/*\v\r\n" +
        "Content-Length: 0\r\n\r\n",
    );
    assertEquals(h.method, "GET");
    assertEquals(h.target, "/a?b");
    assertEquals(h.version, "HTTP/1.1");
    assertEquals([...h.headers], [
      ["host", "x"],
      ["host-name", "y z"],
      ["x-a", "1, 2"],
      ["accept", "*/*"],
      ["content-length", "0"],
    ]);
    assertEquals(h.body, { kind: "none" });
    assertEquals(h.keepAlive, true);
    assertEquals(h.expectContinue, false);
  });

  test("methods other than the common ones, HTTP/1.0 and its keep-alive, Connection as a list, bodies and Expect", () => {
    const a = parseHead("PROPFIND / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n");
    assertEquals([a.method, a.version, a.keepAlive], ["PROPFIND", "HTTP/1.0", true]);
    assertEquals(parseHead("get / HTTP/1.0\n\n").method, "get");
    assertEquals(parseHead("GET / HTTP/1.0\r\n\r\n").keepAlive, false);
    assertEquals(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: CLOSE\r\n\r\n").keepAlive, false);
    assertEquals(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: te, close\r\n\r\n").keepAlive, false);
    assertEquals(parseHead("GET / HTTP/1.1\r\nHost: x\r\nConnection: te, upgrade\r\n\r\n").keepAlive, true);
    const p = parseHead("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-Continue\r\n\r\n");
    assertEquals([p.body, p.expectContinue], [{ kind: "length", length: 5 }, true]);
    assertEquals(parseHead("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\n\r\n").body, {
      kind: "chunked",
    });
  });

  test("refused: a malformed request line (400), another version (505), no Host in HTTP/1.1 (400)", () => {
    for (
      const [head, status] of [
        ["GET /a HTTP/1.1 \r\nHost: x\r\n\r\n", 400],
        ["GET /a HTTQ/1.1\r\nHost: x\r\n\r\n", 400],
        ["GET /a HTTP/2.0\r\nHost: x\r\n\r\n", 505],
        ["GET /a HTTP/1.2\r\nHost: x\r\n\r\n", 505],
        ["GET /a HTTP/1.1\r\n\r\n", 400],
        ["GET /a HTTP/1.1\r\nHost : x\r\n\r\n", 400],
      ] as const
    ) {
      const e = assertThrows(() => parseHead(head), BadRequest, undefined, head);
      assertEquals(e.status, status, head);
    }
  });
});
