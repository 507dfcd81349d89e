// Large segments wait for a worthwhile window (as Linux's tcp_tso_should_defer):
// where the windows leave room for less than a third of a window and the next
// ACK is due, new data waits for it instead of leaving as a small large
// segment, so that ACK-clocked sending keeps its packets large.
import { assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, established } from "./tcp_dialogue.ts";

const segmentation = 65000;
const mss = 1460;

/**
 * A connection in slow start (NewReno, no HyStart++) with 80 segments in
 * flight, sent `rttMs` after the ACK of the 40 before them; returns the
 * dialogue and where those 80 segments begin.
 */
function eightyInFlight(rttMs: number, write = 1_000_000): { d: Dialogue; from: number } {
  const d = established({
    segmentation,
    peer: { ws: 7, sackPermitted: true },
    tcp: { congestion: "newreno", hystart: false },
  });
  assertEquals(d.write(write), write);
  let segs = d.recvAll();
  for (let round = 0; round < 3; round++) {
    assertEquals(segs.length, 10 << round);
    const last = segs[segs.length - 1];
    d.run(rttMs);
    d.send({ flags: ACK, seq: 1, ack: last.seq + last.payload.length });
    segs = d.recvAll();
  }
  assertEquals(segs.length, 80);
  return { d, from: segs[0].seq };
}

describe("TCP large segments wait for the window", () => {
  test("ACKs that open less than a third of the window send nothing; the one that opens a third sends it whole", () => {
    const { d, from } = eightyInFlight(10);
    const t = d.tcb!;
    d.run(4); // the oldest segment's ACK is due (SRTT about 4 ms), its probe not yet (2 SRTT)
    assertEquals(d.queue.length, 0);
    const large0 = t.stats.largeSegsOut;
    // Each ACK of 2 segments grows cwnd by 2 in slow start: 4 segments of room per ACK.
    for (let k = 1; k <= 7; k++) {
      d.send({ flags: ACK, seq: 1, ack: from + 2 * k * mss });
      assertEquals(d.recvAll(0.2).length, 0, `ACK ${k}: ${4 * k} segments of room, cwnd ${t.cc.cwnd / mss}`);
    }
    // The 8th: 32 segments of room, cwnd 96: a third of it.
    d.send({ flags: ACK, seq: 1, ack: from + 16 * mss });
    const segs = d.recvAll(0.2);
    assertEquals(segs.length, 32);
    assertEquals(segs[0].seq, from + 80 * mss);
    assertEquals(t.stats.largeSegsOut - large0, 1);
  });

  test("an ACK while the oldest segment's ACK is more than half an SRTT away: the room goes at once", () => {
    const { d, from } = eightyInFlight(10);
    const t = d.tcb!;
    const large0 = t.stats.largeSegsOut;
    d.send({ flags: ACK, seq: 1, ack: from + 2 * mss }); // 0.5 ms after the flight left, SRTT several ms
    const segs = d.recvAll(0.2);
    assertEquals(segs.length, 4);
    assertEquals(t.stats.largeSegsOut - large0, 1);
  });

  test("an ACK more than a millisecond before the oldest segment's is due: the room goes at once", () => {
    const { d, from } = eightyInFlight(10);
    const t = d.tcb!;
    // The first of the 80 is the round's loss probe, sent before the ACK that let the rest go:
    // acknowledged, it leaves the oldest segment one that left with the rest.
    d.send({ flags: ACK, seq: 1, ack: from + mss });
    d.recvAll(0.1);
    // SRTT about 4 ms: the oldest segment's ACK is due within half an SRTT, not within 1 ms.
    const due = t.rack!.headSentAt + t.rto.srttMs - d.now;
    assertEquals(due > 1 && due <= t.rto.srttMs / 2, true, `due in ${due} ms, SRTT ${t.rto.srttMs}`);
    const out0 = t.sndNxt;
    d.send({ flags: ACK, seq: 1, ack: from + 3 * mss });
    assertEquals(d.recvAll(0.2).length, 4);
    assertEquals(((t.sndNxt - out0) >>> 0) / mss, 4);
  });

  test("the last of the queued data does not wait", () => {
    // 150 segments sent in four rounds, 2 left queued behind them.
    const { d, from } = eightyInFlight(10, 152 * mss);
    d.run(4);
    // An ACK of 1 segment: 2 segments of room, under a third of the window, and all that is left.
    d.send({ flags: ACK, seq: 1, ack: from + mss });
    const segs = d.recvAll(0.2);
    assertEquals(segs.length, 2);
    assertEquals(segs[1].seq + segs[1].payload.length, 1 + 152 * mss);
  });
});
