/** The RFC 5961 (7) challenge ACK limit: a token bucket driven by `now`. */
import { describe, test } from "./harness.ts";
import { assertEquals, assertThrows } from "@std/assert";
import { challengeAckLimitPerSecond, TokenBucket } from "../src/tcp/rate_limit.ts";

function takeAll(b: TokenBucket, now: number): number {
  let n = 0;
  while (b.take(now)) n++;
  return n;
}

describe("tcp rate limit", () => {
  test("RFC 5961 (7): by default at most 1000 challenge ACKs a second", () => {
    assertEquals(challengeAckLimitPerSecond, 1000);
    const b = new TokenBucket();
    assertEquals(takeAll(b, 0), 1000);
    assertEquals(b.take(0), false);
    // Over the next second, one per millisecond.
    let sent = 0;
    for (let t = 0.5; t <= 1000; t += 0.5) if (b.take(t)) sent++;
    assertEquals(sent, 1000);
  });

  test("RFC 5961 (7): the limit is configurable, and the bucket holds at most its burst", () => {
    const b = new TokenBucket(10, 3);
    assertEquals(takeAll(b, 0), 3);
    assertEquals(takeAll(b, 100), 1);
    assertEquals(takeAll(b, 10_000), 3);
    assertEquals(b.available(10_000), 0);
    assertEquals(b.available(10_050), 0.5);
  });

  test("a clock that stands still or steps back adds no tokens", () => {
    const b = new TokenBucket(1000, 1, 50);
    assertEquals(b.take(50), true);
    assertEquals(b.take(50), false);
    assertEquals(b.take(10), false);
    assertEquals(b.take(50.5), false);
    assertEquals(b.take(51), true);
  });

  test("a zero rate never refills; negative rates are refused", () => {
    const b = new TokenBucket(0, 2);
    assertEquals(takeAll(b, 0), 2);
    assertEquals(takeAll(b, 1e9), 0);
    assertThrows(() => new TokenBucket(-1), RangeError);
  });
});
