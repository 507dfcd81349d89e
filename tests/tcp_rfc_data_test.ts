// Data and acknowledgments in ESTABLISHED, segment by segment: when A ACKs
// (RFC 9293 3.8.6.3, RFC 5681 4.2), which segments it accepts (RFC 9293
// 3.10.7.4), its windows (RFC 9293 3.8.6) and what it sends (Nagle, SWS).
import { assert, assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, established, pattern, PSH } from "./tcp_dialogue.ts";

const stream = (n: number) => Array.from(pattern(n, 1));

describe("RFC 9293 data and ACKs", () => {
  // A receive buffer of 65535 bytes is all a window without scaling can offer:
  // reading never grows the window, so no window update mixes into these dialogues.
  const small = { tcp: { rcvBufBytes: 65535 } };

  test("delayed ACK: one segment waits delayedAckMs for its ACK (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2)", () => {
    const d = established(small);
    const t0 = d.now;
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100 });
    const s = d.expect({ flags: ACK, seq: 1, ack: 101, len: 0 }, 50);
    assertEquals(Math.round(s.at - t0), 40);
    assertEquals(d.received, stream(100));
  });

  test("receiver SWS avoidance: reading data sends no ACK unless the window grows by min(RCV.BUFF/2, MSS) (RFC 9293 3.8.6.2.2)", () => {
    // Default buffer (1 MiB), peer without window scaling: the window is 65535 at most.
    const d = established();
    const t0 = d.now;
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100 }); // the application reads it at once
    const s = d.expect({ flags: ACK, seq: 1, ack: 101, len: 0 }, 50);
    assertEquals(Math.round(s.at - t0), 40, 'the delayed ACK, not an immediate "window update"');
    assertEquals(s.window, 65435, "the right edge stays where it was");
  });

  test("delayed ACK: two full segments are ACKed at once (RFC 9293 3.8.6.3, RFC 5681 4.2)", () => {
    const d = established({ ...small, autoRead: false }); // no reads: no window updates
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1460 });
    d.recvNothing(1);
    d.send({ flags: ACK, seq: 1461, ack: 1, payload: 1460 });
    d.expect({ flags: ACK, seq: 1, ack: 2921 });
    d.recvNothing(100);
    assertEquals(d.tcb!.recvq.bytes, 2920);
  });

  test("delayed ACK: two full segments of one burst owe an ACK at the burst's end, which the answer to a third carries (RFC 5681 4.2)", () => {
    const d = established(small);
    // The requester writes its next request once the whole answer is in (the hook runs before
    // the fixture reads what arrived).
    d.onData = (c) => {
      if (d.received.length + c.recvq.bytes === 3500) d.write(64);
    };
    d.sendBurst([
      { flags: ACK, seq: 1, ack: 1, payload: 1400 },
      { flags: ACK, seq: 1401, ack: 1, payload: 1400 },
      { flags: ACK | PSH, seq: 2801, ack: 1, payload: 700 },
    ]);
    d.expect({ flags: ACK | PSH, seq: 1, ack: 3501, len: 64 });
    d.recvNothing(100);
    assertEquals(d.received, stream(3500));
  });

  test("delayed ACK: two full segments of one burst, no answer: one ACK, at the burst's end (RFC 5681 4.2)", () => {
    const d = established({ ...small, autoRead: false });
    d.sendBurst([
      { flags: ACK, seq: 1, ack: 1, payload: 1460 },
      { flags: ACK, seq: 1461, ack: 1, payload: 1460 },
      { flags: ACK, seq: 2921, ack: 1, payload: 1460 },
    ]);
    d.expect({ flags: ACK, seq: 1, ack: 4381 });
    d.recvNothing(100);
  });

  test("delayed ACK: bulk in one burst is ACKed as it arrives once more than a small answer's worth waits (RFC 5681 4.2)", () => {
    const d = established({ ...small, autoRead: false });
    const segs = [];
    for (let i = 0; i < 8; i++) segs.push({ flags: ACK, seq: 1 + i * 1460, ack: 1, payload: 1460 });
    d.sendBurst(segs);
    // 8760 bytes (six segments) pass the hold's 8192: ACKed at once; the last two wait for the burst's end.
    d.expect({ flags: ACK, seq: 1, ack: 8761 });
    d.expect({ flags: ACK, seq: 1, ack: 11681 });
    d.recvNothing(100);
  });

  test("delayed ACK: the ACK rides on data the application sends back (RFC 9293 3.8.6.3, RFC 1122 4.2.3.2)", () => {
    const d = established(small);
    d.onData = () => d.write(50);
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100 });
    d.expect({ flags: ACK | PSH, seq: 1, ack: 101, len: 50 });
    d.recvNothing(100);
  });

  test("ESTABLISHED: out-of-order segment is ACKed at once with the hole (RFC 5681 4.2), and with a SACK block (RFC 2018 4)", () => {
    const d = established({ peer: { sackPermitted: true } });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 500 });
    d.expect({ flags: ACK, seq: 1, ack: 1, sack: [[1001, 1501]] });
    // The block of the most recent arrival comes first (RFC 2018 4).
    d.send({ flags: ACK, seq: 2001, ack: 1, payload: 500 });
    d.expect({ flags: ACK, seq: 1, ack: 1, sack: [[2001, 2501], [1001, 1501]] });
    assertEquals(d.received, []);
  });

  test("ESTABLISHED: with SACK, the out-of-order segments of one burst are ACKed once, at its end, the last arrival's block first (RFC 5681 4.2, RFC 2018 4)", () => {
    const d = established({ peer: { sackPermitted: true }, autoRead: false });
    const segs = [];
    for (let i = 1; i <= 6; i++) segs.push({ flags: ACK, seq: 1 + i * 1460, ack: 1, payload: 1460 });
    segs.push({ flags: ACK, seq: 1 + 9 * 1460, ack: 1, payload: 1460 }); // past a second hole
    d.sendBurst(segs);
    d.expect({ flags: ACK, seq: 1, ack: 1, sack: [[1 + 9 * 1460, 1 + 10 * 1460], [1461, 1 + 7 * 1460]] });
    d.recvNothing(100);
    // The hole before them fills: ACKed at once, up to the next hole.
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1460 });
    d.expect({ flags: ACK, seq: 1, ack: 1 + 7 * 1460, sack: [[1 + 9 * 1460, 1 + 10 * 1460]] });
  });

  test("ESTABLISHED: a burst that grows more out-of-order ranges than an ACK reports is ACKed before the one that does not fit (RFC 2018 4, RFC 5681 4.2)", () => {
    // Timestamps leave room for 3 blocks. Four ranges grow in one burst (the first one twice, so
    // its right edge moved after any earlier report): the burst's one ACK would have left the
    // oldest out, and the sender would have retransmitted it.
    const d = established({ peer: { sackPermitted: true, timestamps: true }, autoRead: false });
    const ts = d.tsB() + 10;
    const seg = (seq: number) => ({
      flags: ACK,
      seq,
      ack: 1,
      payload: 1000,
      ts: [ts, d.lastTsA] as [number, number],
    });
    d.sendBurst([seg(1001), seg(2001), seg(4001), seg(6001), seg(8001)]);
    d.expect({ flags: ACK, ack: 1, sack: [[6001, 7001], [4001, 5001], [1001, 3001]] });
    d.expect({ flags: ACK, ack: 1, sack: [[8001, 9001], [6001, 7001], [4001, 5001]] });
    d.recvNothing(100);
    assertEquals(d.tcp.counters.sackAcksEarly, 1);
  });

  test("ESTABLISHED: without SACK, each out-of-order segment of a burst is a duplicate ACK of its own (RFC 5681 4.2, 3.2)", () => {
    const d = established({ autoRead: false });
    const segs = [];
    for (let i = 1; i <= 3; i++) segs.push({ flags: ACK, seq: 1 + i * 1460, ack: 1, payload: 1460 });
    d.sendBurst(segs);
    for (let i = 0; i < 3; i++) d.expect({ flags: ACK, seq: 1, ack: 1, sack: [] });
    d.recvNothing(100);
  });

  test("ESTABLISHED: a segment filling a hole is ACKed at once, up to the next hole (RFC 5681 4.2, RFC 2018 4)", () => {
    const d = established({ peer: { sackPermitted: true } });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 500 });
    d.expect({ ack: 1, sack: [[1001, 1501]] });
    d.send({ flags: ACK, seq: 2001, ack: 1, payload: 500 });
    d.expect({ ack: 1, sack: [[2001, 2501], [1001, 1501]] });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.expect({ flags: ACK, seq: 1, ack: 1501, sack: [[2001, 2501]] });
    d.send({ flags: ACK, seq: 1501, ack: 1, payload: 500 });
    d.expect({ flags: ACK, seq: 1, ack: 2501, sack: [] });
    assertEquals(d.received, stream(2500));
  });

  test("RFC 2883 4: a duplicate wholly below RCV.NXT is ACKed at once with a D-SACK block, nothing being out of order", () => {
    const d = established({ peer: { sackPermitted: true } });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ ack: 101, sack: [] }, 50);
    // The sender retransmits (or probes with) what arrived already: the ACK says so.
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 101, sack: [[1, 101]] });
    // Reported once: the next ACK carries no block.
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100 });
    d.expect({ ack: 201, sack: [] }, 50);
    assertEquals(d.received, stream(200));
  });

  test("RFC 2883 4: a segment partly below RCV.NXT is ACKed at once, its old bytes in a D-SACK block", () => {
    const d = established({ peer: { sackPermitted: true } });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 200 });
    d.expect({ flags: ACK, seq: 1, ack: 201, sack: [[1, 101]] });
    assertEquals(d.received, stream(200));
  });

  test("RFC 2883 4: a duplicate below RCV.NXT comes first, then the blocks of what is held out of order", () => {
    const d = established({ peer: { sackPermitted: true } });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 201, ack: 1, payload: 100 });
    d.expect({ ack: 101, sack: [[201, 301]] });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ ack: 101, sack: [[1, 101], [201, 301]] });
  });

  test("RFC 2883 4: without SACK-permitted a duplicate is ACKed with no block", () => {
    const d = established();
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 101, sack: [] });
  });

  test("ESTABLISHED: without SACK-permitted, ACKs carry no SACK blocks (RFC 2018 2)", () => {
    const d = established();
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 500 });
    d.expect({ flags: ACK, seq: 1, ack: 1, sack: [] });
  });

  test("ESTABLISHED: an old duplicate segment is ACKed at once and not delivered twice (RFC 9293 3.10.7.4 first)", () => {
    const d = established();
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 101 });
    assertEquals(d.received, stream(100));
  });

  test("ESTABLISHED: a segment beyond the window is dropped and ACKed (RFC 9293 3.10.7.4 first)", () => {
    const d = established();
    d.send({ flags: ACK, seq: 70_000, ack: 1, payload: 100 });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    d.recvNothing(100);
    assertEquals(d.received, []);
  });

  test("ESTABLISHED: a segment straddling the right window edge is cut to the window (RFC 9293 3.10.7.4 seventh)", () => {
    const d = established({ tcp: { rcvBufBytes: 1000 }, autoRead: false });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1400 });
    d.expect({ flags: ACK, seq: 1, ack: 1001, window: 0 }, 50);
    assertEquals(d.tcb!.recvq.bytes, 1000);
  });

  test("zero receive window: data is refused with <ACK=RCV.NXT> and window 0 (RFC 9293 3.10.7.4 first, 3.8.6.1)", () => {
    const d = established({ tcp: { rcvBufBytes: 2000 }, autoRead: false });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 1000 });
    d.expect({ flags: ACK, seq: 1, ack: 2001, window: 0 });
    d.send({ flags: ACK, seq: 2001, ack: 1, payload: 1 }); // the peer's window probe
    d.expect({ flags: ACK, seq: 1, ack: 2001, window: 0 });
    assertEquals(d.tcb!.recvq.bytes, 2000);
  });

  test("window update: reading a full buffer reopens the window, and A says so (RFC 9293 3.8.6.2.2)", () => {
    const d = established({ tcp: { rcvBufBytes: 2000 }, autoRead: false });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 1000 });
    d.expect({ ack: 2001, window: 0 });
    d.tcp.read(d.tcb!, new Uint8Array(500), d.now);
    d.recvNothing(100); // 500 bytes is less than min(buffer/2, MSS): receiver SWS avoidance
    d.tcp.read(d.tcb!, new Uint8Array(1500), d.now);
    d.expect({ flags: ACK, seq: 1, ack: 2001, window: 2000 });
  });

  test("window update: reads in pieces then a write: the write carries the window, no pure ACK before it (RFC 9293 3.8.6.2.2)", () => {
    const d = established({ tcp: { rcvBufBytes: 2000 }, autoRead: false });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 1000 });
    d.expect({ ack: 2001, window: 0 });
    // As a storage client reads a 64 KiB answer one received piece at a time, then asks again:
    // the update owed by the first piece waits for the end of the loop's iteration.
    d.tcp.read(d.tcb!, new Uint8Array(1000), d.now);
    d.tcp.read(d.tcb!, new Uint8Array(1000), d.now);
    d.write(64);
    d.expect({ flags: ACK | PSH, seq: 1, ack: 2001, len: 64, window: 2000 });
    d.recvNothing(100);
  });

  test("window update: one owed and not carried leaves at the loop's next iteration (RFC 9293 3.8.6.2.2)", () => {
    const d = established({ tcp: { rcvBufBytes: 2000 }, autoRead: false });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 1000 });
    d.expect({ ack: 2001, window: 0 });
    const t0 = d.now;
    d.tcp.read(d.tcb!, new Uint8Array(2000), d.now);
    const s = d.expect({ flags: ACK, seq: 1, ack: 2001, len: 0, window: 2000 }, 50);
    assert(s.at - t0 < 1, `at the next poll, not after a delayed ACK's wait: ${s.at - t0} ms`);
    d.recvNothing(100);
  });

  test("zero receive window: the ACK field of a probe A cannot take is still processed (RFC 9293 3.10.7.4 first)", () => {
    // "If the RCV.WND is zero, no segments will be acceptable, but special
    // allowance should be made to accept valid ACKs, URGs, and RSTs."
    const d = established({ tcp: { rcvBufBytes: 2000 }, autoRead: false });
    d.write(100);
    d.expect({ flags: ACK | PSH, seq: 1, ack: 1, len: 100 });
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.send({ flags: ACK, seq: 1001, ack: 1, payload: 1000 });
    d.expect({ ack: 2001, window: 0 });
    d.send({ flags: ACK, seq: 2001, ack: 101, payload: 1 });
    d.expect({ flags: ACK, seq: 101, ack: 2001, window: 0 });
    d.recvNothing(1000); // acknowledged: nothing to retransmit
  });

  test("ESTABLISHED: an ACK of new data frees it: no retransmission follows (RFC 9293 3.10.7.4 fifth, RFC 6298 5.2)", () => {
    const d = established();
    d.write(1000);
    d.expect({ flags: ACK | PSH, seq: 1, ack: 1, len: 1000, payload: pattern(1000) });
    d.send({ flags: ACK, seq: 1, ack: 1001 });
    assertEquals(d.tcb!.sendq.bytes, 0);
    d.recvNothing(5000);
  });

  test("PSH: only the segment carrying the last byte queued has it (RFC 9293 3.9.1), so a receiver's GRO merges the rest", () => {
    const d = established({ tcp: { noDelay: true } });
    d.write(3 * 1460);
    d.expect({ flags: ACK, seq: 1, len: 1460 });
    d.expect({ flags: ACK, seq: 1461, len: 1460 });
    d.expect({ flags: ACK | PSH, seq: 2921, len: 1460 });
    d.send({ flags: ACK, seq: 1, ack: 1 + 3 * 1460 });
    d.write(1460 + 100);
    d.expect({ flags: ACK, seq: 4381, len: 1460 });
    d.expect({ flags: ACK | PSH, seq: 5841, len: 100 });
    d.recvNothing(10);
  });

  test("Nagle: a small segment waits while data is unacknowledged (RFC 9293 3.7.4, RFC 1122 4.2.3.4)", () => {
    const d = established();
    d.write(1500);
    d.expect({ flags: ACK, seq: 1, len: 1460 }); // PSH goes on the segment that ends the queued data
    d.recvNothing(50);
    d.send({ flags: ACK, seq: 1, ack: 1461 });
    d.expect({ flags: ACK | PSH, seq: 1461, len: 40 });
  });

  test("send window: A sends no more than the peer's window, and resumes when it moves (RFC 9293 3.8.6, 3.10.7.4 fifth)", () => {
    const d = established({ window: 1000 });
    d.write(3000);
    d.expect({ seq: 1, len: 1000 });
    d.recvNothing(50);
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 1000 });
    d.expect({ seq: 1001, len: 1000 });
    d.recvNothing(50);
  });

  test("send window: a reordered older ACK does not change SND.WND (RFC 9293 3.10.7.4 fifth, SND.WL1/SND.WL2)", () => {
    const d = established({ tcp: { noDelay: true } });
    d.write(2000);
    d.expect({ seq: 1, len: 1460 });
    d.expect({ seq: 1461, len: 540 });
    d.send({ flags: ACK, seq: 1, ack: 2001, window: 5000 });
    d.send({ flags: ACK, seq: 1, ack: 1461, window: 0 }); // older: it left B before the one above
    d.write(1000);
    d.expect({ seq: 2001, len: 1000 });
  });

  test("send window: B's retransmission of older data carrying a new ACK and a larger window opens it at once (RFC 9293 3.10.7.4 fifth, as Linux's tcp_may_update_window)", () => {
    const d = established({ ...small, window: 1000 });
    d.write(1000);
    d.expect({ seq: 1, len: 1000 });
    d.write(500); // the right edge is at SND.NXT: they wait
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100 });
    d.send({ flags: ACK, seq: 201, ack: 1, payload: 100 }); // 101..200 lost: SND.WL1 = 201
    d.expect({ flags: ACK, seq: 1001, ack: 101, len: 0 });
    d.recvNothing(50);
    // B retransmits 101..200 after A's data reached it: SEG.SEQ < SND.WL1, SEG.ACK > SND.UNA.
    d.send({ flags: ACK, seq: 101, ack: 1001, payload: 100, window: 65535 });
    d.expect({ seq: 1001, ack: 301, len: 500 }, 1); // not a persist probe's time later
    assertEquals(d.tcb!.sndWnd, 65535);
    assertEquals(d.received, stream(300));
    // An older SEG.SEQ whose ACK moves nothing still gives no window (RFC 9293's check): a copy
    // of 101..400 that left B before its window opened, reordered behind the update.
    d.send({ flags: ACK, seq: 101, ack: 1001, payload: 300, window: 0 });
    d.recvAll(50);
    assertEquals(d.tcb!.sndWnd, 65535);
    assertEquals(d.received, stream(400));
  });

  test("sender SWS avoidance: a sliver of window waits for the override timeout (RFC 9293 3.8.6.2.1)", () => {
    const d = established();
    d.write(2920);
    d.expect({ seq: 1, len: 1460 });
    d.expect({ seq: 1461, len: 1460 });
    d.send({ flags: ACK, seq: 1, ack: 2921, window: 100 }); // 100 bytes: far below Fs * Max(SND.WND)
    const t0 = d.now;
    d.write(5000);
    d.recvNothing(150);
    const s = d.expect({ flags: ACK, seq: 2921, len: 100 }, 100); // 4900 bytes follow: no PSH
    assertEquals(Math.round(s.at - t0), 200);
  });

  test("the right window edge never moves left, with window scaling (RFC 9293 3.8.6, RFC 7323 2.4)", () => {
    const d = established({ peer: { ws: 7 }, autoRead: false });
    const shift = d.tcb!.rcvScale;
    assertEquals(shift, 5);
    let edge = 0;
    for (let i = 0; i < 20; i++) {
      d.send({ flags: ACK, seq: 1 + 1400 * i, ack: 1, payload: 1400 });
      d.run(50);
      while (d.queue.length > 0) {
        const s = d.recv();
        const right = s.ack + s.window * 2 ** shift;
        assert(right >= edge, `right edge moved left: ${right} < ${edge} (ack ${s.ack} win ${s.window})`);
        edge = right;
      }
    }
    assertEquals(d.tcb!.recvq.bytes, 28_000);
  });
});
