/**
 * HeadReader, which collects a request head over as many segments as it
 * takes: heads of many connections collected side by side (partly in one
 * buffer that all readers share while a head arrives whole) each come out
 * whole and unmixed, and the size limit holds.
 *
 * @module
 */
import { assertEquals, assertThrows } from "@std/assert";
import { BadRequest, HeadReader } from "../src/apps/http_request.ts";
import { describe, test } from "./harness.ts";

const bytes = (s: string) => new TextEncoder().encode(s);

/** Feeds all of `s`; returns whether the head completed and the bytes used. */
function feed(r: HeadReader, s: string): { used: number; done: boolean } {
  const b = bytes(s);
  return r.feed(b, 0, b.length);
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
});
