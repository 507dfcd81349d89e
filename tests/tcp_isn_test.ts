/** RFC 6528 initial sequence numbers: M + F(4-tuple, key). */
import { describe, test } from "./harness.ts";
import { assertEquals, assertNotEquals } from "@std/assert";
import { isnClock, IsnGenerator } from "../src/tcp/isn.ts";
import { SipHash } from "../src/tcp/siphash.ts";

const key = Uint8Array.from({ length: 16 }, (_, i) => i * 7);

describe("tcp isn", () => {
  test("RFC 6528 (3): M ticks every 4 microseconds, modulo 2^32", () => {
    assertEquals(isnClock(0), 0);
    assertEquals(isnClock(1), 250);
    assertEquals(isnClock(0.004), 1);
    assertEquals(isnClock(0.0039), 0);
    // 2^32 ticks of 4 us wrap after 17179.869184 s.
    assertEquals(isnClock(17_179_869.184), 0);
    assertEquals(isnClock(17_179_869.188), 1);
  });

  test("RFC 6528 (3): ISN = M + F(localip, localport, remoteip, remoteport, secretkey)", () => {
    const isns = new IsnGenerator(key);
    const f = isns.offset(0xc6120001, 5000, 0xc6120002, 80);
    assertEquals(isns.isn(0xc6120001, 5000, 0xc6120002, 80, 0), f);
    assertEquals(isns.isn(0xc6120001, 5000, 0xc6120002, 80, 2), (f + 500) >>> 0);
    // F is SipHash-2-4 of the tuple under the key.
    const h = new SipHash(key);
    h.hashWords4(0xc6120001, 0xc6120002, (5000 << 16) | 80, 0x49534e31);
    assertEquals(f, (h.lo ^ h.hi) >>> 0);
  });

  test("RFC 6528 (3): one 4-tuple's ISNs increase with time, also across the 2^32 wrap", () => {
    const isns = new IsnGenerator(key);
    const f = isns.offset(1, 2, 3, 4);
    // Start one millisecond before M + F wraps.
    const wrapAt = (0x1_0000_0000 - f) / 250;
    let prev = isns.isn(1, 2, 3, 4, wrapAt - 1);
    for (let t = wrapAt - 1 + 0.1; t < wrapAt + 1; t += 0.1) {
      const cur = isns.isn(1, 2, 3, 4, t);
      assertEquals(((cur - prev) | 0) > 0, true, `at t=${t}`);
      prev = cur;
    }
  });

  test("RFC 6528 (3): other 4-tuples and other keys get unrelated ISNs", () => {
    const a = new IsnGenerator(key);
    const b = new IsnGenerator(Uint8Array.from({ length: 16 }, (_, i) => i));
    const base = a.isn(0xc6120001, 5000, 0xc6120002, 80, 100);
    assertNotEquals(a.isn(0xc6120001, 5001, 0xc6120002, 80, 100), base);
    assertNotEquals(a.isn(0xc6120001, 5000, 0xc6120003, 80, 100), base);
    assertNotEquals(b.isn(0xc6120001, 5000, 0xc6120002, 80, 100), base);
    // Deterministic under a given key.
    assertEquals(new IsnGenerator(key).isn(0xc6120001, 5000, 0xc6120002, 80, 100), base);
  });

  test("a generator without a key draws a random one; rekey changes F", () => {
    const a = new IsnGenerator();
    const b = new IsnGenerator();
    assertNotEquals(a.offset(1, 2, 3, 4), b.offset(1, 2, 3, 4));
    const before = a.offset(1, 2, 3, 4);
    a.rekey(key);
    assertEquals(a.offset(1, 2, 3, 4), new IsnGenerator(key).offset(1, 2, 3, 4));
    assertNotEquals(a.offset(1, 2, 3, 4), before);
  });
});
