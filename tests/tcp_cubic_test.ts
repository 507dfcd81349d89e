/**
 * CUBIC (RFC 9438): K and W_cubic against values computed by hand from the
 * RFC's formulas (C = 0.4, beta_cubic = 0.7), and the controller's
 * reactions to ACKs, losses and timeouts.
 */
import { describe, test } from "./harness.ts";
import { assertAlmostEquals, assertEquals } from "@std/assert";
import { CcAction } from "../src/tcp/congestion.ts";
import { Cubic, cubicAlpha, cubicBeta, cubicC, cubicK, cubicW } from "../src/tcp/cubic.ts";

const mss = 1000;
const una = 0xffff_ff00; // below the wrap

function at(offset: number): number {
  return (una + offset) >>> 0;
}

/** A SACK connection in congestion avoidance at 100 segments that just lost one and recovered. */
function afterOneLoss(): Cubic {
  const cc = new Cubic(mss, { initialWindow: 100_000, initialSsthresh: 100_000, sack: true });
  cc.enterRecovery(0, 100_000, at(100_000));
  cc.onAck(at(100_000), 100_000, 70_000, 1000, 100); // full ACK
  return cc;
}

describe("tcp cubic", () => {
  test("RFC 9438 (4.1.1, 4.3): C = 0.4, beta = 0.7, alpha = 3 * 0.3 / 1.7", () => {
    assertEquals([cubicC, cubicBeta], [0.4, 0.7]);
    assertAlmostEquals(cubicAlpha, 0.5294117647058825, 1e-15);
  });

  test("RFC 9438 (4.2) figure 2: K = cbrt((W_max - cwnd_epoch) / C)", () => {
    // W_max 100, cwnd_epoch 70: cbrt(30 / 0.4) = cbrt(75) = 4.217163326508746
    assertAlmostEquals(cubicK(100, 70), 4.217163326508746, 1e-12);
    // W_max 76.5, cwnd_epoch 63: cbrt(13.5 / 0.4) = cbrt(33.75) = 3.2316520350478255
    assertAlmostEquals(cubicK(76.5, 63), 3.2316520350478255, 1e-12);
    assertEquals(cubicK(50, 50), 0);
  });

  test("RFC 9438 (4.2) figure 1: W_cubic(t) = C * (t - K)^3 + W_max", () => {
    const k = 4.217163326508746;
    assertAlmostEquals(cubicW(0, k, 100), 70, 1e-9); // starts at cwnd_epoch
    assertAlmostEquals(cubicW(k, k, 100), 100, 1e-12); // plateau at W_max after K
    // 0.4 * (2 - 4.217163326508746)^3 + 100 = 0.4 * -10.89916 + 100 = 95.64033568663878
    assertAlmostEquals(cubicW(2, k, 100), 95.64033568663878, 1e-9);
    // Convex beyond K: 0.4 * 1^3 + 100
    assertAlmostEquals(cubicW(k + 1, k, 100), 100.4, 1e-9);
  });

  test("RFC 9438 (4.6): a loss sets cwnd_prior and W_max to cwnd, ssthresh = cwnd = 0.7 * FlightSize", () => {
    const cc = new Cubic(mss, { initialWindow: 100_000, initialSsthresh: 100_000, sack: true });
    cc.enterRecovery(0, 100_000, at(100_000));
    assertEquals([cc.ssthresh, cc.cwnd, cc.wMax, cc.cwndPrior], [70_000, 70_000, 100, 100]);
  });

  test("RFC 9438 (4.6): without SACK, NewReno recovery adds 3 segments to the reduced window", () => {
    const cc = new Cubic(mss, { initialWindow: 100_000, initialSsthresh: 100_000 });
    for (let i = 0; i < 2; i++) cc.onDupAck(at(0), 100_000, at(100_000), 0);
    assertEquals(cc.onDupAck(at(0), 100_000, at(100_000), 0), CcAction.retransmit | CcAction.enteredRecovery);
    assertEquals([cc.ssthresh, cc.cwnd], [70_000, 73_000]);
  });

  test("RFC 9438 (4.6): ssthresh and cwnd are at least 2 segments", () => {
    const cc = new Cubic(mss, { initialWindow: 2000, initialSsthresh: 2000, sack: true });
    cc.enterRecovery(0, 2000, at(2000));
    assertEquals([cc.ssthresh, cc.cwnd], [2000, 2000]);
  });

  test("RFC 9438 (4.7): fast convergence lowers W_max to cwnd * (1 + beta) / 2 below the old W_max", () => {
    const cc = afterOneLoss(); // W_max 100
    // Back to 90 segments, then another loss.
    for (let i = 0; i < 200 && cc.cwnd < 90_000; i++) {
      cc.onAck(at(100_000 + i), 1000, cc.cwnd, 1000 + 50 * i, 100);
    }
    const cwnd = cc.cwnd / mss;
    cc.enterRecovery(20_000, cc.cwnd, at(300_000));
    assertAlmostEquals(cc.wMax, (cwnd * 1.7) / 2, 1e-9);
    const off = new Cubic(mss, {
      initialWindow: 100_000,
      initialSsthresh: 100_000,
      sack: true,
      fastConvergence: false,
    });
    off.enterRecovery(0, 100_000, at(100_000));
    off.onAck(at(100_000), 100_000, 70_000, 1000, 100);
    off.enterRecovery(2000, 70_000, at(200_000));
    assertEquals(off.wMax, 70);
  });

  test("RFC 9438 (4.2, 4.3): the first ACK of the epoch sets K and W_est; near t = 0 cwnd follows W_est", () => {
    const cc = afterOneLoss();
    assertEquals([cc.cwnd, cc.inRecovery, cc.epochStartMs], [70_000, false, -1]);
    cc.onAck(at(101_000), 1000, 69_000, 1000, 100);
    assertEquals(cc.epochStartMs, 1000);
    assertAlmostEquals(cc.k, 4.217163326508746, 1e-12);
    // W_est = 70 + alpha * 1 / 70 = 70.00756302521009 (alpha stays 0.529: W_est < cwnd_prior 100).
    assertAlmostEquals(cc.wEst, 70.00756302521009, 1e-9);
    // W_cubic(0) = 70 < W_est: the Reno-friendly region, cwnd = W_est.
    assertEquals(cc.cwnd, 70_007);
  });

  test("RFC 9438 (4.4): in the concave region cwnd grows by (target - cwnd) / cwnd, target = W_cubic(t + RTT)", () => {
    const cc = afterOneLoss();
    cc.onAck(at(101_000), 1000, 69_000, 1000, 100); // epoch starts at 1000 ms; cwnd 70007
    cc.onAck(at(102_000), 1000, 69_007, 3000, 100); // t = 2 s, RTT 0.1 s
    // W_est = 70.00756 + alpha / 70.007 = 70.01513 < W_cubic(2) = 95.64: the cubic region.
    // target = W_cubic(2.1) = 96.20402731269051 (within [cwnd, 1.5 * cwnd]);
    // grow = (96.20402731269051 - 70.007) / 70.007 * 1000 bytes = 374.2058 bytes.
    assertEquals(cc.cwnd, 70_007 + 374);
  });

  test("RFC 9438 (4.2): the target is capped at 1.5 * cwnd", () => {
    const cc = afterOneLoss();
    cc.onAck(at(101_000), 1000, 69_000, 1000, 100);
    const before = cc.cwnd;
    // t = 100 s: W_cubic is enormous; the increase is at most (1.5 - 1) segments per segment acked.
    cc.onAck(at(102_000), 1000, before, 101_000, 100);
    assertEquals(cc.cwnd, before + 500);
  });

  test("RFC 9438 (4.3): alpha becomes 1 once W_est reaches cwnd_prior", () => {
    const cc = new Cubic(mss, { initialWindow: 10_000, initialSsthresh: 10_000, sack: true });
    cc.enterRecovery(0, 10_000, at(10_000)); // cwnd_prior 10, cwnd 7
    cc.onAck(at(10_000), 10_000, 7000, 1, 10);
    let west = 7;
    for (let i = 0; i < 40; i++) {
      const cwnd = cc.cwnd / mss;
      const alpha = west >= 10 ? 1 : cubicAlpha;
      west += alpha / cwnd;
      cc.onAck(at(11_000 + 1000 * i), 1000, cc.cwnd, 2, 10);
      assertAlmostEquals(cc.wEst, west, 1e-9, `ACK ${i}`);
    }
  });

  test("RFC 9438 (4.8): a timeout sets cwnd to one segment, ssthresh = 0.7 * FlightSize, then K = 0", () => {
    const cc = new Cubic(mss, { initialWindow: 50_000, initialSsthresh: 50_000 });
    cc.onRetransmitTimeout(0, 50_000, at(50_000));
    assertEquals([cc.cwnd, cc.ssthresh, cc.inRecovery], [1000, 35_000, false]);
    // Slow start back to ssthresh (L = 1*SMSS after a timeout: one segment per ACK).
    let now = 10;
    let acked = 0;
    while (cc.cwnd < cc.ssthresh) {
      acked += 1000;
      cc.onAck(at(acked), 1000, cc.cwnd - 1000, now++, 20);
    }
    assertEquals(cc.cwnd, 35_000);
    acked += 1000;
    cc.onAck(at(acked), 1000, 34_000, now, 20);
    // The first epoch after the timeout: K = 0 and W_max = cwnd at its start.
    assertEquals([cc.k, cc.wMax, cc.epochStartMs], [0, 35, now]);
  });

  test("RFC 5681 (4.1): restart after idle caps cwnd at IW and starts a new epoch", () => {
    const cc = afterOneLoss();
    cc.onAck(at(101_000), 1000, 69_000, 1000, 100);
    cc.onIdleRestart(60_000); // this connection's IW is 100 segments: cwnd stays
    assertEquals([cc.cwnd, cc.epochStartMs], [70_007, -1]);
    const small = new Cubic(mss, { initialSsthresh: 20_000 }); // IW 10 segments
    for (let i = 1; i <= 10; i++) small.onAck(at(1000 * i), 1000, small.cwnd, i, 20);
    assertEquals(small.cwnd > 10_000, true);
    small.onIdleRestart(60_000);
    assertEquals(small.cwnd, 10_000);
  });

  test("slow start below ssthresh is Reno's (RFC 9438 4.10)", () => {
    const cc = new Cubic(mss); // IW 10 segments
    cc.onAck(at(3000), 3000, 7000, 0, 20); // every byte acknowledged, as NewReno's slow start
    assertEquals(cc.cwnd, 13_000);
    assertEquals(cc.epochStartMs, -1);
  });
});
