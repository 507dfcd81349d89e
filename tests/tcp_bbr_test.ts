// BBR (draft-cardwell-iccrg-bbr-congestion-control, v1) and the delivery-rate
// samples it is built on (draft-cheng-iccrg-delivery-rate-estimation): the
// sampler's figures on a worked example, Startup's exit once the bandwidth
// stops growing, ProbeRTT after 10 s without a new min RTT, pacing that keeps
// the bottleneck's queue short, and goodput through random loss on the
// in-memory link (virtual clock: every figure is deterministic) where CUBIC
// backs off and BBR keeps the rate.
import {
  assert,
  assertAlmostEquals,
  assertEquals,
  assertGreaterOrEqual,
  assertLessOrEqual,
} from "@std/assert";
import { Bbr, bbrProbeRttMs, bbrRtpropFilterMs, BbrState } from "../src/tcp/bbr.ts";
import type { CongestionName } from "../src/tcp/congestion.ts";
import { Rack } from "../src/tcp/rack.ts";
import { RateSampler } from "../src/tcp/rate_sample.ts";
import { describe, test } from "./harness.ts";
import { addrB } from "./sim.ts";
import { Endpoint, tcpHosts } from "./tcp_sim.ts";

const none = new Uint32Array(0);

/** A rate sample for {@link Bbr.onRateSample}: one round trip that delivered `bytes` at `rate` bytes/ms. */
function sample(rs: RateSampler, bytes: number, rate: number, rtt: number): RateSampler {
  rs.begin();
  rs.priorDelivered = rs.delivered;
  rs.delivered += bytes;
  rs.newlyDelivered = bytes;
  rs.sampleAppLimited = false;
  rs.rate = rate;
  rs.rtt = rtt;
  return rs;
}

const bandwidthBps = 50e6;

/** 10 MB one way over 50 Mbit/s with 20 ms round trips and `loss` of the data: share of the link, max SRTT late on. */
function transfer(congestion: CongestionName, loss: number, seed: number) {
  const bytes = 10 << 20;
  const { ta, tb, clock } = tcpHosts({
    seed,
    faultsAtoB: { loss },
    bandwidthBps,
    delayMs: 10,
    buffers: 8192,
    tcp: { congestion },
  });
  const client = new Endpoint(ta, clock, bytes, 1);
  const server = new Endpoint(tb, clock, 0, 2);
  tb.listen(80, () => server.handlers());
  ta.connect(addrB, 80, client.handlers(), clock.now);
  let srttMax = 0;
  clock.runUntil(() => {
    const c = client.conn;
    // After Startup and Drain (the first second): the queue the sender keeps at the bottleneck.
    if (c !== undefined && clock.now > 1000 && c.rto.srttMs > srttMax) srttMax = c.rto.srttMs;
    return server.ended;
  }, 600_000);
  assertEquals(server.recvDigest, client.sendDigest, `seed ${seed}: every byte arrived, in order`);
  const c = client.conn!;
  return { share: (bytes * 8) / (clock.now / 1000) / bandwidthBps, srttMax, cc: c.cc, stats: c.stats };
}

describe("BBR", () => {
  test("delivery rate: a worked example of the sampler's figures (draft-cheng 3.2, 3.3)", () => {
    const r = new Rack();
    // Three segments of 1000 bytes at 0, 1 and 2 ms, nothing in flight before.
    r.sent(0, 1000, 0);
    r.sent(1000, 2000, 1);
    r.sent(2000, 3000, 2);
    // The first is ACKed at 10 ms: 1000 bytes over max(send 0 ms, ack 10 ms).
    r.onAck(1000, none, 0, 0, 0, false, 10);
    const rs = r.rate;
    assertEquals([rs.delivered, rs.priorDelivered, rs.sampleDelivered, rs.interval], [1000, 0, 1000, 10]);
    assertEquals(rs.rate, 100);
    assertEquals(rs.rtt, 10);
    // The second at 11 ms: sent 1 ms after the first (send_elapsed 1), ack_elapsed 11: 2000 bytes over 11 ms.
    r.onAck(2000, none, 0, 0, 0, false, 11);
    assertEquals([rs.delivered, rs.sendElapsed, rs.ackElapsed, rs.sampleDelivered], [2000, 1, 11, 2000]);
    assertAlmostEquals(rs.rate, 2000 / 11);
    // A fourth leaves at 12 ms carrying delivered 2000 (at 11 ms); the third and fourth are ACKed at 22 ms.
    r.sent(3000, 4000, 12);
    r.onAck(4000, none, 0, 0, 0, false, 22);
    // The newest delivered (sent at 12) sets the interval: send 12 - 1 = 11 ms, ack 22 - 11 = 11 ms.
    assertEquals([rs.priorDelivered, rs.sampleDelivered, rs.sendElapsed, rs.ackElapsed], [
      2000,
      2000,
      11,
      11,
    ]);
    assertAlmostEquals(rs.rate, 2000 / 11);
    // Sent again after everything was delivered: the clocks restart (send and ACK elapsed from 30 ms).
    r.sent(4000, 5000, 30);
    r.onAck(5000, none, 0, 0, 0, false, 42);
    assertEquals([rs.priorDelivered, rs.sendElapsed, rs.ackElapsed, rs.rate], [4000, 0, 12, 1000 / 12]);
  });

  test("delivery rate: a large segment ACKed in part is sampled part by part", () => {
    const r = new Rack();
    r.sent(0, 4000, 0); // one segment the device cuts
    r.onAck(2000, none, 0, 0, 0, false, 10);
    assertEquals([r.rate.sampleDelivered, r.rate.rate], [2000, 200]);
    r.onAck(4000, none, 0, 0, 0, false, 12);
    assertEquals([r.rate.sampleDelivered, r.rate.interval], [4000, 12]);
  });

  test("delivery rate: samples taken while the application limits the sender are marked so (draft-cheng 3.4)", () => {
    const r = new Rack();
    r.sent(0, 1000, 0);
    r.rate.markAppLimited(1000); // nothing more queued: delivered + in flight = 1000
    r.sent(1000, 1500, 1);
    r.onAck(1000, none, 0, 0, 0, false, 10);
    assertEquals(r.rate.sampleAppLimited, false, "sent before the mark");
    assertEquals(r.rate.isAppLimited, true, "what was in flight at the mark is not yet past");
    r.onAck(1500, none, 0, 0, 0, false, 11);
    assertEquals(r.rate.sampleAppLimited, true, "sent while app-limited");
    assertEquals(r.rate.isAppLimited, false, "1500 delivered, past the mark's 1000: the phase ended");
  });

  test("Startup ends after three round trips without 25% bandwidth growth; Drain, then ProbeBW (draft 4.3.2.2)", () => {
    const mss = 1000;
    const cc = new Bbr(mss, { sack: true, rateSamples: true });
    const rs = new RateSampler();
    let now = 0, rate = 100;
    const startupRounds: number[] = [];
    for (let round = 1; round <= 12; round++) {
      now += 10;
      if (round <= 5) rate *= 2; // growing: 200 .. 3200 bytes/ms
      else if (round === 6) rate *= 1.2; // under 25% more than the full bandwidth (3200), then flat
      cc.onRateSample(sample(rs, 20_000, rate, 10), 50_000, now);
      if (cc.state === BbrState.startup) startupRounds.push(round);
    }
    // Full bandwidth 3200 at round 5; rounds 6, 7 and 8 stay under 4000: the pipe is full at round 8.
    assertEquals(startupRounds, [1, 2, 3, 4, 5, 6, 7]);
    assert(cc.filledPipe);
    // Drain ends once the flight fits one BDP: after it, ProbeBW.
    cc.onRateSample(sample(rs, 20_000, rate, 10), 1000, now + 10);
    assertEquals(cc.stateName, "ProbeBW");
  });

  test("ACK aggregation: bytes ACKed beyond the bandwidth's share of the time widen cwnd's target", () => {
    const mss = 1000;
    const cc = new Bbr(mss, { sack: true, rateSamples: true });
    const rs = new RateSampler();
    let now = 0;
    // ACKs of 1000 bytes every ms at 1000 bytes/ms, 10 ms min RTT: BDP 10 KB; Startup's plateau fills the pipe.
    for (let i = 0; i < 12; i++) cc.onRateSample(sample(rs, 1000, 1000, 10), 10_000, now += 1);
    assert(cc.filledPipe);
    assertEquals(cc.extraAcked, 1000, "ACKs at the bandwidth's pace: one ACK's bytes, no more");
    const target = cc.inflight(2) + 3 * cc.sendQuantum;
    // 20 ms of silence, then 15 KB ACKed at once: beyond the pace by all of it (the episode restarts).
    now += 20;
    cc.onRateSample(sample(rs, 15_000, 1000, 10), 0, now);
    assertEquals(cc.extraAcked, 15_000);
    for (let i = 0; i < 40; i++) cc.onRateSample(sample(rs, 1000, 1000, 10), 10_000, now += 1);
    assertEquals(cc.cwnd, target + cc.extraAcked, "cwnd grows to the target plus the aggregation allowance");
    assert(cc.cwnd > target);
  });

  test("ProbeRTT: after 10 s without a new min RTT, 4 segments for 200 ms and a round trip (draft 4.3.5)", () => {
    const mss = 1000;
    const cc = new Bbr(mss, { sack: true, rateSamples: true });
    const rs = new RateSampler();
    let now = 0;
    for (let i = 0; i < 12; i++) cc.onRateSample(sample(rs, 50_000, 5000, 10), 50_000, now += 10);
    assertEquals(cc.minRtt, 10);
    const stamp = now; // the min RTT's last sample
    // Round trips of 12 ms: the min RTT is not refreshed; 10 s after it ProbeRTT begins.
    while (cc.state !== BbrState.probeRtt && now < 2 * bbrRtpropFilterMs) {
      cc.onRateSample(sample(rs, 60_000, 5000, 12), 60_000, now += 12);
    }
    assertEquals(cc.stateName, "ProbeRTT");
    assertGreaterOrEqual(now, stamp + bbrRtpropFilterMs);
    assertLessOrEqual(now, stamp + bbrRtpropFilterMs + 12);
    assertEquals(cc.cwnd, 4 * mss);
    const entered = now;
    // The flight drains to 4 segments; ProbeRTT holds for 200 ms and one round trip.
    while (cc.state === BbrState.probeRtt && now < entered + 1000) {
      cc.onRateSample(sample(rs, 4000, 5000, 11), 4 * mss, now += 11);
    }
    assertEquals(cc.stateName, "ProbeBW");
    assertGreaterOrEqual(now - entered, bbrProbeRttMs);
    assertLessOrEqual(now - entered, bbrProbeRttMs + 3 * 11);
    assertEquals(cc.minRtt, 11, "the min RTT ProbeRTT measured");
    assertGreaterOrEqual(cc.cwnd, 50_000, "the window from before ProbeRTT is back");
  });

  test("pacing spreads the window over the round trip: the bottleneck queue stays short where CUBIC's fills", () => {
    const bbr = transfer("bbr", 0, 9);
    const cubic = transfer("cubic", 0, 9);
    console.log(
      `no loss, 50 Mbit/s, 20 ms RTT: max SRTT after 1 s: bbr ${bbr.srttMax.toFixed(1)} ms ` +
        `(${(bbr.share * 100).toFixed(1)}% of the link), cubic ${cubic.srttMax.toFixed(1)} ms ` +
        `(${(cubic.share * 100).toFixed(1)}%)`,
    );
    // 20 ms of propagation; BBR's queue adds at most a few ms (ProbeBW's 5/4 phase), CUBIC's hundreds.
    assertLessOrEqual(bbr.srttMax, 30);
    assertGreaterOrEqual(cubic.srttMax, 100);
    assertGreaterOrEqual(bbr.share, 0.85);
    // Only BBR's connections have RACK's log feed the rate sampler; its model is made of them.
    assertEquals([bbr.cc.usesRateSamples, cubic.cc.usesRateSamples], [true, false]);
    const info = (bbr.cc as Bbr).info();
    assertEquals(info.state, "ProbeBW");
    assertAlmostEquals(info.bwBitsPerSecond, bandwidthBps, bandwidthBps * 0.1, "the bandwidth estimate");
    assert(info.minRttMs !== null && info.minRttMs >= 20 && info.minRttMs < 22, `min RTT ${info.minRttMs}`);
    assertAlmostEquals(info.pacingRateBitsPerSecond, bandwidthBps, bandwidthBps * 0.3);
  });

  test(
    "through 1% and 3% random loss BBR keeps most of a 50 Mbit/s link with 20 ms RTT; CUBIC does not",
    () => {
      for (const loss of [0.01, 0.03]) {
        for (const seed of [9, 4, 21]) {
          const bbr = transfer("bbr", loss, seed);
          const cubic = transfer("cubic", loss, seed);
          console.log(
            `${loss * 100}% loss, seed ${seed}: bbr ${(bbr.share * 100).toFixed(1)}% of the link ` +
              `(${bbr.stats.retransTimeouts} timeouts, ${bbr.stats.rackLosses} lost), cubic ${
                (cubic.share * 100).toFixed(1)
              }% (${cubic.stats.retransTimeouts} timeouts)`,
          );
          assertGreaterOrEqual(bbr.share, 0.65, `bbr at ${loss * 100}% loss, seed ${seed}`);
          assertLessOrEqual(cubic.share, 0.35, `cubic at ${loss * 100}% loss, seed ${seed}`);
        }
      }
    },
    { timeoutMs: 300_000 },
  );
});
