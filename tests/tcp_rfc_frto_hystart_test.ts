// F-RTO (RFC 5682) and HyStart++ (RFC 9406), segment by segment on the
// virtual clock. F-RTO: after a timeout only the first segment goes again;
// ACKs of data sent once show the timeout spurious and the window comes
// back; a duplicate ACK shows it real and the sender goes back to SND.UNA.
// HyStart++: a round whose minimum RTT rose past the threshold ends slow
// start for Conservative Slow Start, a round back at the old RTT resumes
// slow start, and CSS_ROUNDS rounds of CSS end in congestion avoidance.
// The peer (B) takes 20 ms to complete the handshake: SRTT 20 ms, RTO 200 ms.
import { assert, assertAlmostEquals, assertEquals } from "@std/assert";
import { ssthreshInfiniteBytes } from "../src/tcp/congestion.ts";
import { hystartCssRounds } from "../src/tcp/hystart.ts";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, type DialogueOptions, type Seg, synReceived } from "./tcp_dialogue.ts";

const mss = 1460;
/** The relative sequence number of A's `i`-th full segment (0-based). */
const at = (i: number) => 1 + mss * i;

/** ESTABLISHED, SRTT 20 ms from a handshake that took 20 ms. */
function established20(o: DialogueOptions = {}): Dialogue {
  const d = synReceived(o);
  d.run(20);
  d.send({ flags: ACK, seq: 1, ack: 1 });
  assertEquals(d.state(), "ESTABLISHED");
  return d;
}

/**
 * A writes 20 segments, 10 leave (the initial window), B stays silent until
 * the timeout's one retransmission. With SACK (RACK-TLP), tail loss probes
 * of new data go first, at 2*SRTT and twice that later (tlp.ts). Returns the
 * index of the first segment not yet sent.
 */
function timedOut(d: Dialogue, sack: boolean): number {
  d.write(20 * mss);
  for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
  if (sack) {
    d.expect({ seq: at(10), len: mss }, 50); // the probe (RFC 8985 7.3)
    d.expect({ seq: at(11), len: mss }, 100); // the second (tlp.ts tlpProbesMax)
  }
  d.expect({ seq: at(0), len: mss }, 250);
  d.recvNothing(5); // F-RTO step 1: the first segment only
  assertEquals(d.tcb!.cc.cwnd, mss);
  assertEquals(d.tcb!.stats.retransTimeouts, 1);
  return sack ? 12 : 10;
}

for (const sack of [false, true]) {
  const variant = sack ? "SACK-enhanced F-RTO (RFC 5682 3)" : "basic F-RTO (RFC 5682 2)";
  describe(variant, () => {
    test("a spurious timeout: the ACKs after it cover data sent once -> two new segments, then the window is undone", () => {
      const d = established20({ peer: { sackPermitted: sack } });
      const n = timedOut(d, sack);
      const c = d.tcb!;
      const srtt = c.rto.srttMs;
      // The originals were only late: B acknowledges three of them.
      d.send({ flags: ACK, seq: 1, ack: at(3) });
      assertEquals(c.rto.srttMs, srtt, "Karn: no RTT sample from an ACK a retransmission makes ambiguous");
      // Step 2b: two segments of new data, whatever cwnd says.
      d.expect({ seq: at(n), len: mss });
      d.expect({ seq: at(n + 1), len: mss });
      d.recvNothing(1);
      // Step 3b: SND.UNA advances again over data sent once: spurious.
      d.send({ flags: ACK, seq: 1, ack: at(6) });
      assertEquals(c.stats.spuriousRtos, 1);
      assertEquals(d.tcp.counters.spuriousRtos, 1);
      assert(c.cc.cwnd >= 10 * mss, `cwnd ${c.cc.cwnd} undone`);
      assertEquals(c.cc.ssthresh, ssthreshInfiniteBytes);
      // Nothing goes back: what follows is new data.
      const next: Seg = d.expect({ len: mss });
      assertEquals(next.seq, at(n + 2));
      assertEquals(c.stats.retransSegs, 1);
    });

    test("a real timeout: a duplicate ACK after the new segments -> back to SND.UNA in slow start, nothing undone", () => {
      const d = established20({ peer: { sackPermitted: sack } });
      const n = timedOut(d, sack);
      const c = d.tcb!;
      // Only the retransmission arrived: everything after it was lost.
      d.send({ flags: ACK, seq: 1, ack: at(1) });
      d.expect({ seq: at(n), len: mss });
      d.expect({ seq: at(n + 1), len: mss });
      // Step 3a: the new segments arrived, the old ones did not.
      d.send({ flags: ACK, seq: 1, ack: at(1), sack: sack ? [[at(n), at(n + 2)]] : undefined });
      d.expect({ seq: at(1), len: mss });
      assertEquals(c.stats.spuriousRtos, 0);
      assert(c.cc.cwnd <= 3 * mss, `cwnd ${c.cc.cwnd}`);
      assert(c.cc.ssthresh < ssthreshInfiniteBytes);
    });
  });
}

describe("F-RTO switched off (tcp.frto false)", () => {
  test("the timeout goes back to SND.UNA at once", () => {
    const d = established20({ tcp: { frto: false } });
    timedOut(d, false);
    d.send({ flags: ACK, seq: 1, ack: at(3) });
    d.expect({ seq: at(3), len: mss });
    assertEquals(d.tcb!.stats.spuriousRtos, 0);
  });
});

/**
 * A path for HyStart++: B acknowledges each data segment A sends (echoing its
 * TSval, so each ACK is an RTT sample) `rttOf(i)` ms after the `i`-th one
 * left, never before an earlier one's ACK. The link's own delay is 1 us, so
 * that a burst of ACKs takes next to no time. Runs until `n` segments were
 * acknowledged; `each(i)` after each ACK.
 */
function path(
  d: Dialogue,
  rttOf: (i: number) => number,
  n: number,
  each: (i: number) => void = () => {},
): void {
  const pending: { ack: number; due: number; ts: number }[] = [];
  let sent = 0;
  let lastDue = 0;
  for (let acked = 0, idle = 0; acked < n;) {
    if (d.queue.length === 0 && pending.length === 0) {
      assert(idle++ < 10, `A sent nothing after ${acked} ACKs (cwnd ${d.tcb!.cc.cwnd})`);
      d.run(1);
      continue;
    }
    for (const s of d.queue.splice(0)) {
      if (s.payload.length === 0) continue;
      // Half a millisecond past the TSval's tick: the sample is exactly the path's RTT.
      const due = Math.max(Math.floor(s.at) + rttOf(sent++) + 0.5, lastDue);
      lastDue = due;
      pending.push({ ack: s.seq + s.payload.length, due, ts: s.ts![0] });
    }
    const p = pending.shift();
    if (p === undefined) continue;
    idle = 0;
    if (p.due > d.now) d.run(p.due - d.now);
    d.send({ flags: ACK, seq: 1, ack: p.ack, ts: [d.tsB(), p.ts] });
    if (d.tcb!.sendq.bytes < 2 << 20) d.write(2 << 20); // the zone holds a few MB at a time
    each(acked++);
  }
}

function hystartEstablished(hystart = true): Dialogue {
  const d = established20({
    delayMs: 0.001,
    peer: { timestamps: true, ws: 7 },
    tcp: { sndBufBytes: 16 << 20, congestion: "newreno", hystart },
  });
  d.write(4 << 20);
  return d;
}

/** 20 ms for the first 150 segments (four rounds of slow start: 10, 20, 40, 80), then 40 ms. */
const rttRise = (i: number) => i < 150 ? 20 : 40;

describe("HyStart++ (RFC 9406)", () => {
  test("a round whose minimum RTT rose by the threshold ends slow start for CSS, a quarter of the growth (4.2)", () => {
    const d = hystartEstablished();
    const c = d.tcb!;
    let cssAt = -1;
    let cwndAtExit = 0;
    path(d, rttRise, 400, (i) => {
      if (cssAt < 0 && c.cc.hystartExits > 0) {
        cssAt = i;
        cwndAtExit = c.cc.cwnd;
      }
    });
    assertEquals(c.cc.hystartExits, 1);
    assertEquals(d.tcp.counters.hystartExits, 1);
    assertEquals(c.cc.hystartSpuriousExits, 0);
    // The exit came in the first round whose samples all had the higher RTT.
    assert(cssAt >= 150 + 8 && cssAt < 150 + 160, `exit after ${cssAt} ACKs`);
    assertEquals(c.cc.ssthresh, ssthreshInfiniteBytes); // CSS is still slow start
    // In CSS each ACK of one segment grows cwnd by a quarter segment (CSS_GROWTH_DIVISOR).
    const perAck = (c.cc.cwnd - cwndAtExit) / (400 - 1 - cssAt);
    assertAlmostEquals(perAck, (mss - 12) / 4, 2);
    // Without HyStart++ the same path leaves slow start alone.
    const plain = hystartEstablished(false);
    path(plain, rttRise, 400);
    assertEquals(plain.tcb!.cc.hystartExits, 0);
    assert(c.cc.cwnd < plain.tcb!.cc.cwnd, `cwnd ${c.cc.cwnd} vs ${plain.tcb!.cc.cwnd} without HyStart++`);
  });

  test("RTT back below the CSS baseline: the exit was spurious, slow start resumes (4.2)", () => {
    const d = hystartEstablished();
    const c = d.tcb!;
    path(d, (i) => i < 150 ? 20 : i < 250 ? 40 : 20, 500);
    assertEquals(c.cc.hystartExits, 1);
    assertEquals(c.cc.hystartSpuriousExits, 1);
    assertEquals(c.cc.ssthresh, ssthreshInfiniteBytes);
  });

  test("CSS_ROUNDS rounds of CSS end in congestion avoidance: ssthresh = cwnd (4.2)", () => {
    const d = hystartEstablished();
    const c = d.tcb!;
    let caAt = -1;
    path(d, rttRise, 3000, (i) => {
      if (caAt < 0 && c.cc.ssthresh < ssthreshInfiniteBytes) caAt = i;
    });
    assertEquals(c.cc.hystartExits, 1);
    assert(caAt > 150 + 160, `congestion avoidance after ${caAt} ACKs`);
    assert(c.cc.ssthresh <= c.cc.cwnd);
    assertEquals(c.stats.retransSegs, 0);
    assertEquals(hystartCssRounds, 5);
  });
});
