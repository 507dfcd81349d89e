// TCP options in use, segment by segment: MSS (RFC 9293 3.7.1), window
// scaling and timestamps with PAWS (RFC 7323), SACK (RFC 2018).
import { assert, assertEquals } from "@std/assert";
import { describe, test } from "./harness.ts";
import { ACK, established, PSH, RST, SYN, synSent } from "./tcp_dialogue.ts";

describe("RFC 7323, RFC 2018 and MSS options", () => {
  test("MSS option clamps segment size (RFC 9293 3.7.1)", () => {
    const d = established({ peer: { mss: 1000 } });
    d.write(3000);
    d.expect({ flags: ACK, seq: 1, len: 1000 });
    d.expect({ flags: ACK, seq: 1001, len: 1000 });
    d.expect({ flags: ACK | PSH, seq: 2001, len: 1000 }); // the last of the queued data
    d.recvNothing(10);
  });

  test("MSS: the timestamp option takes its 12 bytes out of the segment's payload (RFC 9293 3.7.1, RFC 6691)", () => {
    const d = established({ peer: { mss: 1000, timestamps: true } });
    d.write(988 * 2);
    d.expect({ seq: 1, len: 988 });
    d.expect({ seq: 989, len: 988 });
  });

  test("MSS: without the option, the peer's MSS is 536 (RFC 9293 3.7.1)", () => {
    const d = established({ peer: { mss: -1 } });
    d.write(1072);
    d.expect({ seq: 1, len: 536 });
    d.expect({ seq: 537, len: 536 });
  });

  test("window scaling: advertised window is shifted (RFC 7323 2.3)", () => {
    const d = established({ peer: { ws: 7 }, tcp: { rcvBufBytes: 1 << 20 } });
    assertEquals(d.tcb!.rcvScale, 5, "the shift A offered in its SYN|ACK");
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 1000 });
    d.expect({ flags: ACK, ack: 1001, window: (1 << 20) >> 5 }, 50);
  });

  test("window scaling: the peer's window is scaled by its shift, but never in its SYN|ACK (RFC 7323 2.2, 2.3)", () => {
    const d = synSent({ peer: { ws: 2 }, tcp: { noDelay: true } });
    d.send({ flags: SYN | ACK, seq: 0, ack: 1, window: 1000, ...d.synOptions() });
    d.expect({ flags: ACK, seq: 1, ack: 1 });
    d.write(5000);
    d.expect({ seq: 1, len: 1000 }); // 1000 bytes, not 4000
    d.recvNothing(10);
    d.send({ flags: ACK, seq: 1, ack: 1001, window: 1000 }); // now 4000 bytes
    let sent = 0;
    while (d.queue.length > 0 || sent < 4000) sent += d.recv().payload.length;
    assertEquals(sent, 4000);
    d.recvNothing(10);
  });

  test("window scaling: a shift above 14 is taken as 14 (RFC 7323 2.3)", () => {
    const d = established({ peer: { ws: 15 } });
    d.send({ flags: ACK, seq: 1, ack: 1, window: 3 });
    assertEquals(d.tcb!.sndScale, 14);
    assertEquals(d.tcb!.sndWnd, 3 << 14);
  });

  test("timestamps: every segment carries TSval and echoes TS.Recent (RFC 7323 3.2, 4.3)", () => {
    const d = established({ peer: { timestamps: true } });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    const s = d.expect({ flags: ACK, ack: 101 }, 50);
    assertEquals(s.ts?.[1], ts);
    assert(Math.abs(s.ts![0] - s.at) <= 1, "TSval is A's clock in ms");
    d.write(10);
    const s2 = d.expect({ flags: ACK | PSH, len: 10 });
    assertEquals(s2.ts?.[1], ts);
    assert(Math.abs(s2.ts![0] - s2.at) <= 1);
  });

  test("timestamps: TS.Recent follows only segments covering Last.ACK.sent (RFC 7323 4.3)", () => {
    const d = established({ peer: { timestamps: true }, tcp: { rcvBufBytes: 65535 } });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    d.send({ flags: ACK, seq: 1101, ack: 1, payload: 100, ts: [ts + 1, d.lastTsA] }); // out of order
    const s = d.expect({ flags: ACK, ack: 101 });
    assertEquals(s.ts?.[1], ts, "a segment after Last.ACK.sent does not update TS.Recent");
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 1000, ts: [ts + 2, d.lastTsA] }); // fills the hole
    const s2 = d.expect({ flags: ACK, ack: 1201 });
    assertEquals(s2.ts?.[1], ts + 2);
  });

  test("PAWS: a segment with TSval older than TS.Recent is dropped with an ACK (RFC 7323 5.3)", () => {
    const d = established({ peer: { timestamps: true } });
    const ts = d.tsB() + 100;
    d.send({ flags: ACK, seq: 1, ack: 1, payload: 100, ts: [ts, d.lastTsA] });
    d.expect({ ack: 101 }, 50);
    // Older by two ticks: one tick of lag passes (input.ts pawsWindowTicks, tcp_rfc_paws_test.ts).
    d.send({ flags: ACK, seq: 101, ack: 1, payload: 100, ts: [ts - 2, d.lastTsA] });
    const s = d.expect({ flags: ACK, seq: 1, ack: 101 });
    assertEquals(s.ts?.[1], ts);
    assertEquals(d.received.length, 100, "the old segment's data was not taken");
    assertEquals(d.tcp.counters.pawsDrops, 1);
  });

  test("PAWS does not apply to a RST (RFC 7323 5.3 R1)", () => {
    const d = established({ peer: { timestamps: true } });
    d.send({ flags: RST, seq: 1, ts: [1, 0] });
    d.recvNothing(10);
    assertEquals(d.state(), "CLOSED");
  });

  test("timestamps: a non-RST segment without TSopt on a timestamped connection is dropped (RFC 7323 3.2)", () => {
    // "If a non-<RST> segment is received without a TSopt, a TCP SHOULD silently drop the segment."
    const d = established({ peer: { timestamps: true } });
    d.send({ flags: ACK | PSH, seq: 1, ack: 1, payload: 100, ts: false });
    d.recvNothing(100);
    assertEquals(d.received, []);
  });

  test("without timestamps negotiated, no segment carries them (RFC 7323 3.2)", () => {
    const d = established();
    d.write(10);
    d.expect({ len: 10, ts: undefined });
    d.send({ flags: ACK, seq: 1, ack: 11, payload: 10 });
    d.expect({ ack: 11, ts: undefined }, 50);
  });

  test("SACK: A retransmits only the hole the peer's SACK blocks leave (RFC 6675 5, RFC 2018 3)", () => {
    // DupThresh decides here; RACK would mark the hole lost after a fraction of an RTT (tcp_rack_test.ts).
    const d = established({ peer: { sackPermitted: true }, tcp: { lossDetection: "rfc6675" } });
    d.write(5 * 1460);
    for (let i = 0; i < 5; i++) d.expect({ seq: 1 + 1460 * i, len: 1460 });
    // The first segment was lost; the peer SACKs each later one as it arrives.
    for (let i = 2; i <= 3; i++) {
      d.send({ flags: ACK, seq: 1, ack: 1, sack: [[1461, 1 + 1460 * i]] });
      d.recvNothing(1);
    }
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[1461, 1 + 1460 * 4]] });
    d.expect({ flags: ACK, seq: 1, len: 1460 });
    d.send({ flags: ACK, seq: 1, ack: 1, sack: [[1461, 1 + 1460 * 5]] });
    d.recvNothing(1);
    d.send({ flags: ACK, seq: 1, ack: 1 + 1460 * 5 });
    d.recvNothing(2000); // nothing SACKed is sent again, and no timeout follows
    assertEquals(d.tcb!.sendq.bytes, 0);
  });
});
