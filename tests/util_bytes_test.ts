import { assertEquals } from "@std/assert";
import { copyRange } from "../src/util/bytes.ts";
import { describe, test } from "./harness.ts";

const seq = (n: number, k = 1) => new Uint8Array(n).map((_, i) => (i * k + 3) & 0xff);

describe("copyRange", () => {
  test("whole source, short range, long range between buffers, long range within one buffer", () => {
    const dst = new Uint8Array(1000);
    copyRange(dst, 5, seq(10), 0, 10);
    assertEquals(dst.subarray(5, 15), seq(10));

    copyRange(dst, 0, seq(100, 7), 10, 50); // short: byte loop
    assertEquals(dst.subarray(0, 50), seq(100, 7).subarray(10, 60));

    const src = seq(600, 5);
    copyRange(dst, 100, src, 17, 500); // long, another buffer
    assertEquals(dst.subarray(100, 600), src.subarray(17, 517));

    // Two views of one ArrayBuffer (a zone and a view of its packet): a memmove.
    const zone = seq(2048, 3);
    const want = zone.slice(300, 800);
    const view = zone.subarray(256, 1024);
    copyRange(zone, 1200, view, 44, 500);
    assertEquals(zone.subarray(1200, 1700), want);
    // Overlapping, forward.
    const z2 = seq(1024, 11);
    const w2 = z2.slice(0, 600);
    copyRange(z2, 200, z2.subarray(0), 0, 600);
    assertEquals(z2.subarray(200, 800), w2);
  });
});
