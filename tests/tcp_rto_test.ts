/** The RFC 6298 retransmission-timeout estimator. */
import { describe, test } from "./harness.ts";
import { assertAlmostEquals, assertEquals, assertThrows } from "@std/assert";
import {
  expectedTimestampSamples,
  RtoEstimator,
  rtoInitialMs,
  rtoMaxMs,
  rtoMinLinuxMs,
  rtoMinMs,
} from "../src/tcp/rto.ts";

describe("tcp rto", () => {
  test("RFC 6298 (2.1): before any sample the RTO is 1 s", () => {
    const rto = new RtoEstimator();
    assertEquals(rto.rtoMs, rtoInitialMs);
    assertEquals(rto.rtoMs, 1000);
    assertEquals(rto.hasSample, false);
  });

  test("RFC 6298 (2.2): the first sample sets SRTT=R, RTTVAR=R/2, RTO=SRTT+max(G,4*RTTVAR)", () => {
    const rto = new RtoEstimator({ minMs: 1 });
    rto.sample(100);
    assertEquals([rto.srttMs, rto.rttvarMs, rto.rtoMs], [100, 50, 300]);
  });

  test("RFC 6298 (2.3): later samples update RTTVAR with the old SRTT, then SRTT, alpha 1/8 beta 1/4", () => {
    const rto = new RtoEstimator({ minMs: 1 });
    rto.sample(100);
    rto.sample(200);
    // RTTVAR = 3/4 * 50 + 1/4 * |100 - 200| = 62.5; SRTT = 7/8 * 100 + 1/8 * 200 = 112.5
    assertEquals(rto.rttvarMs, 62.5);
    assertEquals(rto.srttMs, 112.5);
    assertEquals(rto.rtoMs, 112.5 + 4 * 62.5);
  });

  test("RFC 6298 (2.2): the clock granularity G bounds the variance term from below", () => {
    const rto = new RtoEstimator({ minMs: 1, granularityMs: 10 });
    rto.sample(8);
    for (let i = 0; i < 50; i++) rto.sample(8); // RTTVAR decays toward 0
    assertAlmostEquals(rto.rtoMs, 8 + 10, 1e-9);
  });

  test("RFC 6298 (2.4): the RTO is rounded up to 1 s by default, or to a configured 200 ms", () => {
    const rfc = new RtoEstimator();
    rfc.sample(10);
    assertEquals(rfc.rtoMs, rtoMinMs);
    const linux = new RtoEstimator({ minMs: rtoMinLinuxMs });
    linux.sample(10);
    assertEquals(linux.rtoMs, 200);
    linux.sample(10);
    assertEquals(linux.rtoMs, 200);
  });

  test("RFC 6298 (2.5): the RTO is capped at the maximum, 60 s by default", () => {
    const rto = new RtoEstimator();
    rto.sample(50_000);
    assertEquals(rto.rtoMs, rtoMaxMs);
    const small = new RtoEstimator({ maxMs: 5000 });
    small.sample(4000);
    assertEquals(small.rtoMs, 5000);
  });

  test("RFC 6298 (5.5): each expiry doubles the RTO, up to the maximum", () => {
    const rto = new RtoEstimator({ minMs: 200, maxMs: 3000 });
    rto.sample(50); // RTO 200
    const seen: number[] = [];
    for (let i = 0; i < 6; i++) {
      rto.backoff();
      seen.push(rto.rtoMs);
    }
    assertEquals(seen, [400, 800, 1600, 3000, 3000, 3000]);
    assertEquals(rto.backoffCount, 6);
  });

  test("RFC 6298 (5.7): a new valid sample recomputes the RTO and clears backoff", () => {
    const rto = new RtoEstimator({ minMs: 200 });
    rto.sample(100); // 300
    rto.backoff();
    rto.backoff();
    assertEquals(rto.rtoMs, 1200);
    rto.sample(100);
    assertEquals(rto.backoffCount, 0);
    assertAlmostEquals(rto.rtoMs, 100 + 4 * 37.5, 1e-9);
  });

  test("RFC 6298 (3): Karn's rule ignores the RTT of a retransmitted segment and keeps the backoff", () => {
    const rto = new RtoEstimator({ minMs: 200 });
    rto.sample(100);
    rto.backoff();
    assertEquals(rto.sampleSegment(5000, true), false);
    assertEquals([rto.srttMs, rto.rtoMs, rto.backoffCount], [100, 600, 1]);
    assertEquals(rto.sampleSegment(100, false), true);
    assertEquals(rto.backoffCount, 0);
  });

  test("RFC 7323 (4) and RFC 6298 (3): timestamp samples count even after a retransmission", () => {
    const rto = new RtoEstimator({ minMs: 1 });
    rto.backoff();
    rto.sampleTimestamp(80);
    assertEquals([rto.srttMs, rto.rttvarMs, rto.rtoMs, rto.backoffCount], [80, 40, 240, 0]);
  });

  test("RFC 7323 (appendix G): with several samples per RTT the gains are divided by ExpectedSamples", () => {
    const rto = new RtoEstimator({ minMs: 1 });
    rto.sampleTimestamp(100);
    const n = expectedTimestampSamples(10 * 1460, 1460); // ceil(10 / 2) = 5
    assertEquals(n, 5);
    rto.sampleTimestamp(200, n);
    // RTTVAR = (1 - 1/20) * 50 + 1/20 * 100 = 52.5; SRTT = (1 - 1/40) * 100 + 1/40 * 200 = 102.5
    assertAlmostEquals(rto.rttvarMs, 52.5, 1e-9);
    assertAlmostEquals(rto.srttMs, 102.5, 1e-9);
    assertEquals(expectedTimestampSamples(0, 1460), 1);
  });

  test("RFC 6298 (5.7): after a SYN timed out, an RTO below 3 s becomes 3 s for data", () => {
    const rto = new RtoEstimator({ minMs: 200 });
    rto.backoff(); // the SYN timed out: 2 s
    rto.applySynFallback();
    assertEquals([rto.rtoMs, rto.backoffCount], [3000, 0]);
    rto.sample(40);
    assertEquals(rto.rtoMs, 200);
  });

  test("RFC 6298 (5.7): a cleared estimate takes the next sample as a first one", () => {
    const rto = new RtoEstimator({ minMs: 1 });
    rto.sample(100);
    rto.sample(300);
    rto.clearEstimate();
    rto.sample(40);
    assertEquals([rto.srttMs, rto.rttvarMs], [40, 20]);
  });

  test("negative or NaN RTTs are no samples; bad bounds are refused", () => {
    const rto = new RtoEstimator();
    rto.sample(-5);
    rto.sample(NaN);
    assertEquals(rto.hasSample, false);
    assertThrows(() => new RtoEstimator({ minMs: 500, maxMs: 100 }), RangeError);
  });
});
