// RACK-TLP (RFC 8985), segment by segment on the virtual clock: time-based
// loss marking with the reordering window and its D-SACK adaptation
// (6.2), the tail loss probe (7), a lost retransmission found without a
// timeout; and restart after idle (RFC 5681 4.1). The peer (B) takes 20 ms
// to complete the handshake, so SRTT starts at 20 ms and the RTO at its
// 200 ms floor.
import { assertAlmostEquals, assertEquals, assertNotEquals, assertStrictEquals } from "@std/assert";
import { Rack, recycleRack, takeRack } from "../src/tcp/rack.ts";
import { ptoMinMs, tlpMaxAckDelayMs } from "../src/tcp/tlp.ts";
import { describe, test } from "./harness.ts";
import { ACK, type Seg, synReceived } from "./tcp_dialogue.ts";
import { at, mss, rackEstablished, writeSegments } from "./tcp_rack_dialogue.ts";

describe("RACK-TLP (RFC 8985)", () => {
  test("RACK marks a segment lost once RACK.rtt + reo_wnd passed since it was sent, not before (RFC 8985 6.2 step 5)", () => {
    const d = rackEstablished();
    writeSegments(d, 4);
    d.run(20);
    // The second segment arrived, the first not: 20 ms RTT, reo_wnd = min_RTT / 4 = 5 ms.
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(2)]] });
    const t0 = d.now;
    d.recvNothing(4.5);
    const s = d.expect({ flags: ACK, seq: at(0), len: mss }, 1);
    assertAlmostEquals(s.at - t0, 5, 1.5);
    assertEquals(d.tcb!.stats.rackLosses, 1);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("RACK: with DupThresh segments SACKed and no reordering seen, the hole is lost at once (RFC 8985 6.2 step 4)", () => {
    const d = rackEstablished();
    writeSegments(d, 5);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(2)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(3)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(4)]] });
    d.expect({ seq: at(0), len: mss }, 0.5);
  });

  test("RACK: a D-SACK widens the reordering window, reo_wnd_mult += 1 (RFC 8985 6.2 step 4)", () => {
    const d = rackEstablished();
    writeSegments(d, 4);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(2)]] });
    d.expect({ seq: at(0), len: mss }, 6); // marked lost after 5 ms
    // It was only late: everything arrived, and the retransmission is reported as a duplicate.
    d.send({ flags: ACK, seq: 1, ack: at(4), sack: [[at(0), at(1)]] });
    assertEquals(d.tcb!.rack!.reoWndMult, 2);
    assertEquals(d.tcb!.rack!.reoWndPersist, 16);
    d.run(1);
    writeSegments(d, 2, 4); // cwnd is ssthresh now: two segments
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(4), sack: [[at(5), at(6)]] });
    const t0 = d.now;
    d.recvNothing(9.5); // 2 * min_RTT / 4 = 10 ms now
    const s = d.expect({ seq: at(4), len: mss }, 1);
    assertAlmostEquals(s.at - t0, 10, 1.5);
  });

  test("TLP: the probe goes at PTO = 2*SRTT + 2 ms; a second at twice the PTO; then the RTO (RFC 8985 7.2, 7.3)", () => {
    const d = rackEstablished();
    const segs = writeSegments(d, 3);
    // No new data: the highest segment again.
    const p = d.expect({ seq: at(2), len: mss }, 50);
    const pto = 2 * d.tcb!.rto.srttMs + ptoMinMs;
    assertAlmostEquals(p.at - segs[2].at, pto, 0.5);
    assertEquals(d.tcb!.stats.tlpProbes, 1);
    // Unanswered: one more probe after twice the PTO (tlp.ts tlpProbesMax); a third, 4 PTOs later,
    // would go more than an RTO after the first: no more for this tail.
    const p2 = d.expect({ seq: at(2), len: mss }, 2 * pto + 2);
    assertAlmostEquals(p2.at - p.at, 2 * pto, 0.5);
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    // The RTO, re-armed when the second probe went, is next.
    d.recvNothing(199);
    const r = d.expect({ seq: at(0), len: mss }, 2);
    assertAlmostEquals(r.at - p2.at, 200, 1.5);
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
  });

  test("TLP: on a path of 2 ms, four probes, each after twice the wait before, all within an RTO of the first; then the RTO (beyond RFC 8985 7.3)", () => {
    const d = synReceived({ peer: { sackPermitted: true } });
    d.run(2);
    d.send({ flags: ACK, seq: 1, ack: 1 });
    const segs = writeSegments(d, 3);
    const pto = 2 * d.tcb!.rto.srttMs + ptoMinMs;
    let last = segs[2].at;
    for (let k = 0; k < 4; k++) {
      const p = d.expect({ seq: at(2), len: mss }, (1 << k) * pto + 1);
      assertAlmostEquals(p.at - last, (1 << k) * pto, 0.5);
      last = p.at;
    }
    assertEquals(d.tcb!.stats.tlpProbes, 4);
    d.recvNothing(199);
    d.expect({ seq: at(0), len: mss }, 2);
    assertEquals(d.tcb!.stats.tlpProbes, 4);
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
  });

  test("TLP: the probe sends new data when the send queue and the window have some (RFC 8985 7.3)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    d.write(11 * mss); // ten go (the initial window), one waits for the window
    for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
    d.expect({ seq: at(10), len: mss }, 50);
  });

  test("TLP: a probe that repairs the tail avoids the RTO (RFC 8985 7.4)", () => {
    const d = rackEstablished();
    writeSegments(d, 4);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(2) }); // the last two were lost
    const p = d.expect({ seq: at(3), len: mss }, 50); // the probe: the last segment again
    d.run(25); // (an answer sooner than min_RTT would be for the original: RFC 8985 6.2 step 2)
    d.send({ flags: ACK, seq: 1, ack: at(2), sack: [[at(3), at(4)]] });
    // RACK: the third was sent before the probe that arrived.
    const r = d.expect({ seq: at(2), len: mss }, 10);
    assertEquals(r.at < p.at + 40, true);
    d.send({ flags: ACK, seq: 1, ack: at(4) });
    d.recvNothing(1000);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
    assertEquals(d.tcb!.stats.tlpProbes, 1);
    assertEquals(d.tcb!.sendq.bytes, 0);
  });

  test("RACK: a lost retransmission is found by RACK (a segment sent after it was delivered), not by the RTO (RFC 8985 2.2)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    d.write(20 * mss);
    for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
    d.run(20);
    // The first is lost; three SACKs mark it lost at once.
    for (let k = 2; k <= 4; k++) d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(k)]] });
    const r1 = d.expect({ seq: at(0), len: mss });
    // Its retransmission is lost too. The peer SACKs the rest; PRR lets new data go.
    let fresh: Seg | undefined;
    for (let k = 5; k <= 10 && fresh === undefined; k++) {
      d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(k)]] });
      while (d.queue.length > 0) {
        const s = d.recv();
        if (s.seq >= at(10)) fresh ??= s;
      }
    }
    if (fresh === undefined) throw new Error("no new data was sent in recovery");
    assertEquals(fresh.at > r1.at, true);
    d.run(20);
    d.queue.length = 0; // what else PRR let go meanwhile
    // A segment sent after the retransmission arrived: the retransmission is lost.
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(10)], [fresh.seq, fresh.seq + mss]] });
    d.expect({ seq: at(0), len: mss }, 1);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("RACK after an RTO: only the holes go again, not what the peer SACKed (RFC 8985 6.3)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    writeSegments(d, 8);
    d.run(20);
    // Segments 0 and 3 are lost: RACK marks both (DupThresh SACKed), and both retransmissions are lost too.
    for (let k = 5; k <= 8; k++) {
      d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(k)], [at(1), at(3)]] });
    }
    d.expect({ seq: at(0), len: mss });
    d.expect({ seq: at(3), len: mss }, 5);
    d.queue.length = 0;
    // Nothing sent after them can tell. The recovery's two probes (tlp.ts) resend the segment at
    // SND.UNA and are lost too; then the RTO fires, and sends the first hole.
    d.expect({ seq: at(0), len: mss }, 50);
    const p2 = d.expect({ seq: at(0), len: mss }, 100);
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    const r = d.expect({ seq: at(0), len: mss }, 250);
    assertAlmostEquals(r.at - p2.at, 200, 1.5);
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
    d.recvNothing(1);
    d.send({ flags: ACK, seq: 1, ack: at(3), sack: [[at(4), at(8)]] });
    // Then the second hole, and nothing the peer holds: segments 4..7 are not sent again.
    const h = d.expect({ seq: at(3), len: mss }, 1);
    assertEquals(h.at - r.at < 5, true);
    d.recvNothing(1);
    d.send({ flags: ACK, seq: 1, ack: at(8) });
    d.recvNothing(300);
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
    assertEquals(d.tcb!.sendq.bytes, 0);
  });

  test("RACK after an RTO: a lost retransmission is found by RACK, not by a second RTO (RFC 8985 6.3, 6.2)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    writeSegments(d, 1);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(1) }); // RACK's first RTT sample: min_RTT 20 ms
    writeSegments(d, 4, 1); // the whole tail is lost, and both probes too
    d.expect({ seq: at(4), len: mss }, 50);
    d.expect({ seq: at(4), len: mss }, 100);
    const r = d.expect({ seq: at(1), len: mss }, 250); // the RTO: segment 1 again, cwnd one segment
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(2) });
    // Slow start: two segments now, the next holes; the first of them is lost again.
    d.expect({ seq: at(2), len: mss });
    const s2 = d.expect({ seq: at(3), len: mss });
    d.run(25); // (sooner than min_RTT would not count: RFC 8985 6.2 step 2)
    d.send({ flags: ACK, seq: 1, ack: at(2), sack: [[at(3), at(4)]] });
    // The room the SACK made goes to the last hole the RTO marked, segment 4.
    d.expect({ seq: at(4), len: mss });
    // Segment 2's retransmission left with segment 3's, which arrived: once reo_wnd (min_RTT / 4)
    // passed, RACK marks it lost and it goes again, long before a second RTO would.
    const again = d.expect({ seq: at(2), len: mss }, 10);
    assertAlmostEquals(again.at - s2.at, 25 + 5, 1.5);
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
    assertEquals(again.at - r.at < 100, true);
  });

  test("RACK: of a large segment the peer SACKed in part, only the missing part is lost (RFC 8985 6.2)", () => {
    const r = new Rack();
    r.sent(0, 10_000, 0); // one large segment, ten of 1000 bytes on the wire
    r.sent(10_000, 11_000, 1);
    // The first piece was lost; the rest of the large segment and the next one arrived.
    r.onAck(0, new Uint32Array([1000, 11_000]), 1, 0, 0, false, 20);
    assertEquals(r.segsSacked, 2);
    r.updateReoWnd(0, 11_000, false, false, 19); // min_RTT 19 ms: reo_wnd 4.75 ms
    assertEquals(r.detectLoss(30), 0);
    assertEquals(r.lostBytes, 1000);
    assertEquals(r.firstLost(0), true);
    assertEquals([r.segSeq, r.segEnd], [0, 1000]);
    // Sent again, it is no longer lost; the cumulative ACK then takes every piece.
    r.sent(0, 1000, 31);
    assertEquals(r.lostBytes, 0);
    r.onAck(11_000, new Uint32Array(0), 0, 0, 0, false, 50);
    assertEquals([r.segments, r.segsSacked], [0, 0]);
  });

  test("RACK: a Rack given back by an ended connection is taken again exactly as new, every field and its rate sampler", () => {
    const r = new Rack();
    r.sent(0, 10_000, 0);
    r.sent(10_000, 11_000, 1);
    r.onAck(0, new Uint32Array([1000, 11_000]), 1, 0, 0, false, 20);
    r.updateReoWnd(0, 11_000, true, true, 19);
    r.detectLoss(30);
    r.tlpActive = true;
    r.timerAt = 42;
    r.rate.markAppLimited(5000);
    const fresh = new Rack();
    const fields = (x: Rack) => ({ ...x, rate: { ...x.rate } });
    assertNotEquals(fields(r), fields(fresh));
    recycleRack(r);
    const again = takeRack();
    assertStrictEquals(again, r);
    assertEquals(fields(again), fields(fresh));
    assertEquals([again.segments, again.headSentAt], [0, -Infinity]);
  });

  test("RACK: the lost part of a large segment goes again as one large segment where the link cuts them (RFC 8985 6.2, as Linux resends a TSO buffer)", () => {
    const d = rackEstablished({ segmentation: 65000 });
    writeSegments(d, 10); // the initial window, as one large segment
    assertEquals(d.tcb!.stats.largeSegsOut, 1);
    d.run(20);
    // The first four were lost (one burst, as a router drops a GSO packet): the rest arrive.
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(5)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(6)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(10)]] });
    // DupThresh segments SACKed: the four are lost at once, and PRR's quota has room for them.
    for (let i = 0; i < 4; i++) d.expect({ seq: at(i), len: mss }, 0.5);
    d.recvNothing(1);
    // One record of four segments for the link to cut, not four turns of the recovery loop.
    assertEquals(d.tcb!.stats.largeSegsOut, 2);
    assertEquals(d.tcb!.stats.retransSegs, 4);
    d.send({ flags: ACK, seq: 1, ack: at(10) });
    assertEquals(d.tcb!.rack!.lostBytes, 0);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("RACK: DupThresh counts SACKed segments of the MSS, not large segments: one SACK of six in one large segment marks the hole lost at once (RFC 8985 6.2 step 4)", () => {
    const d = rackEstablished({ segmentation: 65000 });
    writeSegments(d, 10); // one large segment
    d.run(20);
    // Six segments of the large one SACKed in one ACK: the hole is lost now, not after reo_wnd (5 ms).
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(10)]] });
    d.expect({ seq: at(0), len: mss }, 0.5);
    assertEquals(d.tcb!.rack!.reoWnd, 0);
  });

  test("TLP in fast recovery: a large retransmission lost whole after a probe's ACK gets the next probe, not the RTO (RFC 8985 7.3, 6.2 step 5)", () => {
    const d = rackEstablished({ segmentation: 65000 });
    writeSegments(d, 10);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(5)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(6)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(10)]] });
    for (let i = 0; i < 4; i++) d.expect({ seq: at(i), len: mss }, 0.5); // one large segment: lost whole
    // Nothing more arrives and nothing is left to send: the probe, the segment at SND.UNA.
    const p = d.expect({ seq: at(0), len: mss }, 2 * d.tcb!.rto.srttMs + ptoMinMs + 1);
    d.run(20 - (d.now - p.at));
    // Its ACK: the three behind it, sent before it, are lost (6.2 step 5); PRR's quota lets two go
    // again, as one large segment.
    d.send({ flags: ACK, seq: 1, ack: at(1), sack: [[at(4), at(10)]] });
    for (let i = 1; i < 3; i++) d.expect({ seq: at(i), len: mss }, 0.5);
    assertEquals(d.tcb!.stats.largeSegsOut, 3);
    // Lost whole again, with nothing sent after it: the probe episode of the first probe is not over
    // (SND.UNA is below its end), yet an RTT sample came since, so a probe goes at the PTO.
    const p2 = d.expect({ seq: at(1), len: mss }, 2 * d.tcb!.rto.srttMs + ptoMinMs + 1);
    d.run(20 - (d.now - p2.at));
    d.send({ flags: ACK, seq: 1, ack: at(2), sack: [[at(4), at(10)]] });
    for (let i = 2; i < 4; i++) d.expect({ seq: at(i), len: mss }, 0.5);
    d.recvNothing(19);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(10) });
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
    assertEquals(d.tcb!.flight, 0);
  });

  test("TLP in fast recovery: with new data to send, a retransmission lost whole after a probe's ACK gets a probe of new data, whose SACK shows it lost (RFC 8985 7.3, 6.2 step 5)", () => {
    const d = rackEstablished({ segmentation: 65000 });
    writeSegments(d, 10);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(5)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(6)]] });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(10)]] });
    for (let i = 0; i < 4; i++) d.expect({ seq: at(i), len: mss }, 0.5); // lost whole
    d.write(10 * mss, at(10) - 1);
    d.expect({ seq: at(10), len: mss }, 0.5); // PRR's room
    // Nothing arrives: the probe, new data.
    const p = d.expect({ seq: at(11), len: mss }, 2 * d.tcb!.rto.srttMs + ptoMinMs + 1);
    d.run(20 - (d.now - p.at));
    // The new data arrived, the retransmission not: RACK marks it lost, and three go again as one
    // large segment (PRR's quota).
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(12)]] });
    for (let i = 0; i < 3; i++) d.expect({ seq: at(i), len: mss }, 0.5);
    assertEquals(d.tcb!.stats.largeSegsOut, 3);
    // Lost whole too, with nothing sent after it: the first probe's episode is open (SND.UNA is
    // below its end), yet an RTT sample came since, so a probe of new data goes at the PTO...
    const p2 = d.expect({ seq: at(12), len: mss }, 2 * d.tcb!.rto.srttMs + ptoMinMs + 1);
    d.run(20 - (d.now - p2.at));
    // ...and its SACK shows the retransmission lost (sent before it).
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(4), at(13)]] });
    for (let i = 0; i < 2; i++) d.expect({ seq: at(i), len: mss }, 0.5);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(2), sack: [[at(4), at(13)]] });
    for (let i = 2; i < 4; i++) d.expect({ seq: at(i), len: mss }, 0.5);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(13) });
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("TLP after recovery: a retransmission past the recovery point, lost again once SND.UNA passed that point, gets a probe though data above it is SACKed, not the RTO (RFC 8985 7.3, beyond 7.2)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    d.write(13 * mss);
    for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
    d.run(20);
    // Segment 1 is lost: DupThresh SACKed segments start a recovery up to the end of segment 9.
    // As the SACKs come, PRR lets its retransmission and segments 10 to 12 go.
    const sent: number[] = [];
    const drain = () => {
      while (d.queue.length > 0) sent.push((d.recv().seq - 1) / mss);
    };
    for (let k = 5; k <= 10; k++) {
      d.send({ flags: ACK, seq: 1, ack: at(1), sack: [[at(2), at(k)]] });
      drain();
    }
    assertEquals(sent, [1, 10, 11, 12]);
    d.run(5);
    // Segment 10 is lost too: 11 and 12, sent after it, arrive, and RACK marks it. The
    // retransmissions of 1 and 10 go while the recovery is still open.
    d.send({ flags: ACK, seq: 1, ack: at(1), sack: [[at(2), at(10)], [at(11), at(12)]] });
    d.send({ flags: ACK, seq: 1, ack: at(1), sack: [[at(2), at(10)], [at(11), at(13)]] });
    d.expect({ seq: at(1), len: mss }, 2);
    d.expect({ seq: at(10), len: mss }, 2);
    d.run(15);
    // Segment 1's retransmission arrives: SND.UNA passes the recovery point, the recovery ends,
    // with 10's retransmission in flight and 11 and 12 SACKed. That retransmission is lost: nothing
    // sent after it is left to arrive, so only a probe (the segment at SND.UNA) or the RTO can find it.
    d.send({ flags: ACK, seq: 1, ack: at(10), sack: [[at(11), at(13)]] });
    assertEquals(d.tcb!.cc.inRecovery, false);
    d.expect({ seq: at(10), len: mss }, 2 * d.tcb!.rto.srttMs + ptoMinMs + 1);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(13) });
    assertEquals(d.tcb!.flight, 0);
    assertEquals(d.tcb!.stats.tlpProbes, 1);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("TLP in fast recovery begun by the reordering timer: a lost retransmission of the hole gets a probe, not the RTO (RFC 8985 6.2 step 5, 7.3)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    writeSegments(d, 3);
    d.run(20);
    // Segments 1 and 2 arrive, 0 not: fewer than DupThresh SACKed, so the reordering timer marks
    // it lost (reo_wnd = min_RTT / 4 = 5 ms), the recovery begins, and 0 goes again.
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[at(1), at(3)]] });
    d.recvNothing(4.5);
    d.expect({ seq: at(0), len: mss }, 1);
    assertEquals(d.tcb!.cc.inRecovery, true);
    // That retransmission is lost too, and nothing follows it: the recovery probe at the PTO.
    d.expect({ seq: at(0), len: mss }, 2 * d.tcb!.rto.srttMs + ptoMinMs + 1);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(3) });
    assertEquals(d.tcb!.flight, 0);
    assertEquals(d.tcb!.stats.tlpProbes, 1);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("TLP: a probe's SACK echoing an older timestamp still lets RACK mark the hole before it lost, not the RTO (RFC 8985 6.2 step 2, RFC 7323 4.3)", () => {
    const d = rackEstablished({ peer: { timestamps: true } });
    const m = mss - 12; // the timestamp option's room
    const t = (i: number) => 1 + m * i;
    d.write(4 * m);
    const segs: Seg[] = [];
    for (let i = 0; i < 4; i++) segs.push(d.expect({ seq: t(i), len: m }));
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: t(2) }); // the last two were lost
    d.expect({ seq: t(3), len: m }, 50); // the probe: the last segment again
    d.run(20);
    // The probe arrived out of order: the receiver's TS.Recent is still segment 1's, and its SACK echoes
    // that (RFC 7323 4.3), older than the probe. The probe was sent after segment 2: segment 2 is lost.
    d.send({ flags: ACK, seq: 1, ack: t(2), sack: [[t(3), t(4)]], ts: [d.tsB(), segs[1].ts![0]] });
    d.expect({ seq: t(2), len: m }, 10);
    d.send({ flags: ACK, seq: 1, ack: t(4) });
    d.recvNothing(1000);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
    assertEquals(d.tcb!.stats.tlpProbes, 1);
    assertEquals(d.tcb!.sendq.bytes, 0);
  });

  test("TLP after an RTO: a lost retransmission of the timeout gets a probe at PTO, not the backed-off RTO (RFC 8985 6.3, beyond 7.2)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    writeSegments(d, 4);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(2) }); // the last two are lost, and both probes too
    d.expect({ seq: at(3), len: mss }, 50);
    d.expect({ seq: at(3), len: mss }, 100);
    const r = d.expect({ seq: at(2), len: mss }, 250); // the RTO: segment 2 again, cwnd one segment
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
    // Its retransmission is lost too: the probe resends it 2*SRTT + 2 ms later, before the RTO of 400 ms.
    const p = d.expect({ seq: at(2), len: mss }, 50);
    const pto = 2 * d.tcb!.rto.srttMs + ptoMinMs;
    assertAlmostEquals(p.at - r.at, pto, 0.5);
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(3) });
    d.expect({ seq: at(3), len: mss }, 1); // the last hole the timeout marked
    d.run(20);
    d.send({ flags: ACK, seq: 1, ack: at(4) });
    d.recvNothing(1000);
    assertEquals(d.tcb!.stats.retransTimeouts, 1);
    assertEquals(d.tcb!.stats.tlpRecoveries, 0); // the timeout reduced the window; the probe did not again
    assertEquals(d.tcb!.sendq.bytes, 0);
  });

  test("TLP: one segment in flight waits for a delayed ACK of at most 50 ms, not 200 (RFC 8985 7.2, WCDelAckT)", () => {
    const d = rackEstablished();
    const segs = writeSegments(d, 1); // a lone tail: the peer may hold its ACK
    const p = d.expect({ seq: at(0), len: mss }, 2 * d.tcb!.rto.srttMs + ptoMinMs + tlpMaxAckDelayMs + 1);
    assertEquals(tlpMaxAckDelayMs, 50);
    assertAlmostEquals(p.at - segs[0].at, 2 * d.tcb!.rto.srttMs + ptoMinMs + tlpMaxAckDelayMs, 0.5);
    assertEquals(d.tcb!.stats.tlpProbes, 1);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
  });

  test("TLP: a probe of new data that is lost gets another probe after the next RTT sample, not the RTO (RFC 8985 7.3, beyond 7.4)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    d.write(11 * mss); // ten go (the initial window), one waits for the window
    for (let i = 0; i < 10; i++) d.expect({ seq: at(i), len: mss });
    d.expect({ seq: at(10), len: mss }, 50); // the probe: new data; it is lost
    d.send({ flags: ACK, seq: 1, ack: at(10) }); // the first ten arrived: an RTT sample
    const pto = 2 * d.tcb!.rto.srttMs + ptoMinMs + tlpMaxAckDelayMs; // one segment in flight
    const t0 = d.now;
    const p = d.expect({ seq: at(10), len: mss }, pto + 1); // the tail again, not 200 ms later
    assertAlmostEquals(p.at - t0, pto, 0.5);
    assertEquals(d.tcb!.stats.tlpProbes, 2);
    d.send({ flags: ACK, seq: 1, ack: at(11) });
    d.recvNothing(1000);
    assertEquals(d.tcb!.stats.retransTimeouts, 0);
    assertEquals(d.tcb!.sendq.bytes, 0);
  });

  test("lossDetection rfc6675: no probe; the tail waits for the RTO", () => {
    const d = rackEstablished({ tcp: { lossDetection: "rfc6675" } });
    const segs = writeSegments(d, 3);
    const r = d.expect({ seq: at(0), len: mss }, 250);
    assertAlmostEquals(r.at - segs[0].at, 200, 1.5);
    assertEquals(d.tcb!.stats.tlpProbes, 0);
  });

  test("restart after idle: after more than an RTO of silence cwnd is min(IW, cwnd) (RFC 5681 4.1)", () => {
    const d = rackEstablished({ tcp: { congestion: "newreno" } });
    writeSegments(d, 10);
    d.send({ flags: ACK, seq: 1, ack: at(10) });
    const grown = d.tcb!.cc.cwnd;
    assertEquals(grown > 10 * mss, true);
    for (;;) {
      const s = d.queue.shift();
      if (s === undefined) break;
    }
    d.run(150);
    d.send({ flags: ACK, seq: 1, ack: at(10) }); // pure ACKs do not keep the connection from being idle
    d.run(100); // 250 ms since data last left: more than the 200 ms RTO
    d.write(20 * mss, at(10) - 1);
    for (let i = 0; i < 10; i++) d.expect({ seq: at(10 + i), len: mss });
    d.recvNothing(1);
    assertEquals(d.tcb!.cc.cwnd, 10 * mss);
    assertEquals(d.tcb!.stats.idleRestarts, 1);
  });
});
