// The window a loss reduces (recovery.ts lossFlightSize): where the ACK that
// shows the loss finds most of the window acknowledged, with nothing sent
// after the ACKs before it, the reduction is a fraction of what was in
// flight when data last left, not of the sliver left (RFC 5681 (4) and RFC
// 9438 4.6 with the flight of the window in use, as Linux takes cwnd).
import { assertEquals } from "@std/assert";
import type { CongestionName } from "../src/tcp/congestion.ts";
import { describe, test } from "./harness.ts";
import { ACK, type Dialogue, established } from "./tcp_dialogue.ts";

const mss = 1460;

/**
 * A connection (SACK, RACK) that has sent all of its 150 segments, the last
 * 80 of them in flight, sent 10 ms after the ACK of the 70 before; returns
 * where those 80 begin.
 */
function allSent(congestion: CongestionName): { d: Dialogue; from: number } {
  const d = established({ peer: { ws: 7, sackPermitted: true }, tcp: { congestion, hystart: false } });
  assertEquals(d.write(150 * mss), 150 * mss);
  let segs = d.recvAll();
  for (let round = 0; round < 3; round++) {
    const last = segs[segs.length - 1];
    d.run(10);
    d.send({ flags: ACK, seq: 1, ack: last.seq + last.payload.length });
    segs = d.recvAll();
  }
  assertEquals(segs.length, 80);
  return { d, from: segs[0].seq };
}

describe("TCP loss reduction: the window in use", () => {
  for (const [congestion, beta] of [["newreno", 0.5], ["cubic", 0.7]] as const) {
    test(`${congestion}: a loss found with 70 of 80 segments acknowledged reduces from the 80`, () => {
      const { d, from } = allSent(congestion);
      const t = d.tcb!;
      d.run(10);
      // One ACK: the first 70 acknowledged, 72..80 SACKed: 70..72 are lost, 10 segments in flight.
      d.send({ flags: ACK, seq: 1, ack: from + 70 * mss, sack: [[from + 72 * mss, from + 80 * mss]] });
      assertEquals(t.cc.inRecovery, true);
      assertEquals(t.flight, 10 * mss);
      assertEquals(t.cc.ssthresh, Math.floor(80 * mss * beta));
    });
  }

  test("a loss found while the window is in flight reduces from the flight, as before", () => {
    const { d, from } = allSent("newreno");
    const t = d.tcb!;
    d.run(10);
    // The first 2 lost, 2..10 SACKed: 80 segments in flight.
    d.send({ flags: ACK, seq: 1, ack: from, sack: [[from + 2 * mss, from + 10 * mss]] });
    assertEquals(t.cc.inRecovery, true);
    assertEquals(t.cc.ssthresh, 40 * mss);
  });
});
